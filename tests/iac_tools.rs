//! `imdswatch iac` on the IaC tools beyond Terraform and CloudFormation (issue 26): eksctl,
//! Cluster API AWS, Crossplane, ACK, Packer, Ansible, Pulumi YAML and AWS CDK. Each fixture in
//! tests/fixtures/iac/<tool>/ has a pass, a fail, a default and an unknown; every verdict and
//! line is asserted, and the reasons name the tool's own default and field.

#[path = "support/iac.rs"]
mod iac_support;

use iac_support::*;
use serde_json::Value;

fn reason(doc: &Value, resource: &str) -> String {
    record(doc, resource)["reason"].as_str().unwrap_or_default().to_string()
}

#[test]
fn eksctl_node_groups() {
    let doc = expect(
        &format!("{FIX}/eksctl"),
        3,
        &[
            // Not written: eksctl's default disableIMDSv1: true (since 0.143.0).
            ("ClusterConfig/demo/nodeGroups/ng-default", "pass", "cluster.yaml", 7),
            ("ClusterConfig/demo/nodeGroups/ng-legacy", "fail", "cluster.yaml", 11),
            // disablePodIMDS: true forces required whatever disableIMDSv1 says.
            ("ClusterConfig/demo/nodeGroups/ng-pod", "pass", "cluster.yaml", 14),
            ("ClusterConfig/demo/managedNodeGroups/mng-required", "pass", "cluster.yaml", 17),
            // A user-supplied launch template decides, and it is not in the file.
            ("ClusterConfig/demo/managedNodeGroups/mng-custom-lt", "unknown", "cluster.yaml", 18),
        ],
    );
    assert!(
        reason(&doc, "ClusterConfig/demo/nodeGroups/ng-default").contains("eksctl defaults HttpTokens to required")
    );
    assert!(
        reason(&doc, "ClusterConfig/demo/nodeGroups/ng-legacy").contains("disableIMDSv1: false → HttpTokens: optional")
    );
    let lt = record(&doc, "ClusterConfig/demo/managedNodeGroups/mng-custom-lt");
    assert!(lt["reason"].as_str().is_some_and(|r| r.contains("eksctl writes no metadata options")), "{lt}");
    assert_eq!(lt["fix"]["kind"], "set", "{lt}");
    let legacy = record(&doc, "ClusterConfig/demo/nodeGroups/ng-legacy");
    assert_eq!(legacy["fix"]["text"], "disableIMDSv1: true");
    assert_eq!(legacy["type"], "eksctl.io/v1alpha5/ClusterConfig.nodeGroups");
}

#[test]
fn cluster_api_aws_machines_and_pools() {
    let doc = expect(
        &format!("{FIX}/capa"),
        3,
        &[
            ("AWSMachineTemplate/md-required", "pass", "machines.yaml", 11),
            // No instanceMetadataOptions: EC2's (and CAPA's) default, optional.
            ("AWSMachineTemplate/md-default", "fail", "machines.yaml", 13),
            ("AWSMachine/bastion-optional", "fail", "machines.yaml", 28),
            ("AWSMachineTemplate/md-variable", "unknown", "machines.yaml", 38),
            // EKS managed node group without awsLaunchTemplate: EKS's own template.
            ("AWSManagedMachinePool/pool-eks-default", "fail", "pools.yaml", 1),
            // awsLaunchTemplate.metadataOptions is not a CAPA field: dropped.
            ("AWSManagedMachinePool/pool-misnamed", "fail", "pools.yaml", 9),
            ("AWSMachinePool/pool-required", "pass", "pools.yaml", 28),
            // A ClusterClass patch of the same file writes the tokens: only the topology knows.
            ("AWSMachineTemplate/quick-start-worker", "unknown", "clusterclass.yaml", 17),
            // CAPA launches the bastion without metadata options; no bastion, no record.
            ("AWSCluster/with-bastion/bastion", "fail", "bastion.yaml", 7),
            ("AWSManagedControlPlane/eks-bastion/bastion", "unknown", "bastion.yaml", 25),
            ("AWSClusterTemplate/class-bastion/bastion", "fail", "bastion.yaml", 34),
        ],
    );
    assert!(reason(&doc, "AWSManagedMachinePool/pool-eks-default").starts_with("no awsLaunchTemplate:"));
    assert!(reason(&doc, "AWSManagedMachinePool/pool-misnamed").contains("is not a CAPA field"));
    // The default's source is in the reason.
    assert!(
        reason(&doc, "AWSMachineTemplate/md-default")
            .ends_with("(CAPA api/v1beta2/types.go: +kubebuilder:default=optional; no block sent: EC2's default)")
    );
    assert!(reason(&doc, "AWSMachineTemplate/md-variable").contains("${IMDS_HTTP_TOKENS}"));
    let fix = &record(&doc, "AWSMachineTemplate/md-default")["fix"];
    assert_eq!(fix["inside"], "spec.template.spec", "{fix}");
    assert_eq!(fix["text"], "instanceMetadataOptions:\n  httpTokens: required");
    let (code, out) = run(&[&format!("{FIX}/capa/pools.yaml")]);
    assert_eq!(code, 3);
    assert!(out.contains("awsLaunchTemplate:\n") || out.contains("awsLaunchTemplate:"), "the EKS fix is CAPA's: {out}");
}

