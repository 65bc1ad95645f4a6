//! The machine checks livecache makes before it starts (io_uring available, enough locked
//! memory), the CPUs the process may use, and why a start failed, worded for the operator who
//! must fix it. Used by the runtime, the admin listener and the configuration's defaults; it
//! imports none of them.

use std::fmt;
use std::io;
use std::net::SocketAddr;

/// glommio refuses to start an executor below this much locked memory.
const GLOMMIO_MIN_MEMLOCK: u64 = 512 * 1024;
/// Submission entries per io_uring ring where ring memory is not locked memory (glommio's
/// default is 128). The kernel sizes the table it finds armed polls in from the ring
/// (ilog2 of the completion entries, less 5: 8 buckets at 128, 64 at 1,024), and glommio
/// cancels a timer on every turn of its reactor, which walks one bucket of every connection's
/// armed read poll first. With 1,000 connections that walk took 2.6-2.9% of a shard's CPU
/// (`perf record`, benches/hold_release.sh, 500 viewers); 0.8% at 1,024. About 0.25 MiB more
/// resident memory per shard (VmRSS of a 2-shard start, 7,428 -> 7,904 kB), and by the ring
/// sizes (not measured) about 0.4 MiB more kernel ring memory.
const RING_DEPTH: usize = 1024;
/// Before Linux 5.12 ring memory counts against `RLIMIT_MEMLOCK`: glommio's default keeps many
/// shards within an unprivileged user's 8 MiB there.
const RING_DEPTH_LOCKED: usize = 128;
/// Why livecache could not start, worded for the operator who must fix it.
#[derive(Debug)]
pub enum StartError {
    IoUring(io::Error),
    Memlock { limit: u64 },
    AddressInUse(SocketAddr),
    Bind(SocketAddr, io::Error),
    Executor(String),
    AccessLog(std::path::PathBuf, io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::IoUring(e) => write!(
                f,
                "io_uring is not available ({e}). livecache needs Linux 5.8 or later with io_uring enabled: \
                 check `sysctl kernel.io_uring_disabled` (must be 0) and that no seccomp profile \
                 (container runtime, systemd SystemCallFilter) blocks io_uring_setup"
            ),
            StartError::Memlock { limit } => write!(
                f,
                "locked-memory limit (RLIMIT_MEMLOCK) is {} KiB; livecache needs at least {} KiB. \
                 Raise it with `ulimit -l 8192` in the shell, `LimitMEMLOCK=8M` in the systemd unit, \
                 or a memlock line in /etc/security/limits.conf",
                limit / 1024,
                GLOMMIO_MIN_MEMLOCK / 1024
            ),
            StartError::AddressInUse(addr) => write!(
                f,
                "cannot listen on {addr}: the address is already in use (another livecache, or another \
                 server?). Stop it or choose another `listen` address"
            ),
            StartError::Bind(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
            StartError::Executor(e) => write!(f, "cannot start a shard executor: {e}"),
            StartError::AccessLog(path, e) => write!(
                f,
                "cannot open the access log {}: {e}. Check that its directory exists and that \
                 livecache's user may write there (the systemd unit's LogsDirectory= provides \
                 /var/log/livecache), or set `access_log` to \"\" to turn it off",
                path.display()
            ),
        }
    }
}

impl std::error::Error for StartError {}

/// The CPUs this process may run on (its affinity mask, which glommio's own CPU list ignores).
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it for this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect()
    }
}

pub fn check_io_uring() -> Result<(), StartError> {
    // The probe ring runs on a thread of its own: tearing a ring down queues kernel work on
    // the thread that made it, which interrupts that thread's next blocking call (EINTR) —
    // the caller of `start` must not inherit that.
    std::thread::spawn(|| {
        // SAFETY: io_uring_setup with a zeroed params struct; the returned fd is closed at once.
        unsafe {
            let mut params = [0u8; 120];
            let fd = libc::syscall(libc::SYS_io_uring_setup, 4u32, params.as_mut_ptr());
            if fd < 0 {
                return Err(StartError::IoUring(io::Error::last_os_error()));
            }
            libc::close(fd as i32);
        }
        Ok(())
    })
    .join()
    .unwrap_or(Ok(()))
}

/// The io_uring ring depth for this kernel: `RING_DEPTH` from Linux 5.12 on (ring memory is
/// charged to the memory cgroup), glommio's default before (it is locked memory there).
pub fn ring_depth() -> usize {
    // SAFETY: an all-zero `utsname` is valid; uname fills it with NUL-terminated strings.
    let mut names: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname writes into the struct we pass.
    if unsafe { libc::uname(&mut names) } != 0 {
        return RING_DEPTH_LOCKED;
    }
    // SAFETY: uname succeeded, so `release` is a NUL-terminated string inside the struct.
    let release = unsafe { std::ffi::CStr::from_ptr(names.release.as_ptr()) };
    match kernel_at_least(&release.to_string_lossy(), (5, 12)) {
        true => RING_DEPTH,
        false => RING_DEPTH_LOCKED,
    }
}

/// Whether a kernel release string (`6.18.44-fc-v1300`) is at least `major.minor`; an
/// unreadable one is not.
fn kernel_at_least(release: &str, (major, minor): (u32, u32)) -> bool {
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().ok());
    match (numbers.next().flatten(), numbers.next().flatten()) {
        (Some(a), Some(b)) => (a, b) >= (major, minor),
        _ => false,
    }
}

pub fn check_memlock() -> Result<(), StartError> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) } != 0 {
        return Ok(());
    }
    if limit.rlim_cur != libc::RLIM_INFINITY && limit.rlim_cur < GLOMMIO_MIN_MEMLOCK {
        return Err(StartError::Memlock {
            limit: limit.rlim_cur,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_releases_compare_by_major_and_minor() {
        assert!(kernel_at_least("6.18.44-fc-v1300", (5, 12)));
        assert!(kernel_at_least("5.12.0", (5, 12)));
        assert!(!kernel_at_least("5.11.22-generic", (5, 12)));
        assert!(!kernel_at_least("4.19.0", (5, 12)));
        assert!(!kernel_at_least("garbage", (5, 12)));
        assert!(!kernel_at_least("6", (5, 12)));
    }
}
