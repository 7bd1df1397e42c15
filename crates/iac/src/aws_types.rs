//! The AWS resource types the check judges, in one table that every front end reads:
//! Terraform configurations and plans by `terraform` name, CloudFormation by its type, and
//! the fix and block names that differ by syntax. (Karpenter's `EC2NodeClass` is a Kubernetes
//! kind, and the other clouds' types are in `clouds::table`.)

/// One judged AWS resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsType {
    /// The Terraform AWS provider's type.
    pub terraform: &'static str,
    /// The CloudFormation type, when CloudFormation has one that is judged.
    pub cloudformation: Option<&'static str>,
    /// The metadata options block when it is not `metadata_options` / `MetadataOptions`.
    pub block: Option<(&'static str, &'static str)>,
    /// Cannot set metadata options itself (it launches templates, or the service's default):
    /// its fix is "launch a launch template that sets …". (An EKS node group has a fix of its
    /// own: EKS creates a template when none is given.)
    pub fix_through_template: bool,
}

const fn t(terraform: &'static str, cloudformation: Option<&'static str>, fix_through_template: bool) -> AwsType {
    AwsType { terraform, cloudformation, block: None, fix_through_template }
}

/// Every judged AWS type (mirrored by the rule table in docs/iac.md).
pub const AWS_TYPES: &[AwsType] = &[
    t("aws_instance", Some("AWS::EC2::Instance"), false),
    t("aws_launch_template", Some("AWS::EC2::LaunchTemplate"), false),
    t("aws_launch_configuration", Some("AWS::AutoScaling::LaunchConfiguration"), false),
    t("aws_autoscaling_group", Some("AWS::AutoScaling::AutoScalingGroup"), true),
    t("aws_eks_node_group", Some("AWS::EKS::Nodegroup"), false),
    t("aws_ec2_instance_metadata_defaults", None, false),
    t("aws_ami", None, false),
    t("aws_spot_instance_request", None, false),
    t("aws_spot_fleet_request", Some("AWS::EC2::SpotFleet"), true),
    t("aws_ec2_fleet", Some("AWS::EC2::EC2Fleet"), true),
    t("aws_batch_compute_environment", Some("AWS::Batch::ComputeEnvironment"), true),
    AwsType {
        block: Some(("instance_metadata_options", "InstanceMetadataOptions")),
        ..t(
            "aws_imagebuilder_infrastructure_configuration",
            Some("AWS::ImageBuilder::InfrastructureConfiguration"),
            false,
        )
    },
];

/// The judged type of this Terraform name.
pub fn terraform(rtype: &str) -> Option<&'static AwsType> {
    AWS_TYPES.iter().find(|t| t.terraform == rtype)
}

/// The judged type of this CloudFormation name.
pub fn cloudformation(rtype: &str) -> Option<&'static AwsType> {
    AWS_TYPES.iter().find(|t| t.cloudformation == Some(rtype))
}

/// A Terraform type some rule judges (AWS here, or another cloud's).
pub fn judged_in_terraform(rtype: &str) -> bool {
    terraform(rtype).is_some() || crate::clouds::table::rule(rtype).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_both_ways() {
        for (i, a) in AWS_TYPES.iter().enumerate() {
            assert_eq!(terraform(a.terraform), Some(a), "{}", a.terraform);
            if let Some(c) = a.cloudformation {
                assert_eq!(cloudformation(c), Some(a), "{c}");
            }
            assert!(AWS_TYPES[i + 1..].iter().all(|b| b.terraform != a.terraform));
        }
        assert!(judged_in_terraform("alicloud_instance") && !judged_in_terraform("aws_s3_bucket"));
    }
}
