//! The tracefs `format` file of a tracepoint, and the filter the kernel applies before a
//! sample is written. Field offsets are read from the running kernel, never assumed.

use std::collections::HashMap;

/// One field of a tracepoint record: where it is in the raw sample, and how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub offset: usize,
    pub size: usize,
}

/// The fields of a tracepoint, by name (`common_*` included).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TracepointFormat {
    pub fields: HashMap<String, Field>,
}

/// Most fields a format may declare (tracepoints have a few dozen at most).
const MAX_FIELDS: usize = 256;

impl TracepointFormat {
    /// Parses lines like `\tfield:__u16 sport;\toffset:24;\tsize:2;\tsigned:0;`. The name is
    /// the last word before `;` in the declaration, without an array suffix (`saddr[4]`).
    /// Lines that are not fields are ignored; a field with no offset or size is an error.
    pub fn parse(text: &str) -> Result<TracepointFormat, String> {
        let mut fields = HashMap::new();
        for line in text.lines() {
            let line = line.trim();
            let Some(rest) = line.strip_prefix("field:") else { continue };
            let mut parts = rest.split(';').map(str::trim);
            let decl = parts.next().unwrap_or_default();
            let (mut offset, mut size) = (None, None);
            for p in parts {
                if let Some(v) = p.strip_prefix("offset:") {
                    offset = v.trim().parse::<usize>().ok();
                } else if let Some(v) = p.strip_prefix("size:") {
                    size = v.trim().parse::<usize>().ok();
                }
            }
            let name = decl.rsplit([' ', '*']).next().unwrap_or_default();
            let name = name.split('[').next().unwrap_or_default();
            if name.is_empty() {
                return Err(format!("field without a name: {line:?}"));
            }
            let (Some(offset), Some(size)) = (offset, size) else {
                return Err(format!("field {name} without offset or size"));
            };
            if fields.len() >= MAX_FIELDS {
                return Err("too many fields".into());
            }
            fields.insert(name.to_string(), Field { offset, size });
        }
        Ok(TracepointFormat { fields })
    }

    /// The field `name`, checked to be `size` bytes long.
    pub fn field(&self, name: &str, size: usize) -> Result<Field, String> {
        match self.fields.get(name) {
            Some(f) if f.size == size => Ok(*f),
            Some(f) => Err(format!("field {name} is {} bytes, expected {size}", f.size)),
            None => Err(format!("no field {name}")),
        }
    }
}

/// The layout of `sock:inet_sock_set_state` this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetStateLayout {
    pub skaddr: Field,
    pub oldstate: Field,
    pub newstate: Field,
    pub sport: Field,
    pub dport: Field,
    pub family: Field,
    pub protocol: Field,
    pub saddr: Field,
    pub daddr: Field,
    pub saddr_v6: Field,
    pub daddr_v6: Field,
}

impl SetStateLayout {
    pub fn from_format(f: &TracepointFormat) -> Result<SetStateLayout, String> {
        Ok(SetStateLayout {
            skaddr: f.field("skaddr", 8)?,
            oldstate: f.field("oldstate", 4)?,
            newstate: f.field("newstate", 4)?,
            sport: f.field("sport", 2)?,
            dport: f.field("dport", 2)?,
            family: f.field("family", 2)?,
            protocol: f.field("protocol", 2)?,
            saddr: f.field("saddr", 4)?,
            daddr: f.field("daddr", 4)?,
            saddr_v6: f.field("saddr_v6", 16)?,
            daddr_v6: f.field("daddr_v6", 16)?,
        })
    }

    /// The end of the last field: a shorter sample is refused.
    pub fn min_len(&self) -> usize {
        [
            self.skaddr,
            self.oldstate,
            self.newstate,
            self.sport,
            self.dport,
            self.family,
            self.protocol,
            self.saddr,
            self.daddr,
            self.saddr_v6,
            self.daddr_v6,
        ]
        .iter()
        .map(|f| f.offset + f.size)
        .max()
        .unwrap_or(0)
    }
}

/// The layout of `sched:sched_process_exec` (the exec'd file and the pid that ran it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecLayout {
    /// `__data_loc char[]`: a u32 of (length << 16 | offset) into the record.
    pub filename: Field,
    pub pid: Field,
}

impl ExecLayout {
    pub fn from_format(f: &TracepointFormat) -> Result<ExecLayout, String> {
        Ok(ExecLayout { filename: f.field("filename", 4)?, pid: f.field("pid", 4)? })
    }
}

/// The layout of `sched:sched_process_fork` (parent and child pid, the child's comm).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForkLayout {
    pub parent_pid: Field,
    pub child_pid: Field,
    /// `__data_loc char[]`, as `ExecLayout::filename`.
    pub child_comm: Field,
}

impl ForkLayout {
    pub fn from_format(f: &TracepointFormat) -> Result<ForkLayout, String> {
        Ok(ForkLayout {
            parent_pid: f.field("parent_pid", 4)?,
            child_pid: f.field("child_pid", 4)?,
            child_comm: f.field("child_comm", 4)?,
        })
    }
}