#[test]
fn crossplane_upbound_contrib_and_compositions() {
    let doc = expect(
        &format!("{FIX}/crossplane"),
        3,
        &[
            ("Composition/xinstances.example.org/instance", "pass", "composition.yaml", 26),
            // A patch writes the tokens at composition time.
            ("Composition/xinstances.example.org/patched", "unknown", "composition.yaml", 37),
            ("LaunchTemplate/contrib-lt", "fail", "composition.yaml", 49),
            // v1beta1: a list of one.
            ("Instance/web-v1beta1", "pass", "upbound.yaml", 12),
            // v1beta2: an object.
            ("Instance/web-v1beta2-optional", "fail", "upbound.yaml", 22),
            // Namespaced group, nothing set: EC2's default.
            ("LaunchTemplate/lt-namespaced", "fail", "upbound.yaml", 24),
            ("Instance/from-template", "fail", "upbound.yaml", 34),
        ],
    );
    let (_, inherited) = provenance(&doc, "Instance/from-template");
    assert_eq!(inherited, some("LaunchTemplate/lt-namespaced"));
    assert_eq!(record(&doc, "LaunchTemplate/lt-namespaced")["type"], "ec2.aws.m.upbound.io/v1beta1/LaunchTemplate");
}

#[test]
fn ack_instances_and_launch_templates() {
    let doc = expect(
        &format!("{FIX}/ack"),
        3,
        &[
            ("Instance/ack-required", "pass", "ec2.yaml", 9),
            ("Instance/ack-default", "fail", "ec2.yaml", 11),
            ("LaunchTemplate/ack-lt", "fail", "ec2.yaml", 27),
            ("Instance/ack-helm", "unknown", "ec2.yaml", 35),
            ("Instance/ack-from-lt", "fail", "ec2.yaml", 37),
        ],
    );
    assert_eq!(provenance(&doc, "Instance/ack-from-lt").1, some("LaunchTemplate/ack-lt"));
    assert_eq!(record(&doc, "LaunchTemplate/ack-lt")["fix"]["inside"], "spec.data");
}

#[test]
fn packer_hcl_and_legacy_json() {
    let doc = expect(
        &format!("{FIX}/packer"),
        3,
        &[
            // var.tokens has the default "required".
            ("source.amazon-ebs.hardened", "pass", "build.pkr.hcl", 15),
            // imds_support = "v2.0": an AMI control of its own.
            ("source.amazon-ebs.hardened:ami", "pass", "build.pkr.hcl", 17),
            ("source.amazon-ebs.default", "fail", "build.pkr.hcl", 20),
            // http_endpoint = "disabled": Packer sends no metadata options at all.
            ("source.amazon-ebssurrogate.endpoint_off", "fail", "build.pkr.hcl", 25),
            ("source.amazon-instance.from_var", "unknown", "build.pkr.hcl", 35),
            // {{user `tokens`}} defaults to "optional".
            ("builders[0].legacy-optional", "fail", "legacy.json", 10),
            ("builders[1].legacy-required", "pass", "legacy.json", 17),
            ("builders[1].legacy-required:ami", "pass", "legacy.json", 19),
            ("builders[2].legacy-env", "unknown", "legacy.json", 25),
        ],
    );
    assert!(reason(&doc, "source.amazon-ebssurrogate.endpoint_off").contains("Packer then sends no metadata options"));
    assert!(reason(&doc, "source.amazon-instance.from_var").contains("var.imds_tokens has no default"));
    assert!(reason(&doc, "source.amazon-ebs.hardened").starts_with("http_tokens = var.tokens → \"required\""));
    assert!(reason(&doc, "source.amazon-ebs.default").contains("http_tokens defaults to \"optional\""));
    assert_eq!(
        record(&doc, "source.amazon-ebs.default")["fix"]["text"],
        "metadata_options {\n  http_tokens = \"required\"\n}"
    );
    assert_eq!(record(&doc, "builders[0].legacy-optional")["type"], "packer/amazon-ebs");
}

