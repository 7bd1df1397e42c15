use super::*;

const FORMAT: &str = include_str!("../../../tests/fixtures/tracefs/inet_sock_set_state.format");

fn layout() -> SetStateLayout {
    SetStateLayout::from_format(&Format::parse(FORMAT).expect("format")).expect("layout")
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
    KernelSource::with_rings(Vec::new(), layout(), &AttributeConfig::default())
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
