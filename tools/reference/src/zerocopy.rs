//! `--zerocopy on`: the body goes out with `sendmsg(MSG_ZEROCOPY)` on sockets with
//! `SO_ZEROCOPY` (issue "Performance II", item 3: measure before livecache adopts it). The
//! kernel pins the pages instead of copying them and reports on the socket's error queue when
//! it is done with them, or that it copied after all (`SO_EE_CODE_ZEROCOPY_COPIED`, as it does
//! for a receiver on this host: loopback, or a veth pair into another namespace). The bodies
//! never change, so a completion frees nothing here; the queue is drained after each send so
//! it never fills (a full one makes `sendmsg` fail with `ENOBUFS`, answered with a plain copy).
//! Counts go to stderr every 10,000 sends.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

static SENDS: AtomicU64 = AtomicU64::new(0);
static COMPLETIONS: AtomicU64 = AtomicU64::new(0);
static COPIED: AtomicU64 = AtomicU64::new(0);
static FALLBACKS: AtomicU64 = AtomicU64::new(0);

/// `SO_EE_ORIGIN_ZEROCOPY` and `SO_EE_CODE_ZEROCOPY_COPIED` (linux/errqueue.h).
const ORIGIN_ZEROCOPY: u8 = 5;
const CODE_COPIED: u8 = 1;

/// Asks for zero-copy sends on `fd`.
///
/// # Safety
/// `fd` must be an open socket.
pub unsafe fn enable(fd: RawFd) {
    let one: libc::c_int = 1;
    libc::setsockopt(
        fd,
        libc::SOL_SOCKET,
        libc::SO_ZEROCOPY,
        (&one as *const libc::c_int).cast(),
        std::mem::size_of::<libc::c_int>() as u32,
    );
}

/// Sends `iov` with `MSG_ZEROCOPY`, or copied when the error queue is full; as `writev`.
///
/// # Safety
/// `iov` must point at memory that stays unchanged until the kernel reports it done.
pub unsafe fn send(fd: RawFd, iov: &[libc::iovec]) -> isize {
    let mut msg: libc::msghdr = std::mem::zeroed();
    msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = iov.len();
    let mut n = libc::sendmsg(fd, &msg, libc::MSG_ZEROCOPY);
    if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOBUFS) {
        drain(fd);
        FALLBACKS.fetch_add(1, Relaxed);
        n = libc::sendmsg(fd, &msg, 0);
    }
    if n > 0 {
        drain(fd);
        let sends = SENDS.fetch_add(1, Relaxed) + 1;
        if sends.is_multiple_of(10_000) {
            eprintln!(
                "zerocopy: {sends} sends, {} completions ({} copied by the kernel), {} copied here",
                COMPLETIONS.load(Relaxed),
                COPIED.load(Relaxed),
                FALLBACKS.load(Relaxed)
            );
        }
    }
    n
}

/// Reads every completion waiting on `fd`'s error queue.
unsafe fn drain(fd: RawFd) {
    loop {
        let mut control = [0u64; 16];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        if libc::recvmsg(fd, &mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) < 0 {
            return;
        }
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let err = &*(libc::CMSG_DATA(cmsg) as *const libc::sock_extended_err);
            if err.ee_origin == ORIGIN_ZEROCOPY {
                // One notification covers the range of sends ee_info..=ee_data.
                let covered = u64::from(err.ee_data.wrapping_sub(err.ee_info)) + 1;
                COMPLETIONS.fetch_add(covered, Relaxed);
                if err.ee_code & CODE_COPIED != 0 {
                    COPIED.fetch_add(covered, Relaxed);
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
}
