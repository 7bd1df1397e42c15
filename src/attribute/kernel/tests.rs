use super::*;

const FORMAT: &str = include_str!("../../../tests/fixtures/tracefs/inet_sock_set_state.format");

fn layout() -> SetStateLayout {
    SetStateLayout::from_format(&TracepointFormat::parse(FORMAT).expect("format")).expect("layout")
}

/// A PERF_RECORD_SAMPLE body (TID, TIME, RAW) around a raw tracepoint record.
fn sample(pid: u32, time: u64, raw: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&pid.to_ne_bytes());
    b.extend_from_slice(&(pid + 1).to_ne_bytes());
    b.extend_from_slice(&time.to_ne_bytes());
    b.extend_from_slice(&(raw.len() as u32).to_ne_bytes());
    b.extend_from_slice(raw);
    b
}

#[allow(clippy::too_many_arguments)]
fn raw(
    skaddr: u64,
    old: i32,
    new: i32,
    family: u16,
    sport: u16,
    dport: u16,
    s4: [u8; 4],
    d4: [u8; 4],
    s6: [u8; 16],
    d6: [u8; 16],
) -> Vec<u8> {
    let mut r = vec![0u8; 76]; // 72 bytes of fields, padded as the kernel does
    r[8..16].copy_from_slice(&skaddr.to_ne_bytes());
    r[16..20].copy_from_slice(&old.to_ne_bytes());
    r[20..24].copy_from_slice(&new.to_ne_bytes());
    r[24..26].copy_from_slice(&sport.to_ne_bytes());
    r[26..28].copy_from_slice(&dport.to_ne_bytes());
    r[28..30].copy_from_slice(&family.to_ne_bytes());
    r[30..32].copy_from_slice(&6u16.to_ne_bytes());
    r[32..36].copy_from_slice(&s4);
    r[36..40].copy_from_slice(&d4);
    r[40..56].copy_from_slice(&s6);
    r[56..72].copy_from_slice(&d6);
    r
}

#[test]
fn kernel_sample_syn_sent_gives_the_pid() {
    let r = raw(0xffff_8880_1234_5678, 7, 2, 2, 0, 80, [10, 0, 0, 2], [169, 254, 169, 254], [0; 16], [0; 16]);
    let s = parse_sample(&sample(4242, 99, &r), &layout()).expect("sample");
    assert_eq!(s, Sample { pid: 4242, time: 99, what: Transition::SynSent { skaddr: 0xffff_8880_1234_5678 } });
}

#[test]
fn kernel_sample_established_gives_the_ipv4_and_ipv6_tuples() {
    let r = raw(7, 2, 1, 2, 40_000, 80, [10, 0, 0, 2], [169, 254, 169, 254], [0; 16], [0; 16]);
    let s = parse_sample(&sample(0, 5, &r), &layout()).expect("sample");
    let (client, server): (SocketAddr, SocketAddr) =
        ("10.0.0.2:40000".parse().expect("addr"), "169.254.169.254:80".parse().expect("addr"));
    assert_eq!(s.what, Transition::Left { skaddr: 7, newstate: 1, client, server });

    let d6: Ipv6Addr = "fd00:ec2::254".parse().expect("v6");
    let s6: Ipv6Addr = "fd00:ec2::10".parse().expect("v6");
    let r = raw(8, 2, 1, 10, 40_001, 80, [0; 4], [0; 4], s6.octets(), d6.octets());
    let s = parse_sample(&sample(0, 6, &r), &layout()).expect("sample");
    let (client, server) = ("[fd00:ec2::10]:40001".parse().expect("addr"), "[fd00:ec2::254]:80".parse().expect("addr"));
    assert_eq!(s.what, Transition::Left { skaddr: 8, newstate: 1, client, server });

    // An IPv6 socket talking to an IPv4 address (v4-mapped) matches the IPv4 flow.
    let m4: Ipv6Addr = "::ffff:169.254.169.254".parse().expect("v6");
    let m4c: Ipv6Addr = "::ffff:10.0.0.2".parse().expect("v6");
    let r = raw(9, 2, 1, 10, 40_002, 80, [0; 4], [0; 4], m4c.octets(), m4.octets());
    let Transition::Left { client, server, .. } = parse_sample(&sample(0, 7, &r), &layout()).expect("sample").what
    else {
        panic!("not a Left")
    };
    assert_eq!((client.to_string(), server.to_string()), ("10.0.0.2:40002".into(), "169.254.169.254:80".into()));
}

