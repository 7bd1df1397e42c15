//! Readiness for the service manager (systemd's `Type=notify`): once the capture handles and
//! the kernel rings are open, `live` sends `READY=1` to `$NOTIFY_SOCKET`. The unit orders
//! `cloud-init` and the node agents after imdswatch (`dist/imdswatch.service`), so with this
//! their first IMDS calls are captured instead of racing the start-up.
//!
//! The protocol is one datagram on a Unix socket (sd_notify(3)); an address starting with `@`
//! is in the abstract namespace. No socket named, nothing is sent.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// The variable systemd sets for a `Type=notify` service.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Sends `READY=1` when the service manager asked for it; `Ok(false)` when it did not.
pub fn ready() -> io::Result<bool> {
    match std::env::var_os(NOTIFY_SOCKET) {
        Some(addr) if !addr.is_empty() => send(&addr.to_string_lossy(), "READY=1\n").map(|()| true),
        _ => Ok(false),
    }
}

/// Sends one notification `state` (`KEY=VALUE` lines) to the socket at `addr`.
pub fn send(addr: &str, state: &str) -> io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    let to = socket_addr(addr)?;
    let sent = sock.send_to_addr(state.as_bytes(), &to)?;
    if sent == state.len() { Ok(()) } else { Err(io::Error::other("notification truncated")) }
}

fn socket_addr(addr: &str) -> io::Result<SocketAddr> {
    match addr.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes())
        }
        None if addr.starts_with('/') => SocketAddr::from_pathname(addr),
        None => Err(io::Error::new(io::ErrorKind::InvalidInput, "NOTIFY_SOCKET is neither a path nor @abstract")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_socket_gets_ready() {
        let dir = std::env::temp_dir().join(format!("imdswatch-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("notify test");
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let rx = UnixDatagram::bind(&path).expect("notify test");
        send(path.to_str().expect("notify test"), "READY=1\n").expect("notify test");
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).expect("notify test");
        assert_eq!(&buf[..n], b"READY=1\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_abstract_socket_gets_ready() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("imdswatch-notify-test-{}", std::process::id());
        let rx = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).expect("notify test"))
            .expect("notify test");
        send(&format!("@{name}"), "READY=1\n").expect("notify test");
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).expect("notify test");
        assert_eq!(&buf[..n], b"READY=1\n");
    }

    #[test]
    fn a_relative_name_is_refused() {
        assert!(send("notify.sock", "READY=1\n").is_err());
    }
}
