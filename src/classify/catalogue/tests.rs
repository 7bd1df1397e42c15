use super::*;

fn id(ua: &str) -> Option<Identified> {
    identify(Some(ua), None)
}

fn row_id(ua: &str) -> &'static str {
    id(ua).map_or("-", |i| i.row.id.as_str())
}

#[test]
fn the_catalogue_parses_and_every_row_names_its_source() {
    let c = catalogue();
    assert!(c.rows.len() >= 30, "{} rows", c.rows.len());
    let mut ids: Vec<&str> = c.rows.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), c.rows.len(), "row ids are unique");
    for r in &c.rows {
        assert!(r.source.starts_with("test:") || r.source.starts_with("https://"), "{}: source {}", r.id, r.source);
        assert!(!r.user_agent.is_empty() || !r.process.is_empty(), "{}: no way to recognise it", r.id);
        for p in &r.user_agent {
            assert_eq!(p, &p.to_ascii_lowercase(), "{}: user_agent patterns are lower case", r.id);
        }
        if r.imdsv2 == Imdsv2::Since {
            assert!(r.fixed_in.is_some(), "{}: since what?", r.id);
        }
        if matches!(r.imdsv2, Imdsv2::Since | Imdsv2::Never | Imdsv2::Current) {
            assert!(!r.upgrade.is_empty(), "{}: no upgrade", r.id);
        }
    }
    for l in ["shell", "python", "go", "java", "node", "ruby"] {
        assert!(!recipe(l).is_empty(), "{l}");
    }
}

/// AWS's published minimums ("Use a supported AWS SDK", EC2 user guide).
#[test]
fn first_versions_are_aws_published_minimums() {
    let want = [
        ("aws-cli-v1", "1.16.289"),
        ("aws-powershell", "4.0.1.0"),
        ("aws-sdk-dotnet", "3.3.634.1"),
        ("aws-sdk-cpp", "1.7.229"),
        ("aws-sdk-go", "1.25.38"),
        ("aws-sdk-go-v2", "0.19.0"),
        ("aws-sdk-java-v1", "1.11.678"),
        ("aws-sdk-java-v2", "2.10.21"),
        ("aws-sdk-js-v2", "2.722.0"),
        ("aws-sdk-php", "3.147.7"),
        ("botocore", "1.13.25"),
        ("boto3", "1.12.6"),
        ("aws-sdk-ruby-v3", "3.79.0"),
    ];
    for (id, v) in want {
        let r = catalogue().rows.iter().find(|r| r.id == id).unwrap_or_else(|| panic!("{id} missing"));
        assert_eq!(r.fixed_in.as_deref(), Some(v), "{id}");
    }
}