/// TCP states of `include/net/tcp_states.h`.
pub const TCP_ESTABLISHED: i32 = 1;
pub const TCP_SYN_SENT: i32 = 2;
const IPPROTO_TCP: u16 = 6;

/// The tracepoint filter: TCP sockets towards the watched ports that enter SYN_SENT (the
/// connecting task's `connect()`: its pid is the client) or leave it (the source port is
/// only chosen after SYN_SENT is entered, so the next transition of the same socket carries
/// it). Everything else never reaches the ring. Ports are deduplicated and sorted.
pub fn filter(ports: &[u16]) -> String {
    let mut ports: Vec<u16> = ports.to_vec();
    ports.sort_unstable();
    ports.dedup();
    let dports = if ports.is_empty() {
        "dport != 0".to_string()
    } else {
        ports.iter().map(|p| format!("dport == {p}")).collect::<Vec<_>>().join(" || ")
    };
    format!("protocol == {IPPROTO_TCP} && ({dports}) && (newstate == {TCP_SYN_SENT} || oldstate == {TCP_SYN_SENT})")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/sys/kernel/tracing/events/sock/inet_sock_set_state/format` of Linux 6.18.
    const SET_STATE_6_18: &str = include_str!("../../../tests/fixtures/tracefs/inet_sock_set_state.format");

    #[test]
    fn kernel_format_parses_inet_sock_set_state() {
        let f = TracepointFormat::parse(SET_STATE_6_18).expect("parses");
        assert_eq!(f.fields.len(), 15);
        assert_eq!(f.fields["common_pid"], Field { offset: 4, size: 4 });
        let l = SetStateLayout::from_format(&f).expect("layout");
        assert_eq!(l.skaddr, Field { offset: 8, size: 8 });
        assert_eq!(l.sport, Field { offset: 24, size: 2 });
        assert_eq!(l.daddr, Field { offset: 36, size: 4 });
        assert_eq!(l.daddr_v6, Field { offset: 56, size: 16 });
        assert_eq!(l.min_len(), 72);
    }

    #[test]
    fn kernel_format_follows_moved_offsets() {
        // A kernel that put the states after the ports: offsets come from the file.
        let moved = SET_STATE_6_18.replace(
            "offset:16;\tsize:4;\tsigned:1;\n\tfield:int newstate",
            "offset:200;\tsize:4;\tsigned:1;\n\tfield:int newstate",
        );
        let l = SetStateLayout::from_format(&TracepointFormat::parse(&moved).expect("parses")).expect("layout");
        assert_eq!(l.oldstate.offset, 200);
        assert_eq!(l.min_len(), 204);
    }

    #[test]
    fn kernel_format_refuses_what_it_cannot_read() {
        let f = TracepointFormat::parse(
            &SET_STATE_6_18
                .replace("field:__u16 sport;\toffset:24;\tsize:2;", "field:__u32 sport;\toffset:24;\tsize:4;"),
        )
        .expect("parses");
        assert!(SetStateLayout::from_format(&f).expect_err("4-byte sport").contains("sport"));
        let f = TracepointFormat::parse(&SET_STATE_6_18.replace("saddr_v6", "src6")).expect("parses");
        assert_eq!(SetStateLayout::from_format(&f).expect_err("no saddr_v6"), "no field saddr_v6");
        assert!(TracepointFormat::parse("\tfield:int x;\toffset:zz;\tsize:4;").is_err());
        assert_eq!(TracepointFormat::parse("name: x\nID: 3\n").expect("no fields").fields.len(), 0);
    }

    #[test]
    fn kernel_format_parses_sched_process_exec_and_fork() {
        let f = TracepointFormat::parse(include_str!("../../../tests/fixtures/tracefs/sched_process_exec.format"))
            .expect("exec");
        let l = ExecLayout::from_format(&f).expect("exec layout");
        assert_eq!((l.filename, l.pid), (Field { offset: 8, size: 4 }, Field { offset: 12, size: 4 }));
        let f = TracepointFormat::parse(include_str!("../../../tests/fixtures/tracefs/sched_process_fork.format"))
            .expect("fork");
        let l = ForkLayout::from_format(&f).expect("fork layout");
        assert_eq!(l.parent_pid, Field { offset: 12, size: 4 });
        assert_eq!(l.child_comm, Field { offset: 16, size: 4 });
        assert_eq!(l.child_pid, Field { offset: 20, size: 4 });
        let f = TracepointFormat::parse(
            &include_str!("../../../tests/fixtures/tracefs/sched_process_fork.format").replace("child_pid", "cpid"),
        )
        .expect("parses");
        assert_eq!(ForkLayout::from_format(&f).expect_err("no child_pid"), "no field child_pid");
    }

    #[test]
    fn kernel_filter_string() {
        assert_eq!(filter(&[80]), "protocol == 6 && (dport == 80) && (newstate == 2 || oldstate == 2)");
        assert_eq!(
            filter(&[8080, 80, 80]),
            "protocol == 6 && (dport == 80 || dport == 8080) && (newstate == 2 || oldstate == 2)"
        );
        assert_eq!(filter(&[]), "protocol == 6 && (dport != 0) && (newstate == 2 || oldstate == 2)");
    }
}