#[test]
fn ansible_tasks() {
    let doc = expect(
        &format!("{FIX}/ansible/site.yml"),
        3,
        &[
            ("hardened instance", "pass", "site.yml", 11),
            ("default instance", "fail", "site.yml", 12),
            ("templated tokens", "unknown", "site.yml", 20),
            // "stop old ones" (instance_ids, state: stopped) and "dry run" (check_mode) launch nothing.
            ("template optional", "fail", "site.yml", 34),
            ("from template", "fail", "site.yml", 35),
        ],
    );
    assert!(reason(&doc, "templated tokens").contains("Jinja"));
    // The directory: the inventory is not a playbook.
    assert_eq!(records(&format!("{FIX}/ansible")).2["summary"]["files"], 2);
}

#[test]
fn ansible_play_variables() {
    let doc = expect(
        &format!("{FIX}/ansible/vars.yml"),
        3,
        &[
            ("from a play variable", "pass", "vars.yml", 11),
            ("legacy from a play variable", "fail", "vars.yml", 16),
            // A filter is not evaluated.
            ("filtered variable", "unknown", "vars.yml", 21),
        ],
    );
    assert!(reason(&doc, "legacy from a play variable").starts_with("{{ imds_legacy }} → http_tokens: optional"));
}

#[test]
fn ansible_tasks_resolve_templates_by_name() {
    let doc = records(&format!("{FIX}/ansible/site.yml")).2;
    assert_eq!(provenance(&doc, "from template").1, some("template optional"));
    assert_eq!(record(&doc, "template optional")["type"], "ansible/community.aws.ec2_launch_template");
    assert_eq!(record(&doc, "templated tokens")["type"], "ansible/amazon.aws.ec2_instance");
}

#[test]
fn pulumi_yaml_programs() {
    let doc = expect(
        &format!("{FIX}/pulumi"),
        3,
        &[
            // ${tokens}: the config default "required".
            ("hardened", "pass", "Pulumi.yaml", 18),
            ("legacy", "fail", "Pulumi.yaml", 19),
            // ${optionalTokens}: a literal variable.
            ("template", "fail", "Pulumi.yaml", 27),
            ("fromTemplate", "fail", "Pulumi.yaml", 28),
            // ${stackTokens}: config without a default, set per stack.
            ("perStack", "unknown", "Pulumi.yaml", 37),
        ],
    );
    assert!(reason(&doc, "perStack").contains("set per stack"));
    assert_eq!(provenance(&doc, "fromTemplate").1, some("template"));
    assert_eq!(record(&doc, "template")["type"], "pulumi/aws:ec2/launchTemplate:LaunchTemplate");
}

#[test]
fn cdk_synth_output_and_source() {
    let doc = expect(
        &format!("{FIX}/cdk"),
        3,
        &[
            // cdk.out: plain CloudFormation, authoritative (nested templates in assemblies too).
            ("HardenedInstanceLaunchTemplate1A2B3C4D", "pass", "cdk.out/ImdsStack.template.json", 8),
            ("Hardened5E6F7A8B", "pass", "cdk.out/ImdsStack.template.json", 13),
            ("Plain9C0D1E2F", "fail", "cdk.out/ImdsStack.template.json", 28),
            ("NestedTemplate0A1B2C3D", "fail", "assembly-Prod/ProdImdsStackNested.nested.template.json", 8),
            // Source, best effort: requireImdsv2: true passes, anything else is unknown.
            ("Hardened", "pass", "lib/stack.ts", 9),
            ("Plain", "unknown", "lib/stack.ts", 15),
            // The newer httpTokens prop.
            ("Tokens", "pass", "lib/stack.ts", 20),
            ("PyTemplate", "unknown", "app/stack.py", 8),
        ],
    );
    assert!(reason(&doc, "Plain").contains("only the synthesized template (cdk.out) is authoritative"));
    assert_eq!(record(&doc, "Plain")["type"], "cdk/ec2.Instance");
    // node_modules and a .py file without a CDK import are not read.
    let files: Vec<&str> =
        doc["records"].as_array().map(|r| r.iter().filter_map(|r| r["file"].as_str()).collect()).unwrap_or_default();
    assert!(files.iter().all(|f| !f.contains("node_modules") && !f.contains("helper.py")), "{files:?}");
}