#[test]
fn kernel_sample_refuses_short_and_odd_input() {
    let l = layout();
    let r = raw(7, 2, 1, 2, 1, 80, [0; 4], [0; 4], [0; 16], [0; 16]);
    assert!(parse_sample(&sample(1, 1, &r[..60]), &l).is_none(), "raw shorter than the fields");
    let mut cut = sample(1, 1, &r);
    cut.truncate(50);
    assert!(parse_sample(&cut, &l).is_none(), "raw size beyond the record");
    assert!(parse_sample(&[0u8; 10], &l).is_none());
    let r = raw(7, 2, 1, 99, 1, 80, [0; 4], [0; 4], [0; 16], [0; 16]);
    assert!(parse_sample(&sample(1, 1, &r), &l).is_none(), "unknown family");
    let r = raw(7, 1, 4, 2, 1, 80, [0; 4], [0; 4], [0; 16], [0; 16]);
    assert!(parse_sample(&sample(1, 1, &r), &l).is_none(), "not a SYN_SENT transition");
}

#[test]
fn kernel_cpus_lists_at_least_one() {
    assert!(!cpus().is_empty());
}

fn source() -> KernelSource {
    KernelSource::with_rings(Vec::new(), &AttributeConfig::default())
}

fn tuple(port: u16) -> (SocketAddr, SocketAddr) {
    (SocketAddr::from(([10, 0, 0, 2], port)), SocketAddr::from(([169, 254, 169, 254], 80)))
}

fn left(skaddr: u64, newstate: i32, port: u16, time: u64) -> Sample {
    let (client, server) = tuple(port);
    Sample { pid: 0, time, what: Transition::Left { skaddr, newstate, client, server } }
}

#[test]
fn kernel_join_names_the_connecting_process_in_either_order() {
    let me = std::process::id();
    let mut k = source();
    let shared = k.shared();
    // SYN_SENT (pid: this test process), then ESTABLISHED (softirq: pid 0) with the port.
    k.handle(Sample { pid: me, time: 1, what: Transition::SynSent { skaddr: 11 } });
    k.handle(left(11, TCP_ESTABLISHED, 40_000, 2));
    let (c, s) = tuple(40_000);
    let a = shared.get(c, s).expect("joined");
    assert_eq!(a.process.as_ref().map(|p| p.pid), Some(me));
    assert_eq!(a.source, Some(AttributionSource::Kernel));
    // The second sample read first (it sat in another CPU's ring).
    k.handle(left(12, TCP_ESTABLISHED, 40_001, 4));
    k.handle(Sample { pid: me, time: 3, what: Transition::SynSent { skaddr: 12 } });
    let (c, s) = tuple(40_001);
    assert_eq!(shared.get(c, s).and_then(|a| a.process).map(|p| p.pid), Some(me));
    // A refused connect (SYN_SENT -> CLOSE) names nothing.
    k.handle(Sample { pid: me, time: 5, what: Transition::SynSent { skaddr: 13 } });
    k.handle(left(13, 7, 40_002, 6));
    let (c, s) = tuple(40_002);
    assert!(shared.get(c, s).is_none());
    assert_eq!(shared.counters.connects.load(Relaxed), 2);
}

#[test]
fn kernel_join_keeps_the_pid_of_a_process_already_gone() {
    let mut k = source();
    let shared = k.shared();
    let gone = u32::MAX - 7; // no such pid
    k.handle(Sample { pid: gone, time: 1, what: Transition::SynSent { skaddr: 21 } });
    k.handle(left(21, TCP_ESTABLISHED, 40_010, 2));
    let (c, s) = tuple(40_010);
    let a = shared.get(c, s).expect("joined");
    assert!(a.process.is_none());
    assert_eq!(a.pid, Some(gone));
    assert_eq!(a.miss, Some(AttributionMiss::Exited));
    assert!(a.missing.contains(&"exe"));
    assert_eq!(shared.counters.proc_gone.load(Relaxed), 1);
}

#[test]
fn kernel_pending_table_is_bounded_and_counted() {
    let mut k = source();
    let shared = k.shared();
    for i in 0..(PENDING as u64 + 10) {
        k.handle(Sample { pid: u32::MAX - 7, time: i, what: Transition::SynSent { skaddr: 1000 + i } });
    }
    assert_eq!(k.pending.len(), PENDING);
    assert_eq!(shared.counters.pending_evicted.load(Relaxed), 10);
}

const EXEC_FORMAT: &str = include_str!("../../../tests/fixtures/tracefs/sched_process_exec.format");
const FORK_FORMAT: &str = include_str!("../../../tests/fixtures/tracefs/sched_process_fork.format");

