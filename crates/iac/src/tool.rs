//! The IaC tools beyond Terraform and CloudFormation that launch EC2 instances (their front
//! ends are in `tools`): names, SARIF ids, the literal of a fix and the source of each
//! default. A leaf: facts name their tool's syntax with it.

/// A tool whose files are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Eksctl,
    Capa,
    Crossplane,
    Ack,
    Packer,
    Ansible,
    Cdk,
    Pulumi,
}

impl Tool {
    pub const ALL: [Tool; 8] =
        [Tool::Eksctl, Tool::Capa, Tool::Crossplane, Tool::Ack, Tool::Packer, Tool::Ansible, Tool::Cdk, Tool::Pulumi];

    pub fn name(self) -> &'static str {
        match self {
            Tool::Eksctl => "eksctl",
            Tool::Capa => "Cluster API AWS",
            Tool::Crossplane => "Crossplane",
            Tool::Ack => "ACK",
            Tool::Packer => "Packer",
            Tool::Ansible => "Ansible",
            Tool::Cdk => "AWS CDK",
            Tool::Pulumi => "Pulumi",
        }
    }

    /// The middle of its SARIF rule ids (`IMDS-EKSCTL-001`).
    pub fn sarif(self) -> &'static str {
        match self {
            Tool::Eksctl => "EKSCTL",
            Tool::Capa => "CAPA",
            Tool::Crossplane => "XP",
            Tool::Ack => "ACK",
            Tool::Packer => "PACKER",
            Tool::Ansible => "ANSIBLE",
            Tool::Cdk => "CDK",
            Tool::Pulumi => "PULUMI",
        }
    }

    /// The tool of a record's type (`eksctl.io/v1alpha5/…`, `packer/amazon-ebs`, …).
    pub fn of(rtype: &str) -> Option<Tool> {
        let group = rtype.split('/').next().unwrap_or_default();
        Some(match group {
            "eksctl.io" => Tool::Eksctl,
            g if g.ends_with("cluster.x-k8s.io") => Tool::Capa,
            g if g.ends_with("upbound.io") || g.ends_with("aws.crossplane.io") => Tool::Crossplane,
            g if g.ends_with("services.k8s.aws") => Tool::Ack,
            "packer" => Tool::Packer,
            "ansible" => Tool::Ansible,
            "cdk" => Tool::Cdk,
            "pulumi" => Tool::Pulumi,
            _ => return None,
        })
    }

    /// Packer writes HCL (values quoted in reasons).
    pub fn hcl(self) -> bool {
        self == Tool::Packer
    }

    /// The literal that makes an unknown value known, in the tool's syntax.
    pub fn literal(self) -> &'static str {
        match self {
            Tool::Packer => "http_tokens = \"required\"",
            Tool::Ansible => "http_tokens: required",
            Tool::Eksctl => "disableIMDSv1: true",
            Tool::Cdk => "requireImdsv2: true",
            _ => "httpTokens: required",
        }
    }

    /// Where the tool's default is documented (for reasons and docs).
    pub fn source(self) -> &'static str {
        match self {
            Tool::Eksctl => "eksctl pkg/apis/eksctl.io/v1alpha5/defaults.go, since 0.143.0",
            Tool::Capa => "CAPA api/v1beta2/types.go: +kubebuilder:default=optional; no block sent: EC2's default",
            Tool::Crossplane => "the EC2 API default",
            Tool::Ack => "the EC2 API default",
            Tool::Packer => "packer-plugin-amazon builder/common/run_config.go",
            Tool::Ansible => "amazon.aws module documentation: default optional",
            Tool::Cdk => "aws-cdk-lib aws-ec2 requireImdsv2 (default false)",
            Tool::Pulumi => "the EC2 API default",
        }
    }
}
