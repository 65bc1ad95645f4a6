//! Process-level wiring: start-up self-checks (io_uring, locked memory, the listen address),
//! one glommio executor per shard pinned to a CPU the process may use, the channel mesh
//! between them, and the stop path. This is the only place that knows how many threads
//! there are; each shard's code sees its own `Shard` and nothing else.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::rc::Rc;
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use glommio::channels::channel_mesh::MeshBuilder;
use glommio::net::TcpListener;
use glommio::{LocalExecutorBuilder, Placement};

use crate::cache::lending::SharedBudget;
use crate::clock::Clock;
use crate::config::Config;
use crate::log::access::{self, Reopen};
use crate::metrics::Stats;
use crate::reload::ConfigSource;
use crate::server::{self, drain::Drain};
use crate::shard::doorbell::{self, Doorbells};
use crate::shard::{mesh, Mesh, MeshMessage, Shard};
use crate::shutdown::Shutdown;
pub use crate::startup::StartError;
use crate::startup::{allowed_cpus, check_io_uring, check_memlock, ring_depth};

mod progress;
use progress::{StartProgress, StartStep};

/// Registered I/O buffer memory per executor. livecache does no glommio file I/O (the access
/// log is written with plain buffered `write`s), so the minimum:
/// this keeps many shards within the default 8 MiB `RLIMIT_MEMLOCK` of an unprivileged user.
pub const IO_MEMORY: usize = 64 * 1024;

/// The socket systemd passed (`LISTEN_FDS`, socket activation), if any, duplicated once per
/// shard: every shard accepts from the same listening socket, and `listen` is not bound.
/// Only the first passed descriptor is used; `sd_notify::listen_fds` checks `LISTEN_PID`.
fn activated_listener(count: usize) -> Result<Option<(SocketAddr, Vec<OwnedFd>)>, StartError> {
    let fail = |e: io::Error| StartError::Bind("0.0.0.0:0".parse().expect("address"), e);
    let passed = sd_notify::listen_fds()
        .map_err(|e| fail(io::Error::new(e.kind(), format!("socket activation: {e}"))))?
        .next();
    let Some(passed) = passed else {
        return Ok(None);
    };
    // SAFETY: the service manager passed this descriptor to this process (LISTEN_PID is ours)
    // and nothing else in it has taken ownership; this is the only place that does.
    let socket = socket2::Socket::from(unsafe { OwnedFd::from_raw_fd(passed) });
    // The shards share one open file (its flags with it). glommio's accept turns O_NONBLOCK on
    // for its syscall and then restores the flags it read; on a socket passed in blocking
    // mode (systemd's default) one shard may restore "blocking" just before another's accept,
    // which then blocks that executor until a connection comes, while requests it owns wait.
    // With O_NONBLOCK set here, every restore keeps it.
    socket.set_nonblocking(true).map_err(fail)?;
    let addr = socket
        .local_addr()
        .map_err(fail)?
        .as_socket()
        .ok_or_else(|| fail(io::Error::other("the passed socket is not a TCP socket")))?;
    let mut fds = Vec::with_capacity(count);
    for _ in 0..count {
        fds.push(OwnedFd::from(socket.try_clone().map_err(fail)?));
    }
    Ok(Some((addr, fds)))
}

