//! Attribution against the real /proc: loopback connections of this test process, of a child
//! process (alive, then killed), and of a process inside a network namespace of its own.
//! Only loopback addresses are used; the namespace test runs only as root with `ip netns`.

// A test fails by panicking: unwrap is how it says "this must work".
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};

use imdswatch::attribute::{AttributeConfig, Attributor, host};
use imdswatch::event::{Attribution, AttributionMiss};

fn pid_of(a: &Attribution) -> Option<u32> {
    a.process.as_ref().map(|p| p.pid)
}

/// A connected pair: (client side, accepted side), with the listener kept open.
fn connect(bind: &str) -> std::io::Result<(TcpListener, TcpStream, TcpStream)> {
    let listener = TcpListener::bind(bind)?;
    let client = TcpStream::connect(listener.local_addr()?)?;
    let (accepted, _) = listener.accept()?;
    Ok((listener, client, accepted))
}

fn check_self(bind: &str) {
    let (_l, client, accepted) = match connect(bind) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("SKIP attribute loopback {bind}: cannot listen/connect: {e}");
            return;
        }
    };
    let (local, peer) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
    // The /proc/net/tcp{,6} path (no netlink) finds the same process.
    let plain = AttributeConfig { netlink: false, ..AttributeConfig::default() };
    let via_proc = Attributor::with_config(plain).lookup(local, peer);
    assert_eq!(pid_of(&via_proc), Some(std::process::id()), "{via_proc:?}");
    let mut att = Attributor::new();
    let a = att.lookup(local, peer);
    assert_eq!(a.miss, None, "{a:?}");
    assert_eq!(a, via_proc);
    let p = a.process.as_ref().unwrap();
    assert_eq!(p.pid, std::process::id());
    let exe = std::env::current_exe().unwrap();
    assert_eq!(p.file.path.as_deref(), exe.to_str());
    assert_eq!(Some(p.file.name.as_str()), exe.file_name().and_then(|n| n.to_str()));
    assert!(!p.ancestors.is_empty(), "a test binary has a parent");
    // The accepting side: same process, reversed tuple.
    let b = att.lookup(accepted.local_addr().unwrap(), accepted.peer_addr().unwrap());
    assert_eq!(pid_of(&b), Some(std::process::id()), "{b:?}");
    // Warm lookup: from the caches, same answer.
    assert_eq!(att.lookup(local, peer), a);
    let s = att.stats();
    assert_eq!(s.lookups, 3);
    assert!(s.inode_hits >= 1 && s.process_hits >= 1, "{s:?}");
}

#[test]
fn attribute_loopback_v4() {
    check_self("127.0.0.1:0");
}

#[test]
fn attribute_loopback_v6() {
    check_self("[::1]:0");
}

#[test]
fn attribute_unknown_socket() {
    let mut att = Attributor::new();
    // Port 1 of loopback to port 1: no such connection.
    let a = att.lookup("127.0.0.1:1".parse().unwrap(), "127.0.0.1:2".parse().unwrap());
    assert_eq!(a.miss, Some(AttributionMiss::NoSocket));
    assert_eq!(a.process, None);
}

#[test]
fn attribute_host_name() {
    let h = host();
    let want = std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|s| s.trim().to_string());
    assert_eq!(h, want);
}

/// Kills and reaps a child when dropped.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have(cmd: &str) -> bool {
    Command::new(cmd).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// Reads one line of "key value" pairs printed by a child.
fn read_line(child: &mut Child) -> String {
    let mut line = String::new();
    let out = child.stdout.as_mut().unwrap();
    BufReader::new(out).read_line(&mut line).unwrap();
    line
}

const CHILD: &str = "import socket,sys,time\n\
s=socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n\
print(s.getsockname()[1], flush=True)\n\
time.sleep(60)\n";

