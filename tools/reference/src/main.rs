//! The zero-logic reference for `benches/compare.py` (issue "Performance II", item 1): one
//! thread, one epoll loop, nonblocking keep-alive sockets, and for each request one `read`,
//! a lookup of the path in a table, and one `writev` of a prebuilt head and the object's body.
//! Every object has a body of its own in memory (distinct bytes, allocated apart), so a run
//! that rotates over a working set reads as much memory as a cache serving it would: what it
//! costs per request is the floor a cache's hit can approach, not a hot-CPU-cache flatterer.
//!
//! `reference --listen 127.0.0.1:PORT --set ws64:2000:65536 --set hot64:1:65536` serves
//! `/ws64/0.bin` .. `/ws64/1999.bin` (64 KiB each) and `/hot64/0.bin`. Anything else is a 404.
//! Port 0 takes a free port; either way it reports `reference: listening on http://ADDR` on
//! stderr once it takes connections. It runs until killed. `--zerocopy on` sends bodies with `MSG_ZEROCOPY` (`zerocopy`).
//! `--runtime glommio` serves the same objects on livecache's runtime and socket layer instead
//! of the epoll loop (`on_glommio`): the runtime's share of a hit, apart from livecache's logic.

mod conn;
mod on_glommio;
mod zerocopy;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{IntoRawFd, RawFd};

use conn::{Conn, Progress};

/// The objects served: each path's head and body.
pub struct Objects {
    by_path: HashMap<Vec<u8>, usize>,
    heads: Vec<Vec<u8>>,
    bodies: Vec<Box<[u8]>>,
    /// Which head each object uses (one per set: the same length everywhere in a set).
    head_of: Vec<usize>,
}

impl Objects {
    fn new(sets: &[Set]) -> Objects {
        let mut objects = Objects {
            by_path: HashMap::new(),
            heads: Vec::new(),
            bodies: Vec::new(),
            head_of: Vec::new(),
        };
        for (name, count, size) in sets {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n"
            );
            objects.heads.push(head.into_bytes());
            for i in 0..*count {
                let path = format!("/{name}/{i}.bin").into_bytes();
                objects.by_path.insert(path, objects.bodies.len());
                // Distinct bytes per object, so no two bodies can share pages.
                let fill = (i % 251) as u8;
                let body: Box<[u8]> = (0..*size).map(|k| fill ^ (k as u8)).collect();
                objects.bodies.push(body);
                objects.head_of.push(objects.heads.len() - 1);
            }
        }
        objects
    }

    /// The head and body for `path`, if it is one of the objects.
    pub fn get(&self, path: &[u8]) -> Option<(&[u8], &[u8])> {
        let i = *self.by_path.get(path)?;
        Some((&self.heads[self.head_of[i]], &self.bodies[i]))
    }
}

fn parse_set(text: &str) -> Result<Set, String> {
    let bad = || format!("--set {text:?}: expected NAME:COUNT:SIZE, e.g. ws64:2000:65536");
    let mut parts = text.split(':');
    let name = parts.next().filter(|n| !n.is_empty()).ok_or_else(bad)?;
    let count = parts.next().and_then(|c| c.parse().ok()).ok_or_else(bad)?;
    let size = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    if parts.next().is_some() || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(bad());
    }
    Ok((name.to_string(), count, size))
}

/// One set of objects: `/NAME/0.bin` .. `/NAME/{COUNT-1}.bin`, each `SIZE` bytes.
type Set = (String, usize, usize);

/// What the command line asks for.
struct Args {
    listen: SocketAddr,
    sets: Vec<Set>,
    zerocopy: bool,
    /// Serve on livecache's glommio runtime instead of the epoll loop.
    glommio: bool,
}

fn args() -> Result<Args, String> {
    let mut listen = None;
    let mut sets = Vec::new();
    let mut zerocopy = false;
    let mut glommio = false;
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let value = argv.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => listen = Some(value.parse().map_err(|_| format!("--listen {value:?}"))?),
            "--set" => sets.push(parse_set(&value)?),
            "--zerocopy" => zerocopy = value == "on",
            "--runtime" => match value.as_str() {
                "epoll" => glommio = false,
                "glommio" => glommio = true,
                _ => return Err(format!("--runtime {value:?}: epoll or glommio")),
            },
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    let listen = listen.ok_or("--listen ADDR is required")?;
    if zerocopy && glommio {
        return Err("--zerocopy is for the epoll loop".into());
    }
    Ok(Args {
        listen,
        sets,
        zerocopy,
        glommio,
    })
}