/// One listening socket per shard on the same address (`SO_REUSEPORT`: the kernel spreads
/// connections). Port 0 is resolved by the first bind and reused by the others.
fn bind_listeners(
    addr: SocketAddr,
    count: usize,
) -> Result<(SocketAddr, Vec<OwnedFd>), StartError> {
    use socket2::{Domain, Socket, Type};
    // SO_REUSEPORT would let us share a port with another server of the same user without a
    // word: if something already accepts connections there, say so instead.
    if addr.port() != 0 {
        let mut probe = addr;
        if probe.ip().is_unspecified() {
            probe.set_ip(if addr.is_ipv4() {
                [127, 0, 0, 1].into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        if std::net::TcpStream::connect_timeout(&probe, Duration::from_millis(300)).is_ok() {
            return Err(StartError::AddressInUse(addr));
        }
    }
    let mut bound = addr;
    if bound.port() == 0 {
        // A port-0 bind with SO_REUSEPORT may be handed a port that another reuseport socket
        // of this user holds; a plain bind gets a port nobody holds.
        let probe = std::net::TcpListener::bind(addr).map_err(|e| StartError::Bind(addr, e))?;
        bound = probe.local_addr().map_err(|e| StartError::Bind(addr, e))?;
    }
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        let socket = Socket::new(Domain::for_address(bound), Type::STREAM, None)
            .and_then(|s| {
                s.set_reuse_port(true)?;
                s.set_reuse_address(true)?;
                s.bind(&bound.into())?;
                s.listen(1024)?;
                Ok(s)
            })
            .map_err(|e| match e.kind() {
                io::ErrorKind::AddrInUse => StartError::AddressInUse(bound),
                _ => StartError::Bind(bound, e),
            })?;
        sockets.push(OwnedFd::from(socket));
    }
    Ok((bound, sockets))
}

/// A started daemon: its address, its counters, and the way to stop it.
pub struct Running {
    pub local_addr: SocketAddr,
    /// The admin listener's bound address, when `admin` is set.
    pub admin_addr: Option<SocketAddr>,
    pub stats: Arc<Stats>,
    pub shutdown: Shutdown,
    /// Where a reloaded configuration is published to every shard.
    pub config: ConfigSource,
    /// Asks every shard to reopen its access log (what SIGUSR2 does in the binary).
    pub access_log: Reopen,
    /// The clock every shard decides by; tests advance it instead of sleeping.
    pub clock: Clock,
    handles: Vec<glommio::ExecutorJoinHandle<()>>,
}

impl Running {
    /// Every shard reopens its access log file at its next flush (within a second): after
    /// logrotate renamed it, new lines go to a new file at the configured path.
    pub fn reopen_access_logs(&self) {
        self.access_log.request();
    }

    /// Blocks until every shard has stopped (after `shutdown` fires).
    pub fn wait(self) {
        for handle in self.handles {
            let _ = handle.join();
        }
    }

    /// Fires the shutdown and waits for the shards.
    pub fn stop(self) {
        self.shutdown.trigger();
        self.wait();
    }
}

/// Checks the machine, binds, starts every shard, and returns once all of them accept.
pub fn start(config: Config, shutdown: Shutdown) -> Result<Running, StartError> {
    check_io_uring()?;
    check_memlock()?;
    let ring_depth = ring_depth();
    if let Some(path) = &config.access_log {
        // Every shard opens its own descriptor; a path that cannot be opened is a start error.
        access::open(path).map_err(|e| StartError::AccessLog(path.clone(), e))?;
    }
    let shards = config.shards;
    let (local_addr, listeners, activated) = match activated_listener(shards)? {
        Some((addr, fds)) => (addr, fds, true),
        None => {
            let (addr, fds) = bind_listeners(config.listen, shards)?;
            (addr, fds, false)
        }
    };
    // --- admin listener: bound here, served by shard 0 (see `admin`) ---
    let admin = config
        .admin
        .map(crate::admin::AdminListener::bind)
        .transpose()?;
    let admin_addr = admin.as_ref().map(|listener| listener.local_addr());
    // --- end admin listener ---
    let stats = Stats::new(shards);
    let source = ConfigSource::new(config.clone());
    let cpus = allowed_cpus();
    let mesh = (shards > 1).then(|| MeshBuilder::<MeshMessage, _>::full(shards, config.mesh_queue));
    let doorbells = doorbell::doorbells(shards);
    let open_connections = Arc::new(AtomicUsize::new(0));
    let reopen = Reopen::new();
    let (ready_tx, ready_rx) = mpsc::channel::<Result<usize, String>>();
    let progress = StartProgress::new(shards);
    let clock = Clock::system();
    // Every shard starts with its even share of the budget (`cache::lending`).
    let lending = Arc::new(SharedBudget::new(
        config.cache_size,
        config.shard_cache_size() * shards as u64,
        shards,
    ));
    let mut handles = Vec::with_capacity(shards);
    for (index, listener) in listeners.into_iter().enumerate() {
        let placement = match cpus.get(index % cpus.len().max(1)) {
            Some(&cpu) => Placement::Fixed(cpu),
            None => Placement::Unbound,
        };
        let source = source.clone();
        let stats = Arc::clone(&stats);
        let shutdown = shutdown.clone();
        let mesh = mesh.clone();
        let doorbells = Doorbells::clone(&doorbells);
        let ready = ready_tx.clone();
        let open = Arc::clone(&open_connections);
        let admin = admin.clone(); // admin listener
        let reopen = reopen.clone();
        let progress = Arc::clone(&progress);
        let clock = clock.clone();
        let lending = Arc::clone(&lending);
        let handle = LocalExecutorBuilder::new(placement)
            .name(&format!("livecache-{index}"))
            .io_memory(IO_MEMORY)
            .ring_depth(ring_depth)
            .spawn(move || async move {
                progress.reached(index, StartStep::Running);
                let (mesh, receivers) = match mesh {
                    Some(builder) => match builder.join().await {
                        Ok((senders, receivers)) => {
                            (Mesh::new(Some(senders), doorbells), Some(receivers))
                        }
                        Err(e) => {
                            let _ = ready.send(Err(format!("joining the shard mesh failed: {e}")));
                            return;
                        }
                    },
                    None => (Mesh::new(None, doorbells), None),
                };
                progress.reached(index, StartStep::Meshed);
                let id = mesh.shard_id();
                let shard = Shard::new(id, source, stats, mesh, reopen, clock, lending);
                spawn_heartbeat(&shard);
                crate::shard::probes::spawn_probes(&shard);
                spawn_access_log_flusher(&shard);
                if let Some(receivers) = receivers {
                    mesh::serve_peers(&shard, receivers);
                }
                // --- admin listener: shard 0 serves it ---
                if let (0, Some(admin)) = (id, admin) {
                    crate::admin::spawn(&shard, admin, shutdown.clone());
                }
                // --- end admin listener ---
                // Only shard 0 accepts when every request must cross the mesh (tests): the
                // others leave the listening group before anyone can connect.
                let accepts = !(shard.config().cross_mesh_for_tests && id != 0);
                let listener_fd = listener.into_raw_fd();
                // SAFETY: the descriptor is a listening socket this executor now owns alone.
                let listener = unsafe { TcpListener::from_raw_fd(listener_fd) };
                let listener = accepts.then_some(listener);
                let drain = Drain::new();
                let stop = Rc::clone(&drain);
                let draining = Rc::clone(&shard);
                glommio::spawn_local(async move {
                    shutdown.wait().await;
                    tracing::debug!(shard = id, "draining: no new connections");
                    stop.start();
                    // Held playlist reloads would keep their connections for up to 3 x TD:
                    // answered now, their players retry on another node.
                    draining.release_holds();
                })
                .detach();
                let _ = ready.send(Ok(id));
                let own_listener = (!activated).then_some(listener_fd);
                match listener {
                    Some(listener) => {
                        server::serve(Rc::clone(&shard), listener, own_listener, drain, open).await
                    }
                    None => server::serve_peers_only(Rc::clone(&shard), drain, open).await,
                }
                shard.access_log.flush();
            })
            .map_err(|e| StartError::Executor(e.to_string()))?;
        handles.push(handle);
    }
    drop(ready_tx);
    let began = std::time::Instant::now();
    for _ in 0..shards {
        match ready_rx.recv_timeout(START_LIMIT.saturating_sub(began.elapsed())) {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(StartError::Executor(e)),
            Err(_) => {
                shutdown.trigger();
                return Err(StartError::Executor(format!(
                    "not every shard started within {} s: {}",
                    START_LIMIT.as_secs(),
                    progress.describe()
                )));
            }
        }
    }
    if began.elapsed() > SLOW_START {
        tracing::warn!(
            seconds = began.elapsed().as_secs_f64(),
            "shards were slow to start (an overloaded machine?); every one serves now"
        );
    }
    stats.set_serving(); // admin listener: /readyz
    Ok(Running {
        local_addr,
        admin_addr,
        stats,
        shutdown,
        config: source,
        access_log: reopen,
        clock,
        handles,
    })
}

/// How long the shards together may take to start before `start` gives up.
const START_LIMIT: Duration = Duration::from_secs(30);
/// A start slower than this is worth a warning.
const SLOW_START: Duration = Duration::from_secs(5);

/// How often each shard proves it runs (see `notify`) and looks for a reloaded config.
const HEARTBEAT: Duration = Duration::from_millis(100);

/// A task on the shard's own executor: a stuck executor cannot run it, so a heartbeat that
/// stops moving means a stuck core. It also adopts reloads on shards that see no requests.
fn spawn_heartbeat(shard: &Rc<Shard>) {
    let shard = Rc::clone(shard);
    glommio::spawn_local(async move {
        loop {
            glommio::timer::sleep(HEARTBEAT).await;
            shard.adopt_reload();
            shard.balance_quota();
            shard.live_upkeep();
            shard.report_replica_reads();
            shard.publish_guards();
            shard
                .my_stats()
                .heartbeat
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // The exported version is the one every shard runs: the lowest.
            use std::sync::atomic::Ordering::Relaxed;
            shard
                .my_stats()
                .config_version
                .store(shard.config_version(), Relaxed);
            let everywhere = shard
                .stats
                .shards
                .iter()
                .map(|s| s.config_version.load(Relaxed))
                .min();
            shard
                .stats
                .config_version
                .store(everywhere.unwrap_or(1), Relaxed);
        }
    })
    .detach();
}

/// Writes the shard's access log buffer out every `FLUSH_EVERY` (a full buffer goes at once,
/// from the request that filled it) and carries out reopen requests.
fn spawn_access_log_flusher(shard: &Rc<Shard>) {
    let shard = Rc::clone(shard);
    glommio::spawn_local(async move {
        loop {
            glommio::timer::sleep(access::FLUSH_EVERY).await;
            shard.access_log.flush();
        }
    })
    .detach();
}

/// Runs livecache until `shutdown` fires.
pub fn run(config: Config, shutdown: Shutdown) -> Result<(), StartError> {
    start(config, shutdown)?.wait();
    Ok(())
}
