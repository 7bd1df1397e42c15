//! The only system calls of the kernel attribution path that need `unsafe`: opening a
//! tracepoint with perf_event_open(2), its filter and enable ioctls, the mmap of its ring,
//! reading records out of the ring, and mounting tracefs. Everything else is safe code.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

/// `struct perf_event_attr` up to `PERF_ATTR_SIZE_VER5` (112 bytes), `include/uapi/linux/perf_event.h`.
#[repr(C)]
#[derive(Default)]
struct Attr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
    config2: u64,
    branch_sample_type: u64,
    sample_regs_user: u64,
    sample_stack_user: u32,
    clockid: i32,
    sample_regs_intr: u64,
    aux_watermark: u32,
    sample_max_stack: u16,
    reserved: u16,
}

const PERF_TYPE_TRACEPOINT: u32 = 2;
const SAMPLE_TID: u64 = 1 << 1;
const SAMPLE_TIME: u64 = 1 << 2;
const SAMPLE_RAW: u64 = 1 << 10;
/// `disabled`: enabled only once the filter is in place.
const FLAG_DISABLED: u64 = 1 << 0;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;
/// `_IO('$', 0)` and `_IOW('$', 6, char *)`.
const IOC_ENABLE: libc::c_ulong = 0x2400;
const IOC_SET_FILTER: libc::c_ulong = 0x4000_2406 | ((std::mem::size_of::<usize>() as libc::c_ulong) << 16);

/// Record types read from the ring (`enum perf_event_type`).
pub const RECORD_LOST: u32 = 2;
pub const RECORD_SAMPLE: u32 = 9;

/// The sample layout asked for: `PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_RAW`.
pub const SAMPLE_TYPE: u64 = SAMPLE_TID | SAMPLE_TIME | SAMPLE_RAW;

/// One CPU's ring of one tracepoint: the perf fd and its mapping (a metadata page, then
/// `2^n` data pages).
pub struct Ring {
    fd: OwnedFd,
    base: *mut u8,
    len: usize,
    data_offset: usize,
    data_size: usize,
}

// SAFETY: the mapping is owned by this value alone (nothing else holds the pointer); the
// kernel writes only the data area and `data_head`, which are read through atomics and
// copies. Moving the owner to another thread is therefore sound.
unsafe impl Send for Ring {}

fn page_size() -> usize {
    // SAFETY: sysconf reads a constant of the running system; no pointers involved.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|&n| n >= 4096).unwrap_or(4096)
}

impl Ring {
    /// Opens tracepoint `id` on `cpu` for every process, with a ring of `pages` data pages
    /// (a power of two), sets `filter` (when given) and enables it. The fd becomes readable
    /// every `wakeup` samples.
    pub fn open(id: u64, cpu: i32, pages: usize, wakeup: u32, filter: Option<&CStr>) -> io::Result<Ring> {
        let attr = Attr {
            kind: PERF_TYPE_TRACEPOINT,
            size: std::mem::size_of::<Attr>() as u32,
            config: id,
            sample_period: 1,
            sample_type: SAMPLE_TYPE,
            flags: FLAG_DISABLED,
            wakeup_events: wakeup.max(1),
            ..Attr::default()
        };
        // SAFETY: `attr` is a valid, fully initialised perf_event_attr of the size it states,
        // alive for the call; pid -1 with a cpu and group -1 is a documented combination.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                &attr as *const Attr,
                -1 as libc::pid_t,
                cpu,
                -1,
                PERF_FLAG_FD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the syscall returned a new fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
        if let Some(filter) = filter {
            // SAFETY: SET_FILTER reads a NUL-terminated string, which `filter` is, alive for the call.
            if unsafe { libc::ioctl(raw, IOC_SET_FILTER as _, filter.as_ptr()) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        let len = (pages + 1) * page_size();
        // SAFETY: a fresh shared mapping of the perf fd, of the size perf requires (1 + 2^n
        // pages); the result is checked against MAP_FAILED.
        let base = unsafe {
            libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, raw, 0)
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mut ring = Ring { fd, base: base.cast(), len, data_offset: page_size(), data_size: pages * page_size() };
        // SAFETY: the metadata page is mapped; `data_offset`/`data_size` (u64 at 1040/1048 of
        // struct perf_event_mmap_page) are set by kernels since 4.1, else zero.
        let (off, size) = unsafe {
            (ring.base.add(1040).cast::<u64>().read_volatile(), ring.base.add(1048).cast::<u64>().read_volatile())
        };
        if size != 0 && (off as usize) + (size as usize) <= len {
            (ring.data_offset, ring.data_size) = (off as usize, size as usize);
        }
        // SAFETY: ENABLE takes no argument.
        if unsafe { libc::ioctl(raw, IOC_ENABLE as _, 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(ring)
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn head_tail(&self) -> (&AtomicU64, &AtomicU64) {
        // SAFETY: `data_head` and `data_tail` are naturally aligned u64 at offsets 1024 and
        // 1032 of the mapped metadata page, which lives as long as `self`; the kernel updates
        // `data_head` concurrently, hence atomics.
        unsafe { (&*self.base.add(1024).cast::<AtomicU64>(), &*self.base.add(1032).cast::<AtomicU64>()) }
    }

    /// Hands each record in the ring to `f` as (type, body after the 8-byte header), then
    /// frees the space. A record is copied out first (it may wrap around the ring's end).
    pub fn drain(&mut self, scratch: &mut Vec<u8>, f: &mut dyn FnMut(u32, &[u8])) {
        let (head_a, tail_a) = self.head_tail();
        let head = head_a.load(Ordering::Acquire);
        let mut tail = tail_a.load(Ordering::Relaxed);
        let size = self.data_size as u64;
        while tail + 8 <= head {
            let mut hdr = [0u8; 8];
            self.copy_out(tail, &mut hdr);
            let kind = u32::from_ne_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
            let len = u64::from(u16::from_ne_bytes([hdr[6], hdr[7]]));
            if len < 8 || tail + len > head || len > size {
                tail = head; // a corrupt header: skip what is there rather than loop
                break;
            }
            scratch.resize(len as usize - 8, 0);
            self.copy_out(tail + 8, scratch);
            f(kind, scratch);
            tail += len;
        }
        let (_, tail_a) = self.head_tail();
        tail_a.store(tail, Ordering::Release);
    }

    fn copy_out(&self, pos: u64, out: &mut [u8]) {
        let size = self.data_size;
        for (i, b) in out.iter_mut().enumerate() {
            let at = (pos as usize + i) % size;
            // SAFETY: `at < data_size` and the data area [data_offset, data_offset + data_size)
            // lies inside the mapping (checked in `open`).
            *b = unsafe { self.base.add(self.data_offset + at).read_volatile() };
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: `base`/`len` are the mapping made in `open`, unmapped once, here.
        unsafe {
            libc::munmap(self.base.cast(), self.len);
        }
    }
}

/// Mounts tracefs at `target` (an existing, empty directory). Needs CAP_SYS_ADMIN.
pub fn mount_tracefs(target: &CStr) -> io::Result<()> {
    // SAFETY: all pointers are NUL-terminated strings alive for the call; no data argument.
    let r = unsafe { libc::mount(c"nodev".as_ptr(), target.as_ptr(), c"tracefs".as_ptr(), 0, std::ptr::null()) };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}
