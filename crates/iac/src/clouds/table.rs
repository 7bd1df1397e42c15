//! The table of judged resource types of the other clouds: for each, the setting that turns
//! the legacy metadata path off, the value that does, and what holds when it is not written.
//! Sources are listed in the parent module's documentation.

/// The value that turns the legacy path off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// The string `"required"` (Alibaba `http_tokens`).
    Required,
    /// `true` (OCI, a boolean; a string `"true"` converts to it).
    True,
    /// The string `"true"` in any case (Google metadata values; the docs write `TRUE`).
    TrueAnyCase,
}

/// What a judged type is to the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Judged on its own.
    Resource,
    /// Left unset, a project-wide control in the same configuration decides (GCE VMs).
    Compensable,
    /// A project-wide control (Google project metadata): a record only when it writes the key.
    ProjectControl,
}

/// The rule for one resource type.
#[derive(Debug)]
pub struct Rule {
    pub rtype: &'static str,
    pub role: Role,
    /// The setting as written, relative to where it lives (e.g. `instance_options.are_legacy_imds_endpoints_disabled`).
    pub setting: &'static str,
    pub want: Want,
    /// What stays on when the setting allows it, for reasons.
    pub legacy: &'static str,
    /// What the hardened setting means, for the pass reason.
    pub hardened: &'static str,
    /// When the setting is not written: `Ok(why)` passes (a default turns the legacy path off),
    /// `Err(why)` fails.
    pub unset: Result<&'static str, &'static str>,
    /// The text to add when nothing is written (the whole container, e.g. the block).
    pub fix_block: &'static str,
    /// The single line to add inside an existing container (block or map).
    pub fix_line: &'static str,
    /// The legacy path no longer exists anywhere (the vendor shut it down): why. Every resource
    /// of the type passes whatever the setting says; project controls get no record.
    pub retired: Option<&'static str>,
}

const ALI_LEGACY: &str = "normal mode (plain GETs to 100.100.100.200 without a token)";
const ALI_HARDENED: &str = "security hardening mode only: metadata needs a token from PUT /latest/api/token";
const ALI_UNSET: &str = "http_tokens defaults to \"optional\" (ECS API default), normal mode allowed";
const OCI_LEGACY: &str = "the legacy /opc/v1 and /openstack endpoints (no Authorization: Bearer Oracle needed)";
const OCI_HARDENED: &str =
    "legacy /opc/v1 and /openstack endpoints answer 404; only /opc/v2 with Authorization: Bearer Oracle";
const OCI_UNSET: &str = "are_legacy_imds_endpoints_disabled defaults to false (oci provider docs), legacy /opc/v1 and /openstack endpoints on";
const GCP_LEGACY: &str = "the legacy /0.1/ and /computeMetadata/v1beta1/ endpoints (no Metadata-Flavor header needed)";
const GCP_HARDENED: &str =
    "legacy /0.1/ and /computeMetadata/v1beta1/ endpoints off; /computeMetadata/v1/ needs Metadata-Flavor: Google";
const GCP_PROJECT: &str = "compensating control: project metadata, for every VM of the project that does not set disable-legacy-endpoints itself";
const GCP_PROJECT_LEGACY: &str =
    "the legacy endpoints on every VM of the project that does not set disable-legacy-endpoints itself";
/// Google's Compute Engine deprecations page lists "Compute Engine v0.1 and v1beta1 metadata
/// server endpoints": deprecated 2019-09-30, shut down 2020-09-30.
const GCP_RETIRED: &str = "Google shut the legacy /0.1/ and /computeMetadata/v1beta1/ metadata endpoints down on 2020-09-30 (Compute Engine deprecations, https://cloud.google.com/compute/docs/deprecations), so disable-legacy-endpoints has nothing left to turn off; /computeMetadata/v1/ answers only requests carrying Metadata-Flavor: Google";
const GKE_UNSET: &str = "GKE 1.12 and later set disable-legacy-endpoints = \"true\" on node VMs by default (google provider docs, node_config.metadata; GKE: Protecting cluster metadata)";
const GCE_UNSET: &str = "without it the legacy endpoints are on unless the project metadata sets disable-legacy-endpoints (Compute Engine predefined metadata keys)";

// One base per cloud family; each entry of RULES names its type and what differs.
const ALI: Rule = Rule {
    rtype: "alicloud_instance",
    role: Role::Resource,
    setting: "http_tokens",
    want: Want::Required,
    legacy: ALI_LEGACY,
    hardened: ALI_HARDENED,
    unset: Err(ALI_UNSET),
    fix_block: "http_tokens = \"required\"",
    fix_line: "http_tokens = \"required\"",
    retired: None,
};