#[test]
fn sarif_rule_ids_per_tool() {
    let (code, out) = run(&["--format", "sarif", FIX]);
    assert_eq!(code, 1, "the broken fixtures make it 1");
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}"));
    let rules: Vec<String> = doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .map(|r| r.iter().filter_map(|r| r["id"].as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let results = doc["runs"][0]["results"].as_array().cloned().unwrap_or_default();
    let rule_at = |file: &str, line: u64| -> Option<String> {
        results.iter().find_map(|r| {
            let loc = &r["locations"][0]["physicalLocation"];
            let ok = loc["artifactLocation"]["uri"].as_str().is_some_and(|u| u.ends_with(file))
                && loc["region"]["startLine"] == line;
            ok.then(|| {
                let id = r["ruleId"].as_str().unwrap_or_default().to_string();
                let index = r["ruleIndex"].as_u64().unwrap_or(u64::MAX) as usize;
                assert_eq!(rules.get(index), Some(&id), "ruleIndex points at the rule: {r}");
                id
            })
        })
    };
    for (file, line, id) in [
        ("eksctl/cluster.yaml", 11, "IMDS-EKSCTL-001"),
        ("eksctl/cluster.yaml", 18, "IMDS-EKSCTL-002"),
        ("capa/machines.yaml", 13, "IMDS-CAPA-001"),
        ("capa/machines.yaml", 38, "IMDS-CAPA-002"),
        ("crossplane/upbound.yaml", 22, "IMDS-XP-001"),
        ("crossplane/composition.yaml", 37, "IMDS-XP-002"),
        ("ack/ec2.yaml", 11, "IMDS-ACK-001"),
        ("ack/ec2.yaml", 35, "IMDS-ACK-002"),
        ("packer/build.pkr.hcl", 20, "IMDS-PACKER-001"),
        ("packer/build.pkr.hcl", 35, "IMDS-PACKER-002"),
        ("ansible/site.yml", 12, "IMDS-ANSIBLE-001"),
        ("ansible/site.yml", 20, "IMDS-ANSIBLE-002"),
        ("pulumi/Pulumi.yaml", 19, "IMDS-PULUMI-001"),
        ("pulumi/Pulumi.yaml", 37, "IMDS-PULUMI-002"),
        ("cdk/app/lib/stack.ts", 15, "IMDS-CDK-002"),
        // Synthesized CDK output is CloudFormation: AWS's own rule.
        ("cdk/app/cdk.out/ImdsStack.template.json", 28, "IMDS001"),
    ] {
        assert_eq!(rule_at(file, line).as_deref(), Some(id), "{file}:{line}");
    }
}

#[test]
fn a_file_that_only_mentions_a_tool_is_not_checked() {
    let (code, _) = run(&[&format!("{FIX}/eksctl/not-eksctl.yaml")]);
    assert_eq!(code, 1, "nothing to check");
    let (code, _) = run(&[&format!("{FIX}/ansible/inventory.yml")]);
    assert_eq!(code, 1, "nothing to check");
}

#[test]
fn odd_shapes_are_unknown_or_skipped_never_a_crash() {
    let doc = expect(
        &format!("{FIX}/tools_odd"),
        3,
        &[
            ("inst", "unknown", "Pulumi.yaml", 11),
            // A conditional on a variable without default.
            ("source.amazon-ebs.cond", "unknown", "odd.pkr.hcl", 6),
            ("builders[1].amazon-ebs", "fail", "odd.pkr.json", 4),
            // metadata_options: null is no block.
            ("builders[2].amazon-ebs", "fail", "odd.pkr.json", 5),
            ("builders[3].amazon-ebs", "unknown", "odd.pkr.json", 6),
            // Free-form (string) and empty module arguments.
            ("launch \u{1b}[2J", "unknown", "playbook.yml", 5),
            ("no args", "unknown", "playbook.yml", 7),
            ("amazon.aws.ec2_launch_template task", "unknown", "playbook.yml", 10),
            // nodeGroups that is not a list and a list item that is not a mapping: no node group.
            ("ClusterConfig/odd/managedNodeGroups/ng-bad-bool", "unknown", "shapes.yaml", 9),
            ("AWSMachineTemplate/spec-scalar", "fail", "shapes.yaml", 11),
            ("Instance/two-blocks", "unknown", "shapes.yaml", 23),
            ("Instance/options-scalar", "unknown", "shapes.yaml", 32),
            ("Instance/(unnamed)", "fail", "shapes.yaml", 38),
        ],
    );
    assert!(reason(&doc, "source.amazon-ebs.cond").contains("an expression Packer evaluates"));
    // Text from the files reaches the terminal with control characters escaped.
    let (_, human) = run(&[&format!("{FIX}/tools_odd/playbook.yml")]);
    assert!(human.contains("launch \\u{1b}[2J: UNKNOWN"), "{human}");
    assert!(!human.contains('\u{1b}'), "raw escape in: {human:?}");
}

#[test]
fn packer_imds_support_is_an_ami_control_for_terraform_that_boots_it_by_name() {
    let doc = expect(
        &format!("{FIX}/packer_ami"),
        3,
        &[
            ("source.amazon-ebs.app:ami", "pass", "packer/app.pkr.hcl", 8),
            ("source.amazon-ebs.app", "pass", "packer/app.pkr.hcl", 10),
            ("source.amazon-ebs.legacy", "pass", "packer/app.pkr.hcl", 18),
            // data.aws_ami.app's name filter is the Packer ami_name, built with imds_support v2.0.
            ("aws_instance.app", "pass", "terraform/main.tf", 19),
            // legacy-* is built without imds_support.
            ("aws_instance.legacy", "fail", "terraform/main.tf", 24),
            // An explicit "optional" is never compensated.
            ("aws_instance.explicit_optional", "fail", "terraform/main.tf", 33),
        ],
    );
    let (compensated, _) = provenance(&doc, "aws_instance.app");
    assert!(
        compensated
            .as_deref()
            .is_some_and(|c| c.starts_with("source.amazon-ebs.app (") && c.contains("data.aws_ami.app")),
        "{compensated:?}"
    );
    // Without the Packer template in the checked paths, the same instance fails.
    let alone = expect(
        &format!("{FIX}/packer_ami/terraform"),
        3,
        &[
            ("aws_instance.app", "fail", "terraform/main.tf", 19),
            ("aws_instance.legacy", "fail", "terraform/main.tf", 24),
            ("aws_instance.explicit_optional", "fail", "terraform/main.tf", 33),
        ],
    );
    assert_eq!(provenance(&alone, "aws_instance.app").0, None);
}

#[test]
fn packer_hcl_and_an_ansible_playbook_on_standard_input() {
    let stdin = |text: &str| {
        use std::io::Write as _;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_imdswatch"))
            .args(["iac", "-f", "json", "-"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn: {e}"));
        if let Some(mut i) = child.stdin.take() {
            i.write_all(text.as_bytes()).unwrap_or_else(|e| panic!("write: {e}"));
        }
        let out = child.wait_with_output().unwrap_or_else(|e| panic!("wait: {e}"));
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
        (out.status.code(), doc)
    };
    let (code, doc) =
        stdin("source \"amazon-ebs\" \"x\" {\n  metadata_options {\n    http_tokens = \"required\"\n  }\n}\n");
    assert_eq!(code, Some(0), "{doc}");
    let r = record(&doc, "source.amazon-ebs.x");
    assert_eq!(
        (r["verdict"].as_str(), r["line"].as_u64(), r["file"].as_str()),
        (Some("pass"), Some(3), Some("<stdin>"))
    );
    let (code, doc) = stdin("- hosts: all\n  tasks:\n    - amazon.aws.ec2_instance:\n        image_id: ami-1\n");
    assert_eq!(code, Some(3), "{doc}");
    assert_eq!(record(&doc, "amazon.aws.ec2_instance task")["verdict"], "fail");
}

#[test]
fn an_unrendered_helm_template_of_a_judged_kind_is_unknown_not_ignored() {
    let doc = expect(
        &format!("{FIX}/unrendered"),
        0,
        &[
            // Not YAML until Helm renders it: its resources cannot be read, so never "safe".
            ("(unrendered template)", "unknown", "machinetemplate.yaml", 4),
        ],
    );
    let r = record(&doc, "(unrendered template)");
    assert_eq!(r["type"], "infrastructure.cluster.x-k8s.io/AWSMachine");
    assert!(r["reason"].as_str().is_some_and(|s| s.contains("helm template")), "{r}");
    // Unknown fails with --strict.
    let (code, _) = run(&["--strict", &format!("{FIX}/unrendered")]);
    assert_eq!(code, 3);
}

#[test]
fn pulumi_instance_metadata_defaults_is_the_account_default() {
    let doc = expect(
        &format!("{FIX}/pulumi_defaults"),
        3,
        &[
            ("enforce", "pass", "Pulumi.yaml", 7),
            // No metadataOptions: compensated by the program's account default.
            ("web", "pass", "Pulumi.yaml", 9),
            // An explicit optional is never compensated.
            ("pinned", "fail", "Pulumi.yaml", 18),
        ],
    );
    assert_eq!(provenance(&doc, "web").0, some("enforce"));
    assert_eq!(record(&doc, "enforce")["type"], "pulumi/aws:ec2:InstanceMetadataDefaults");
}
