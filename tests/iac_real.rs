//! The shapes of real public modules that `imdswatch iac` once got wrong (issue 25), written
//! small in tests/fixtures/iac/real/, and the input bounds of issue 23 class 8: each test
//! states the verdict Terraform's own evaluation gives.

#[path = "support/iac.rs"]
mod iac_support;

use iac_support::*;

fn real(dir: &str) -> String {
    format!("{FIX}/real/{dir}")
}

#[test]
fn for_expression_with_a_conditional_continued_on_the_next_line_and_duplicate_keys() {
    let doc = expect(
        &real("null_label_for"),
        3,
        &[
            // The later `http_tokens = "required"` of the object literal wins.
            ("aws_instance.labelled", "pass", "null_label_for/main.tf", 34),
            // The for expression drops the empty `stage`: two tags, so "optional".
            ("aws_instance.by_tag", "fail", "null_label_for/main.tf", 40),
        ],
    );
    let r = record(&doc, "aws_instance.by_tag");
    assert!(r["reason"].as_str().is_some_and(|r| r.contains("→ \"optional\"")), "{r}");
}

#[test]
fn for_each_over_for_expressions_zipmap_and_empty_defaults() {
    let doc = expect(
        &real("gke_node_pools"),
        3,
        &[
            ("aws_launch_template.pools[\"default-pool\"]", "pass", "gke_node_pools/main.tf", 29),
            ("aws_launch_template.pools[\"legacy-pool\"]", "fail", "gke_node_pools/main.tf", 29),
            // metadata = merge(<unknown lookup> ? {} : {...}, ..., {"disable-legacy-endpoints" = var.x}):
            // the last map sets the key (and Google's legacy endpoints are gone anyway).
            ("google_container_node_pool.pools[\"default-pool\"]", "pass", "gke_node_pools/main.tf", 44),
            ("google_container_node_pool.pools[\"legacy-pool\"]", "pass", "gke_node_pools/main.tf", 44),
            // windows pools: `for_each` over an empty default creates nothing, so no record.
        ],
    );
    let r = record(&doc, "google_container_node_pool.pools[\"legacy-pool\"]");
    assert!(r["reason"].as_str().is_some_and(|r| r.contains("→ true has no effect")), "{r}");
}

#[test]
fn merge_is_known_for_the_keys_a_later_map_sets() {
    let doc = expect(
        &real("merge_per_key"),
        0,
        &[
            ("aws_launch_template.merged", "pass", "merge_per_key/main.tf", 19),
            // An unknown map after the literal may override it: never called safe.
            ("aws_launch_template.overridable", "unknown", "merge_per_key/main.tf", 25),
        ],
    );
    assert!(
        record(&doc, "aws_launch_template.overridable")["reason"]
            .as_str()
            .is_some_and(|r| r.contains("var.extra_options"))
    );
}

#[test]
fn one_of_a_splat_follows_the_reference_to_the_template() {
    let doc = expect(
        &real("splat_one"),
        3,
        &[
            ("aws_launch_template.default[0]", "fail", "splat_one/main.tf", 19),
            ("aws_autoscaling_group.default[0]", "fail", "splat_one/main.tf", 23),
        ],
    );
    assert_eq!(provenance(&doc, "aws_autoscaling_group.default[0]"), (None, some("aws_launch_template.default[0]")));
}

#[test]
fn outputs_of_an_installed_module_are_evaluated() {
    // count = module.this.enabled ? 1 : 0 and http_tokens = module.this.http_tokens, both read
    // from the label module `terraform init` put under .terraform/modules/this.
    let doc = expect(&real("remote_outputs"), 3, &[("aws_instance.default[0]", "fail", "remote_outputs/main.tf", 15)]);
    assert!(unresolved(&doc).is_empty());
}

#[test]
fn an_example_called_as_a_test_fixture_reads_its_own_modules_json() {
    let doc = expect(
        &real("example_fixture"),
        3,
        &[(
            "module.complete.module.asg.aws_launch_template.this",
            "fail",
            "examples/complete/.terraform/modules/asg/main.tf",
            8,
        )],
    );
    assert!(unresolved(&doc).is_empty(), "{doc}");
}

