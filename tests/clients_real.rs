//! Issue 24: the client catalogue checked against real clients. Each case runs a real SDK,
//! CLI or script (installed by scripts/clients-lab.sh into captures/.clients, or Debian's
//! packages) inside the test namespaces against the mock IMDS, under `imdswatch live`, and
//! checks the catalogue row it is named by, its verdict and the kind of advice it gets.
//! What each client really sent (user agents, requests) is compared with the record in
//! captures/clients/observed/, from which scripts/clients-doc.py builds docs/client-catalogue.md;
//! `IMDSWATCH_RECORD_CLIENTS=1` rewrites that record. Tokens optional, required, and lost
//! to the hop limit (a client one routed hop away, in `ctr`).
//!
//! Safety: clients run only inside the imw- namespaces (each script also refuses to run
//! elsewhere); no AWS_EC2_METADATA_SERVICE_ENDPOINT is set: 169.254.169.254 there is the mock.

#[path = "support/clients.rs"]
mod clients;
#[path = "support/host.rs"]
mod host;
#[path = "support/live.rs"]
mod live;

use clients::{args, case, lab, node, py, run, script};

#[test]
fn python_old_and_new() {
    run(
        "python_old_and_new",
        vec![
            case(
                "botocore 1.12.253",
                "py-old",
                "host",
                "optional",
                py("py-old", "botocore"),
                &["botocore"],
                "breaks",
                "sdk_upgrade",
            ),
            case(
                "boto3 1.9.253",
                "py-old",
                "host",
                "optional",
                py("py-old", "boto3"),
                &["boto3"],
                "breaks",
                "sdk_upgrade",
            ),
            case(
                "awscli 1.16.263",
                "py-old",
                "host",
                "optional",
                vec![lab().join("py-old/bin/aws").display().to_string(), "configure".into(), "list".into()],
                &["aws-cli-v1"],
                "breaks",
                "sdk_upgrade",
            ),
            case("boto3 1.35.99", "py-new", "host", "optional", py("py-new", "boto3"), &["boto3"], "ready", "no_v1"),
            case(
                "boto3 1.35.99",
                "py-new",
                "ctr",
                "optional",
                py("py-new", "boto3"),
                &["boto3"],
                "hop_limit",
                "hop_limit",
            ),
            case(
                "botocore 1.12.253",
                "py-old",
                "host",
                "required",
                py("py-old", "botocore"),
                &["botocore"],
                "probe_only",
                "ignore",
            ),
            case("boto3 1.35.99", "py-new", "host", "required", py("py-new", "boto3"), &["boto3"], "ready", "no_v1"),
            // A modern SDK whose token request is refused falls back: the cause, not an upgrade.
            case(
                "boto3 1.35.99",
                "py-new",
                "host",
                "token405",
                py("py-new", "boto3"),
                &["boto3"],
                "breaks",
                "fallback",
            ),
        ],
    );
}

#[test]
fn boto2() {
    run(
        "boto2",
        vec![case(
            "boto 2.49.0",
            "boto2",
            "host",
            "optional",
            py("boto2", "boto2"),
            // boto 2 asks IMDS through urllib: Python-urllib's user agent, not `Boto/`.
            &["python-http"],
            "breaks",
            "raw_http",
        )],
    );
}

/// 2.500.0 sends `aws-sdk-nodejs/2.500.0`; 2.722.0 (IMDSv2) sends no User-Agent at all.
#[test]
fn node_aws_sdk_v2() {
    run(
        "node_aws_sdk_v2",
        vec![
            case(
                "aws-sdk 2.500.0",
                "node-old",
                "host",
                "optional",
                node("node-old", "v2"),
                &["aws-sdk-js-v2"],
                "breaks",
                "sdk_upgrade",
            ),
            case(
                "aws-sdk 2.722.0",
                "node-fixed",
                "host",
                "optional",
                node("node-fixed", "v2"),
                &["aws-sdk-js-no-ua"],
                "ready",
                "no_v1",
            ),
            case(
                "aws-sdk 2.722.0",
                "node-fixed",
                "ctr",
                "optional",
                node("node-fixed", "v2"),
                // Its token request has no User-Agent; its IMDSv1 fallback sends one: two
                // clients under the key, the fallback's judged on the other's token requests
                // (ClientSummary::bare_tokens).
                &["aws-sdk-js-v2", "aws-sdk-js-no-ua"],
                "hop_limit",
                "hop_limit",
            ),
        ],
    );
}

