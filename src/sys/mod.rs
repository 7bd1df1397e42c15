//! The only `unsafe` code of imdswatch: the system calls that need it, each block with its
//! safety argument. A leaf: it imports nothing of the crate. `perf`: perf_event_open(2), its
//! ioctls, the mmap of its ring and reading records out of it, and mounting tracefs (the
//! kernel attribution path); [`ethtool_ioctl`]: a network driver's statistics (the ENA
//! link-local counter, `capture::ethtool`).
#![allow(unsafe_code)]

pub mod perf;

use std::os::fd::{AsRawFd, OwnedFd};

const SIOCETHTOOL: libc::c_ulong = 0x8946;

/// One `SIOCETHTOOL` request on `fd` for interface `name` with the command buffer `buf`.
pub fn ethtool_ioctl(fd: &OwnedFd, name: &[u8], buf: &mut [u64]) -> bool {
    // SAFETY: `ifreq` is plain data (zeroed is a valid value). Its name holds at most
    // IFNAMSIZ - 1 bytes and stays NUL-terminated; `ifru_data` points at `buf`, which lives
    // and is not otherwise borrowed for the whole call. The kernel writes the command's
    // header and, for GSTRINGS/GSTATS, the number of entries the header asks for (or none
    // when that is not the driver's count; see the module's note): `buf` holds the header and
    // that many entries.
    unsafe {
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (d, s) in ifr.ifr_name.iter_mut().zip(name.iter().take(libc::IFNAMSIZ - 1)) {
            *d = *s as libc::c_char;
        }
        ifr.ifr_ifru.ifru_data = buf.as_mut_ptr().cast::<libc::c_char>();
        libc::ioctl(fd.as_raw_fd(), SIOCETHTOOL as _, &mut ifr) == 0
    }
}
