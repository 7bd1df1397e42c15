//! The AWS SDK for Rust (aws-config) fetching instance credentials, as an application does
//! (issue 24), inside the test namespaces only (tests/clients_real.rs), where
//! 169.254.169.254 is the mock. Prints only whether credentials came back, never a value.

use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_credential_types::provider::ProvideCredentials;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let names: Vec<String> = std::fs::read_dir("/sys/class/net")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    if !names.iter().any(|n| ["h-imds", "h-ctr", "ctr0", "imds0"].contains(&n.as_str())) {
        eprintln!("refusing to run: not inside an imw- test namespace");
        std::process::exit(2);
    }
    let provider = ImdsCredentialsProvider::builder().build();
    let got = tokio::time::timeout(std::time::Duration::from_secs(20), provider.provide_credentials()).await;
    let ok = matches!(got, Ok(Ok(_)));
    println!("aws-config: credentials {}", if ok { "found" } else { "missing" });
    std::process::exit(if ok { 0 } else { 1 });
}