fn check(result: libc::c_int, what: &str) -> RawFd {
    if result < 0 {
        eprintln!("reference: {what}: {}", std::io::Error::last_os_error());
        std::process::exit(1);
    }
    result
}

fn main() {
    let Args {
        listen,
        sets,
        zerocopy,
        glommio,
    } = args().unwrap_or_else(|e| {
        eprintln!("reference: {e}");
        std::process::exit(2);
    });
    let objects = Objects::new(&sets);
    if glommio {
        if let Err(e) = on_glommio::serve(listen, objects) {
            eprintln!("reference: {e}");
            std::process::exit(1);
        }
        return;
    }
    let listener = TcpListener::bind(listen).unwrap_or_else(|e| {
        eprintln!("reference: listen on {listen}: {e}");
        std::process::exit(1);
    });
    report_listening(listener.local_addr());
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let listen_fd = listener.into_raw_fd();
    // SAFETY: plain epoll calls on descriptors this process owns; the event array outlives
    // every call that fills it.
    unsafe {
        let epoll = check(libc::epoll_create1(0), "epoll_create1");
        add(epoll, listen_fd, libc::EPOLLIN as u32);
        let mut conns: HashMap<RawFd, Conn> = HashMap::new();
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        loop {
            let n = libc::epoll_wait(epoll, events.as_mut_ptr(), events.len() as i32, -1);
            if n < 0 {
                continue; // EINTR
            }
            for event in &events[..n as usize] {
                let fd = event.u64 as RawFd;
                if fd == listen_fd {
                    accept_all(epoll, listen_fd, &mut conns, zerocopy);
                    continue;
                }
                let Some(conn) = conns.get_mut(&fd) else {
                    continue;
                };
                let was_writing = conn.writing();
                match conn.ready(&objects) {
                    // The interest changes only when a write stalls or drains: no syscall
                    // per request for it.
                    Progress::Reading if was_writing => modify(epoll, fd, libc::EPOLLIN as u32),
                    Progress::Writing if !was_writing => modify(epoll, fd, libc::EPOLLOUT as u32),
                    Progress::Reading | Progress::Writing => {}
                    Progress::Closed => {
                        libc::epoll_ctl(epoll, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut());
                        conns.remove(&fd);
                    }
                }
            }
        }
    }
}

/// Says where connections are taken, once they are: a caller that asked for port 0 learns
/// which port it got, and one that polled a port it picked itself could connect to its own
/// socket (a TCP self-connect, when the kernel hands that port out as the source) before the
/// reference binds it.
pub(crate) fn report_listening<E: std::fmt::Display>(addr: Result<SocketAddr, E>) {
    match addr {
        Ok(addr) => eprintln!("reference: listening on http://{addr}"),
        Err(e) => eprintln!("reference: listening, at an address it cannot read: {e}"),
    }
}

unsafe fn add(epoll: RawFd, fd: RawFd, events: u32) {
    let mut event = libc::epoll_event {
        events,
        u64: fd as u64,
    };
    check(
        libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, fd, &mut event),
        "epoll_ctl add",
    );
}

unsafe fn modify(epoll: RawFd, fd: RawFd, events: u32) {
    let mut event = libc::epoll_event {
        events,
        u64: fd as u64,
    };
    libc::epoll_ctl(epoll, libc::EPOLL_CTL_MOD, fd, &mut event);
}

unsafe fn accept_all(
    epoll: RawFd,
    listen_fd: RawFd,
    conns: &mut HashMap<RawFd, Conn>,
    zerocopy: bool,
) {
    loop {
        let fd = libc::accept4(
            listen_fd,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        );
        if fd < 0 {
            return;
        }
        let one: libc::c_int = 1;
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as u32,
        );
        if zerocopy {
            zerocopy::enable(fd);
        }
        add(epoll, fd, libc::EPOLLIN as u32);
        conns.insert(fd, Conn::new(fd, zerocopy));
    }
}