#[test]
fn real_user_agents_name_their_sdk_and_version() {
    // Seen from the real clients (tests/clients_real.rs, docs/client-catalogue.md).
    let js = id("aws-sdk-nodejs/2.500.0 linux/v20.20.2").expect("js v2");
    assert_eq!((js.row.id.as_str(), js.version.as_deref()), ("aws-sdk-js-v2", Some("2.500.0")));
    assert_eq!(js.standing(), Standing::Old);
    assert_eq!(id("aws-sdk-nodejs/2.722.0 linux/v20.20.2").map(|i| i.standing()), Some(Standing::Modern));
    let ruby = id("Ruby").expect("ruby v1");
    assert_eq!((ruby.row.id.as_str(), ruby.standing()), ("aws-sdk-ruby-v1", Standing::Old));
    assert_eq!(row_id("aws-sdk-ruby3/3.168.1"), "aws-sdk-ruby-v3");
    assert_eq!(id("aws-sdk-ruby3/3.168.1").map(|i| i.standing()), Some(Standing::Modern));
    let old = id("Botocore/1.13.24 Python/3.11.7 Linux/6.1.0").expect("botocore");
    assert_eq!((old.row.id.as_str(), old.standing()), ("botocore", Standing::Old));
    // A botocore 1.18 that falls back is modern: its token request failed.
    assert_eq!(id("Botocore/1.18.0 Python/3.8").map(|i| i.standing()), Some(Standing::Modern));
    assert_eq!(row_id("Boto3/1.10.24 Python/3.11.7 Linux/6.1 Botocore/1.13.24"), "boto3");
    assert_eq!(row_id("aws-cli/1.16.288 Python/3.11.7 Linux/6.1 botocore/1.13.24"), "aws-cli-v1");
    assert_eq!(row_id("aws-cli/2.9.19 Python/3.11.2 Linux/6.1 source/x86_64.debian.12"), "aws-cli-v2");
    assert_eq!(row_id("Boto/2.49.0 Python/3.11.7 Linux/6.1"), "boto2");
    assert_eq!(row_id("aws-sdk-go/1.44.133 (go1.19.8; linux; amd64)"), "aws-sdk-go");
    assert_eq!(row_id("aws-sdk-go-v2/1.17.1 os/linux lang/go#1.19.8 md/GOOS#linux ft/ec2-imds"), "aws-sdk-go-v2");
    assert_eq!(row_id("aws-sdk-java/1.11.500 Linux/5.10"), "aws-sdk-java-v1");
    assert_eq!(row_id("Python-urllib/3.11"), "python-http");
    assert_eq!(row_id("curl/7.88.1"), "curl");
    assert_eq!(row_id("Go-http-client/1.1"), "go-http");
    assert_eq!(row_id("weird\u{1b}agent"), "-");
    assert_eq!(row_id(""), "-");
}

#[test]
fn versions_compare_numerically() {
    assert_eq!(compare_versions("1.13.24", "1.13.25"), Ordering::Less);
    assert_eq!(compare_versions("1.9", "1.13.25"), Ordering::Less);
    assert_eq!(compare_versions("2.1692.0", "2.722.0"), Ordering::Greater);
    assert_eq!(compare_versions("3.3.634.1", "3.3.634"), Ordering::Greater);
    assert_eq!(compare_versions("2.722", "2.722.0"), Ordering::Equal);
    assert_eq!(compare_versions("x", "0"), Ordering::Equal);
    assert_eq!(word_version("x/1.2.3-rc1"), Some("1.2.3".into()));
    assert_eq!(word_version("x/abc"), None);
}

#[test]
fn generic_user_agents_are_named_by_their_process() {
    let p = ProcessHint::new("/usr/bin/python3.11", "/usr/bin/python3 /usr/bin/ec2metadata --instance-id");
    let i = identify(Some("Python-urllib/3.11"), Some(&p)).expect("ec2metadata");
    assert_eq!((i.row.id.as_str(), i.by_process), ("cloud-guest-utils-ec2metadata", true));
    let p = ProcessHint::new("/usr/bin/bash", "/bin/bash /usr/bin/ec2-metadata -i");
    assert_eq!(
        identify(Some("curl/7.88.1"), Some(&p)).map(|i| i.row.id.as_str()),
        Some("amazon-ec2-utils-ec2-metadata")
    );
    // An agent beats the SDK its user agent names.
    let p = ProcessHint::new("/usr/bin/amazon-ssm-agent", "/usr/bin/amazon-ssm-agent");
    assert_eq!(identify(Some("aws-sdk-go/1.44.0"), Some(&p)).map(|i| i.row.id.as_str()), Some("amazon-ssm-agent"));
    let p = ProcessHint::new("/opt/datadog-agent/bin/agent/agent", "agent run");
    assert_eq!(identify(None, Some(&p)).map(|i| i.row.id.as_str()), Some("datadog-agent"));
    // No user agent from node: the JS SDK v3 (or a recent v2); not without a process.
    let p = ProcessHint::new("/usr/bin/node", "node app.js");
    assert_eq!(identify(None, Some(&p)).map(|i| i.row.id.as_str()), Some("aws-sdk-js-no-ua"));
    assert_eq!(identify(None, None), None);
    assert_eq!(language(None, Some(&ProcessHint::new("/usr/bin/python3", "python3 x.py"))), "python");
    assert_eq!(language(id("Go-http-client/1.1").as_ref(), None), "go");
    assert_eq!(language(None, None), "shell");
}