/// A `sched_process_exec` raw record as Linux 6.18 writes it: fields, then the string.
fn exec_raw(pid: i32, filename: &str) -> Vec<u8> {
    let mut r = vec![0u8; 20];
    let loc = ((filename.len() as u32 + 1) << 16) | 20;
    r[8..12].copy_from_slice(&loc.to_ne_bytes());
    r[12..16].copy_from_slice(&pid.to_ne_bytes());
    r[16..20].copy_from_slice(&pid.to_ne_bytes());
    r.extend_from_slice(filename.as_bytes());
    r.push(0);
    r
}

/// A `sched_process_fork` raw record: two comms after the fields.
fn fork_raw(parent: i32, child: i32, comm: &str) -> Vec<u8> {
    let mut r = vec![0u8; 24];
    let parent_comm = "bash";
    let (p_off, c_off) = (24u32, 24 + parent_comm.len() as u32 + 1);
    r[8..12].copy_from_slice(&(((parent_comm.len() as u32 + 1) << 16) | p_off).to_ne_bytes());
    r[12..16].copy_from_slice(&parent.to_ne_bytes());
    r[16..20].copy_from_slice(&(((comm.len() as u32 + 1) << 16) | c_off).to_ne_bytes());
    r[20..24].copy_from_slice(&child.to_ne_bytes());
    for s in [parent_comm, comm] {
        r.extend_from_slice(s.as_bytes());
        r.push(0);
    }
    r
}

fn exec_layout() -> ExecLayout {
    ExecLayout::from_format(&TracepointFormat::parse(EXEC_FORMAT).expect("format")).expect("layout")
}

fn fork_layout() -> ForkLayout {
    ForkLayout::from_format(&TracepointFormat::parse(FORK_FORMAT).expect("format")).expect("layout")
}

#[test]
fn kernel_sched_samples_give_the_exec_file_and_the_fork_parent() {
    let body = sample(77, 5, &exec_raw(4242, "/usr/bin/curl"));
    let Some(Event::Proc(t, ev)) = parse_event(Source::Exec(exec_layout()), &body) else { panic!("exec") };
    assert_eq!((t, ev), (5, ProcEvent::Exec { pid: 4242, filename: "/usr/bin/curl".into() }));
    let body = sample(77, 6, &fork_raw(4000, 4242, "sh"));
    let Some(Event::Proc(t, ev)) = parse_event(Source::Fork(fork_layout()), &body) else { panic!("fork") };
    assert_eq!((t, ev), (6, ProcEvent::Fork { parent: 4000, child: 4242, comm: "sh".into() }));
}

#[test]
fn kernel_sched_samples_refuse_odd_input() {
    let (e, f) = (exec_layout(), fork_layout());
    // The string's location points past the record.
    let mut r = exec_raw(1, "/bin/true");
    r[8..12].copy_from_slice(&((200u32 << 16) | 20).to_ne_bytes());
    assert!(shadow::parse_exec(&r, &e).is_none());
    // Shorter than the fields, pid 0 or negative.
    assert!(shadow::parse_exec(&exec_raw(1, "/x")[..14], &e).is_none());
    assert!(shadow::parse_exec(&exec_raw(0, "/x"), &e).is_none());
    assert!(shadow::parse_fork(&fork_raw(5, -3, "x"), &f).is_none());
    assert!(parse_event(Source::Fork(f), &[0u8; 12]).is_none());
    // A name that is not UTF-8 is kept, lossily; one without its NUL ends at its length.
    let mut r = exec_raw(9, "/tmp/ab");
    *r.last_mut().expect("NUL") = 0xff;
    assert_eq!(shadow::parse_exec(&r, &e), Some(ProcEvent::Exec { pid: 9, filename: "/tmp/ab\u{fffd}".into() }));
}