#[test]
fn attribute_child_process_then_exited() {
    if !have("python3") {
        eprintln!("SKIP attribute_child_process_then_exited: python3 not found");
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap();
    let secret = "AQAEAsecretTokenValue";
    let child = Command::new("python3")
        .args(["-c", CHILD, &server.port().to_string(), "-H", &format!("X-aws-ec2-metadata-token: {secret}")])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Reap(child);
    let port: u16 = read_line(&mut child.0).trim().parse().unwrap();
    let _accepted = listener.accept().unwrap();
    let client = SocketAddr::from(([127, 0, 0, 1], port));

    let mut att = Attributor::new();
    let a = att.lookup(client, server);
    let p = a.process.as_ref().unwrap_or_else(|| panic!("{a:?}"));
    assert_eq!(p.pid, child.0.id());
    assert!(p.file.name.starts_with("python3"), "{}", p.file.name);
    assert!(p.cmdline.contains("python3 -c import socket"), "{}", p.cmdline);
    assert!(p.cmdline.ends_with("X-aws-ec2-metadata-token: [REDACTED]"), "{}", p.cmdline);
    assert!(!p.cmdline.contains(secret));
    assert_eq!(p.ancestors.first().map(|a| a.pid), Some(std::process::id()));
    assert_eq!(p.uid, unsafe_free_uid());

    // Gone: the socket's owner exits; the details seen before still name it.
    drop(child);
    let b = att.lookup(client, server);
    match (&b.process, b.miss) {
        (Some(q), None) => assert_eq!(q, p),
        (None, Some(AttributionMiss::Exited | AttributionMiss::NoSocket)) => {}
        other => panic!("unexpected after exit: {other:?}"),
    }
    assert_eq!(b, a, "the connection cache keeps the exited process");
    assert!(att.stats().conn_hits >= 1);
    // A fresh attributor never saw it: a clear miss, not a wrong process.
    let c = Attributor::new().lookup(client, server);
    assert!(matches!(c.miss, Some(AttributionMiss::Exited | AttributionMiss::NoSocket)), "{c:?}");
}

/// This process's effective uid, from /proc (the crate forbids unsafe code).
fn unsafe_free_uid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(2).unwrap().parse().unwrap()
}

/// Deletes the namespace when dropped.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

const NS_CHILD: &str = "import os,socket,time\n\
l=socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1)\n\
c=socket.create_connection(l.getsockname()); a,_=l.accept()\n\
print(os.getpid(), c.getsockname()[1], l.getsockname()[1], flush=True)\n\
time.sleep(60)\n";

#[test]
fn attribute_network_namespace() {
    if unsafe_free_uid() != 0 {
        eprintln!("SKIP attribute_network_namespace: needs root for ip netns");
        return;
    }
    if !have("python3") {
        eprintln!("SKIP attribute_network_namespace: python3 not found");
        return;
    }
    let name = format!("imw-attr-test-{}", std::process::id());
    match Command::new("ip").args(["netns", "add", &name]).stderr(Stdio::piped()).output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            eprintln!("SKIP attribute_network_namespace: ip netns add: {}", String::from_utf8_lossy(&o.stderr));
            return;
        }
        Err(e) => {
            eprintln!("SKIP attribute_network_namespace: ip: {e}");
            return;
        }
    }
    let ns = Netns(name);
    let up = Command::new("ip").args(["netns", "exec", &ns.0, "ip", "link", "set", "lo", "up"]).status();
    assert!(up.is_ok_and(|s| s.success()), "lo up in {}", ns.0);
    let child = Command::new("ip")
        .args(["netns", "exec", &ns.0, "python3", "-c", NS_CHILD])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Reap(child);
    let line = read_line(&mut child.0);
    let f: Vec<u32> = line.split_whitespace().map(|s| s.parse().unwrap()).collect();
    let (pid, cport, sport) = (f[0], f[1] as u16, f[2] as u16);

    // The host namespace has its own 127.0.0.1 connection to the same server port when free.
    let host_side = connect(&format!("127.0.0.1:{sport}")).or_else(|_| connect("127.0.0.1:0")).unwrap();
    let host_client = host_side.1.local_addr().unwrap();

    let mut att = Attributor::new();
    let client = SocketAddr::from(([127, 0, 0, 1], cport));
    let server = SocketAddr::from(([127, 0, 0, 1], sport));
    eprintln!("ns: {client} -> {server}; host: {host_client} -> {:?}", host_side.1.peer_addr());
    let a = att.lookup(client, server);
    assert_eq!(pid_of(&a), Some(pid), "{a:?}");
    assert!(att.stats().namespaces >= 2, "{:?}", att.stats());
    // The server side inside the namespace, and the host's own connection.
    assert_eq!(pid_of(&att.lookup(server, client)), Some(pid));
    let h = att.lookup(host_client, host_side.1.peer_addr().unwrap());
    assert_eq!(pid_of(&h), Some(std::process::id()), "{h:?}");
    drop(child);
    drop(ns);
}

/// Regression (CI, issue 3): the kernel's newest id was a test thread's, and the fast path
/// reported the thread id as the pid. A socket made on a brand-new thread must still name
/// the process.
#[test]
fn attribute_socket_made_on_a_new_thread_names_the_process() {
    let found = std::thread::spawn(|| {
        let (_l, client, _accepted) = match connect("127.0.0.1:0") {
            Ok(c) => c,
            Err(e) => {
                eprintln!("SKIPPED attribute_socket_made_on_a_new_thread_names_the_process: {e}");
                return None;
            }
        };
        let (local, peer) = (client.local_addr().ok()?, client.peer_addr().ok()?);
        Some(Attributor::new().lookup(local, peer))
    })
    .join()
    .expect("thread");
    if let Some(a) = found {
        assert_eq!(pid_of(&a), Some(std::process::id()), "{a:?}");
    }
}