#[test]
fn node_aws_sdk_v3() {
    run(
        "node_aws_sdk_v3",
        vec![
            case(
                "@aws-sdk/credential-provider-imds 3.374.0",
                "node-v3",
                "host",
                "optional",
                node("node-v3", "v3"),
                &["aws-sdk-js-no-ua"],
                "ready",
                "no_v1",
            ),
            case(
                "@aws-sdk/credential-provider-imds 3.374.0",
                "node-v3",
                "ctr",
                "optional",
                node("node-v3", "v3"),
                &["aws-sdk-js-no-ua"],
                "hop_limit",
                "hop_limit",
            ),
        ],
    );
}

#[test]
fn ruby_sdk_v1_and_v3() {
    let rb = |m: &str| vec!["ruby".to_owned(), script("real_ruby.rb"), m.to_owned()];
    run(
        "ruby_sdk_v1_and_v3",
        vec![
            case(
                "ruby-aws-sdk (aws-sdk-v1)",
                "deb-ruby-aws-sdk",
                "host",
                "optional",
                rb("v1"),
                &["aws-sdk-ruby-v1"],
                "breaks",
                "sdk_upgrade",
            ),
            case(
                "ruby-aws-sdk-core (aws-sdk-core 3)",
                "deb-ruby-aws-sdk-core",
                "host",
                "optional",
                rb("v3"),
                &["aws-sdk-ruby-v3"],
                "ready",
                "no_v1",
            ),
        ],
    );
}

#[test]
fn awscli_v2_debian() {
    run(
        "awscli_v2_debian",
        vec![case(
            "awscli (Debian, v2)",
            "deb-awscli",
            "host",
            "optional",
            args(&["/usr/bin/aws", "configure", "list"]),
            &["aws-cli-v2"],
            "ready",
            "no_v1",
        )],
    );
}

#[test]
fn ec2metadata_cloud_guest_utils() {
    run(
        "ec2metadata_cloud_guest_utils",
        vec![case(
            "cloud-guest-utils ec2metadata",
            "deb-cloud-guest-utils",
            "host",
            "optional",
            args(&["/usr/bin/ec2metadata", "--instance-id"]),
            &["cloud-guest-utils-ec2metadata"],
            "ready",
            "no_v1",
        )],
    );
}

#[test]
fn ec2_metadata_amazon_ec2_utils() {
    run(
        "ec2_metadata_amazon_ec2_utils",
        vec![case(
            "amazon-ec2-utils ec2-metadata",
            "deb-amazon-ec2-utils",
            "host",
            "optional",
            args(&["/usr/bin/ec2-metadata", "-i"]),
            // Its requests are made by curl children: the process named is curl (ancestors
            // are named by executable, `bash`), so the user agent names it `curl`.
            &["amazon-ec2-utils-ec2-metadata", "curl"],
            "ready",
            "no_v1",
        )],
    );
}

#[test]
fn hand_written() {
    let urllib = "import urllib.request as u; print(u.urlopen('http://169.254.169.254/latest/meta-data/instance-id', timeout=2).status)";
    run(
        "hand_written",
        vec![
            case(
                "curl (no token)",
                "deb-curl",
                "host",
                "optional",
                args(&["sh", "-c", "curl -s http://169.254.169.254/latest/meta-data/instance-id; sleep 0.3"]),
                &["curl"],
                "breaks",
                "raw_http",
            ),
            case(
                "Python urllib (no token)",
                "py-new",
                "host",
                "optional",
                args(&["python3", "-c", urllib]),
                &["python-http"],
                "breaks",
                "raw_http",
            ),
        ],
    );
}

/// Debian's Go SDK sources (aws-sdk-go 1.44.133, aws-sdk-go-v2 1.17.1) built with Debian's Go.
#[test]
fn go_sdk_v1_and_v2() {
    let bin = |v: &str| vec![lab().join("go").join(v).display().to_string()];
    run(
        "go_sdk_v1_and_v2",
        vec![
            case("aws-sdk-go 1.44.133", "go", "host", "optional", bin("imds-go-v1"), &["aws-sdk-go"], "ready", "no_v1"),
            case(
                "aws-sdk-go 1.44.133",
                "go",
                "ctr",
                "optional",
                bin("imds-go-v1"),
                &["aws-sdk-go"],
                "hop_limit",
                "hop_limit",
            ),
            case(
                "aws-sdk-go-v2 1.17.1",
                "go",
                "host",
                "optional",
                bin("imds-go-v2"),
                &["aws-sdk-go-v2"],
                "ready",
                "no_v1",
            ),
            case(
                "aws-sdk-go-v2 1.17.1",
                "go",
                "ctr",
                "optional",
                bin("imds-go-v2"),
                &["aws-sdk-go-v2"],
                "hop_limit",
                "hop_limit",
            ),
        ],
    );
}
