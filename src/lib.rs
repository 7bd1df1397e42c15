//! imdswatch: find every process still calling the EC2 instance metadata service with IMDSv1.
//!
//! The data path is the module layout:
//! `capture` → `decode` → `flow` (reassembly, table) → `http` → `classify` → `attribute` → `sink`.
//! `engine` joins decode..classify into one packet-source-agnostic stage that both
//! `analyze` (files) and `live` (libpcap) feed. The IaC check of Terraform and
//! CloudFormation is its own crate (`crates/iac`, `imdswatch-iac`) and shares nothing with the
//! packet path. Every output is a `sink::Sink`,
//! fed by the one `sink::Driver`; `time`, `endpoint`, `event`, `exit` and `signals` are leaves
//! any module may use. ARCHITECTURE.md has the module graph and the live threads.
//! `verdict` (after `engine`) judges each client's finished requests: what enforcing IMDSv2
//! would do to it, and the advice.

pub mod analyze;
pub mod attribute;
pub mod bell;
pub mod capture;
pub mod classify;
pub mod cli;
pub mod decode;
pub mod endpoint;
pub mod engine;
pub mod event;
pub mod exit;
pub mod flow;
pub mod http;
pub mod live;
pub mod notify;
pub mod secret;
pub mod signals;
pub mod sink;
pub mod sys;
pub mod text;
pub mod time;
pub mod ui;
pub mod verdict;