const OCI: Rule = Rule {
    rtype: "oci_core_instance",
    role: Role::Resource,
    setting: "instance_options.are_legacy_imds_endpoints_disabled",
    want: Want::True,
    legacy: OCI_LEGACY,
    hardened: OCI_HARDENED,
    unset: Err(OCI_UNSET),
    fix_block: "instance_options {\n  are_legacy_imds_endpoints_disabled = true\n}",
    fix_line: "are_legacy_imds_endpoints_disabled = true",
    retired: None,
};

const GCE: Rule = Rule {
    rtype: "google_compute_instance",
    role: Role::Compensable,
    setting: "metadata[\"disable-legacy-endpoints\"]",
    want: Want::TrueAnyCase,
    legacy: GCP_LEGACY,
    hardened: GCP_HARDENED,
    unset: Err(GCE_UNSET),
    fix_block: "metadata = {\n  disable-legacy-endpoints = \"true\"\n}",
    fix_line: "disable-legacy-endpoints = \"true\"",
    retired: Some(GCP_RETIRED),
};

const GKE: Rule = Rule {
    rtype: "google_container_node_pool",
    role: Role::Resource,
    setting: "node_config.metadata[\"disable-legacy-endpoints\"]",
    want: Want::TrueAnyCase,
    legacy: GCP_LEGACY,
    hardened: GCP_HARDENED,
    unset: Ok(GKE_UNSET),
    fix_block: "node_config {\n  metadata = {\n    disable-legacy-endpoints = \"true\"\n  }\n}",
    fix_line: "disable-legacy-endpoints = \"true\"",
    retired: Some(GCP_RETIRED),
};

const GCP_PROJECT_RULE: Rule = Rule {
    rtype: "google_compute_project_metadata",
    role: Role::ProjectControl,
    setting: "metadata[\"disable-legacy-endpoints\"]",
    want: Want::TrueAnyCase,
    legacy: GCP_PROJECT_LEGACY,
    hardened: GCP_PROJECT,
    unset: Ok("no record"),
    fix_block: "metadata = {\n  disable-legacy-endpoints = \"true\"\n}",
    fix_line: "disable-legacy-endpoints = \"true\"",
    retired: Some(GCP_RETIRED),
};

/// One rule per judged resource type (mirrored by the README's table).
pub const RULES: &[Rule] = &[
    Rule { rtype: "alicloud_instance", ..ALI },
    Rule { rtype: "alicloud_ecs_launch_template", ..ALI },
    // The provider has no `http_tokens` here (only `http_endpoint`, since 1.263.0): its instances
    // take the ECS default unless the scaling group launches from a launch template instead.
    Rule {
        rtype: "alicloud_ess_scaling_configuration",
        unset: Err(
            "alicloud_ess_scaling_configuration has no http_tokens argument (alicloud provider docs: only http_endpoint), so its instances take the ECS default \"optional\", normal mode allowed",
        ),
        ..ALI
    },
    // Launches from `launch_template_id` when set; else from its scaling configurations (judged
    // on their own): no record.
    Rule { rtype: "alicloud_ess_scaling_group", setting: "launch_template_id", ..ALI },
    Rule { rtype: "oci_core_instance", ..OCI },
    Rule { rtype: "oci_core_instance_configuration", ..OCI },
    // Launches only through its instance configuration(s): no setting of its own.
    Rule { rtype: "oci_core_instance_pool", setting: "instance_configuration_id", ..OCI },
    Rule { rtype: "google_compute_instance", ..GCE },
    Rule { rtype: "google_compute_instance_template", ..GCE },
    // All google_compute_instance arguments override the template's; without `metadata` of its
    // own it takes the template's verdict.
    Rule { rtype: "google_compute_instance_from_template", ..GCE },
    Rule { rtype: "google_container_node_pool", ..GKE },
    Rule { rtype: "google_container_cluster", ..GKE },
    Rule { rtype: "google_compute_project_metadata", ..GCP_PROJECT_RULE },
    Rule {
        rtype: "google_compute_project_metadata_item",
        setting: "value",
        fix_block: "value = \"true\"",
        fix_line: "value = \"true\"",
        ..GCP_PROJECT_RULE
    },
];

/// The rule for a resource type, if it is one of the other clouds' judged types.
pub fn rule(rtype: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.rtype == rtype)
}