#[test]
fn kernel_shadow_table_names_a_client_gone_from_proc() {
    let mut k = source();
    let shared = k.shared();
    let me = std::process::id();
    let mut child = std::process::Command::new("sleep").arg("30").spawn().expect("spawn sleep");
    let pid = child.id();
    // spawn() returns once exec has begun; the arguments are in place a moment later (the
    // tracepoint fires after that, so the monitor always reads them later than this).
    for _ in 0..2_000 {
        if std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    // Fork and exec are read while the child lives ...
    k.proc_event(10, ProcEvent::Fork { parent: me, child: pid, comm: "imdswatch-test".into() });
    k.proc_event(11, ProcEvent::Exec { pid, filename: "/no/such/sleep-by-event".into() });
    // ... its connect only once it is gone.
    let _ = child.kill();
    let _ = child.wait();
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "child reaped");
    k.handle(Sample { pid, time: 12, what: Transition::SynSent { skaddr: 31 } });
    k.handle(left(31, TCP_ESTABLISHED, 40_020, 13));
    let (c, s) = tuple(40_020);
    let a = shared.get(c, s).expect("joined");
    assert_eq!(a.source, Some(AttributionSource::Kernel));
    assert_eq!(a.miss, None);
    let p = a.process.expect("named by the shadow table");
    assert_eq!(p.pid, pid);
    // /proc/PID/exe was read at exec time (the event's file name is only the fallback).
    let exe = p.file.path.as_deref().expect("exe");
    assert!(exe.ends_with("sleep"), "{exe}");
    assert!(p.cmdline.contains("30"), "{p:?}");
    assert_eq!(p.ancestors.first().map(|a| a.pid), Some(me), "parent is this test");
    assert!(p.ancestors.len() >= 2, "the chain goes on through /proc: {:?}", p.ancestors);
    assert!(a.missing.is_empty(), "{:?}", a.missing);
    assert_eq!(shared.counters.shadow_hits.load(Relaxed), 0, "published at the end of a pass");
    k.pass();
    assert_eq!(shared.counters.shadow_hits.load(Relaxed), 1);
    assert_eq!(shared.counters.proc_gone.load(Relaxed), 0);
    assert_eq!(shared.counters.proc_events.load(Relaxed), 2);
}

#[test]
fn kernel_shadow_table_says_what_it_does_not_know() {
    let mut k = source();
    let shared = k.shared();
    let me = std::process::id();
    // An exec of a pid that was never readable: only the event's file name and the parent
    // (from the fork, inherited from this process) are known.
    let gone = u32::MAX - 9;
    k.proc_event(1, ProcEvent::Fork { parent: me, child: gone, comm: "short".into() });
    k.proc_event(2, ProcEvent::Exec { pid: gone, filename: "/usr/bin/curl".into() });
    k.handle(Sample { pid: gone, time: 3, what: Transition::SynSent { skaddr: 41 } });
    k.handle(left(41, TCP_ESTABLISHED, 40_030, 4));
    let (c, s) = tuple(40_030);
    let a = shared.get(c, s).expect("joined");
    let p = a.process.expect("named");
    assert_eq!((p.file.name.as_str(), p.file.path.as_deref()), ("curl", Some("/usr/bin/curl")));
    assert_eq!(p.ancestors.first().map(|a| a.pid), Some(me));
    assert_eq!(p.uid, std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m)).expect("uid"));
    // The container (cgroup) is inherited at fork; the command line changed at exec.
    assert_eq!(a.missing, vec!["cmdline"]);
    // A connect older than the entry (a reused pid) is not answered from it.
    k.recent.clear();
    k.handle(Sample { pid: gone, time: 1, what: Transition::SynSent { skaddr: 42 } });
    k.handle(left(42, TCP_ESTABLISHED, 40_031, 5));
    let (c, s) = tuple(40_031);
    assert!(shared.get(c, s).expect("joined").process.is_none());
}

#[test]
fn kernel_shadow_table_is_bounded_and_counted() {
    let mut k = source();
    let gone = u32::MAX - 100_000;
    k.proc_event(0, ProcEvent::Exec { pid: gone, filename: "/bin/sh".into() });
    for i in 1..=(shadow::SHADOW as u32 + 5) {
        k.proc_event(u64::from(i), ProcEvent::Fork { parent: gone, child: gone + i, comm: "sh".into() });
    }
    k.pass();
    assert_eq!(k.shadow.len(), shadow::SHADOW);
    assert_eq!(k.shared().counters.shadow_evicted.load(Relaxed), 6);
}

#[test]
fn kernel_shadow_table_completes_a_process_read_while_exiting() {
    let mut k = source();
    let gone = u32::MAX - 11;
    k.proc_event(1, ProcEvent::Fork { parent: std::process::id(), child: gone, comm: "sh".into() });
    k.proc_event(2, ProcEvent::Exec { pid: gone, filename: "/usr/bin/curl".into() });
    // /proc answered, but the exe link and the memory were already gone.
    let mut p = crate::event::Process {
        pid: gone,
        file: crate::event::ProcessFile { name: "curl".into(), path: None },
        cmdline: String::new(),
        uid: 0,
        user: None,
        ancestors: Vec::new(),
    };
    assert_eq!(k.shadow.complete(&mut p, 3), vec!["cmdline"], "the exec named the file, not the arguments");
    assert_eq!(p.file.path.as_deref(), Some("/usr/bin/curl"));
    p.file.path = None;
    assert_eq!(k.shadow.complete(&mut p, 0), vec!["exe", "cmdline"], "older than the entry");
}