#[test]
fn yaml_that_pyyaml_and_cloudformation_accept() {
    expect(
        &real("yaml_lenient"),
        3,
        &[
            // `]` at its key's column, another `]` left of it.
            ("Web", "fail", "closing_bracket.yaml", 11),
            // A single-quoted scalar continued at its key's column (FindInMap_Inside_Sub.yaml
            // shape); the line numbers after it are those of the file.
            ("Scripted", "pass", "quoted_continuation.yaml", 15),
        ],
    );
}

#[test]
fn unresolved_modules_that_launch_nothing_are_quiet() {
    let path = real("unresolved_only");
    let (code, out) = run(&["-q", &path]);
    assert_eq!((code, out.as_str()), (0, ""), "-q prints findings only");
    let (code, out) = run(&[&path]);
    assert_eq!(code, 0);
    // Counted once per call site: `module.kms` has count = 2.
    assert!(out.contains("coverage: 3 module calls not followed"), "{out}");
    assert!(!out.contains("module.label"), "listed only with --show-unresolved: {out}");
    let (_, listed) = run(&["--show-unresolved", &path]);
    for m in ["module.label", "module.vpc", "module.kms"] {
        assert_eq!(listed.matches(&format!(": {m}: not followed")).count(), 1, "{m}: {listed}");
    }
    assert_eq!(run(&["--strict", &path]).0, 3, "--strict: coverage gaps fail");
}

#[test]
fn a_module_that_sources_its_own_folder_is_the_folder() {
    expect(&real("self_source"), 3, &[("aws_instance.legacy", "fail", "self_source/main.tf", 8)]);
}

const LEGACY: &str =
    "resource \"aws_instance\" \"linked\" {\n  metadata_options {\n    http_tokens = \"optional\"\n  }\n}\n";

#[test]
fn symlinked_folders_are_followed_once_and_loops_end() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let real_dir = dir.path().join("shared");
    std::fs::create_dir_all(&real_dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(real_dir.join("main.tf"), LEGACY).unwrap_or_else(|e| panic!("{e}"));
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap_or_else(|e| panic!("{e}"));
    // A symlinked folder holding a failing resource, and a link back up the tree (a loop).
    std::os::unix::fs::symlink(&real_dir, tree.join("linked")).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(&tree, tree.join("loop")).unwrap_or_else(|e| panic!("{e}"));
    let path = tree.to_string_lossy().to_string();
    let (code, got, _) = records(&path);
    assert_eq!(code, 3, "{got:#?}");
    assert_eq!(got.get("aws_instance.linked").map(|v| v.0.as_str()), Some("fail"), "{got:#?}");
    assert_eq!(got.len(), 1, "the loop is walked once: {got:#?}");
}

#[test]
fn oversized_inputs_are_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // 17 MiB of a valid .tf (over the 16 MiB cap), written sparsely as one long comment.
    let big = dir.path().join("big.tf");
    let mut text = String::from(LEGACY);
    text.push('#');
    text.push_str(&"x".repeat(17 << 20));
    text.push('\n');
    std::fs::write(&big, text).unwrap_or_else(|e| panic!("{e}"));
    let (code, got, doc) = records(&dir.path().to_string_lossy());
    assert_eq!(code, 1, "{got:#?}");
    let err = doc["records"][0]["reason"].as_str().unwrap_or_default().to_string();
    assert!(err.contains("over the 16.0 MiB limit"), "{err}");
    // A plan over 64 MiB: the same, for documents.
    let plan = dir.path().join("plan.json");
    let f = std::fs::File::create(&plan).unwrap_or_else(|e| panic!("{e}"));
    f.set_len((64 << 20) + 1).unwrap_or_else(|e| panic!("{e}"));
    let (code, out) = run(&["--format", "json", &plan.to_string_lossy()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("over the 64.0 MiB limit"), "{out}");
}
