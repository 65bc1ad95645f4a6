//! The `livecache` binary: flags and environment to a validated `Config`, the log subscriber,
//! signals to the shutdown, reload and log-reopen paths, the service-manager notifications,
//! `run`, and an exit code. Nothing else lives here.

use std::process::ExitCode;
use std::sync::atomic::Ordering;

use livecache::config::Cli;
use livecache::log::Logging;
use livecache::{notify, Config, Running, Shutdown};
use tracing::{error, info, warn};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(&cli) {
        Ok(config) => config,
        Err(e) => {
            // No subscriber yet: its format and level are part of the configuration.
            eprintln!("livecache: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.check_config {
        print!("{}", config.to_toml());
        return ExitCode::SUCCESS;
    }
    let logging = match livecache::log::init(config.log_format, config.log_level) {
        Ok(logging) => logging,
        Err(e) => {
            eprintln!("livecache: cannot set up logging: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = Shutdown::new();
    let (shards, origin) = (config.shards, config.origin.url.clone());
    let access_log = config.access_log.clone();
    let running = match livecache::start(config, shutdown.clone()) {
        Ok(running) => running,
        Err(e) => {
            error!("livecache: {e}");
            return ExitCode::FAILURE;
        }
    };
    info!(
        "listening on http://{} with {shards} shard(s), origin {origin}",
        running.local_addr
    );
    if let Some(admin) = running.admin_addr {
        info!("admin on http://{admin} (/metrics /healthz /readyz /status)");
    }
    if let Some(path) = access_log {
        info!("access log to {} (SIGUSR2 reopens it)", path.display());
    }
    if let Err(e) = watch_signals(cli, &running, logging) {
        error!("livecache: cannot install signal handlers: {e}");
        running.stop();
        return ExitCode::FAILURE;
    }
    notify::ready(&running.stats);
    let (stats, stop) = (running.stats.clone(), shutdown.clone());
    std::thread::Builder::new()
        .name("livecache-notify".into())
        .spawn(move || notify::supervise(stats, stop))
        .ok();
    running.wait();
    info!("stopped");
    ExitCode::SUCCESS
}

/// SIGINT or SIGTERM starts a graceful stop and a second one exits at once; SIGHUP reloads
/// the configuration (and the log level); SIGUSR2 reopens the access log (logrotate).
/// SIGUSR1 belongs to glommio's stall detector and is left alone.
fn watch_signals(cli: Cli, running: &Running, logging: Logging) -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR2};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGUSR2])?;
    let (shutdown, source, stats, reopen) = (
        running.shutdown.clone(),
        running.config.clone(),
        running.stats.clone(),
        running.access_log.clone(),
    );
    std::thread::Builder::new()
        .name("livecache-signals".into())
        .spawn(move || {
            let mut stops = 0;
            for signal in signals.forever() {
                if signal == SIGUSR2 {
                    info!("reopening the access log");
                    reopen.request();
                    continue;
                }
                if signal == SIGHUP {
                    notify::reloading();
                    match reload(&cli, &source) {
                        Ok((version, next)) => {
                            logging.set_level(next.log_level);
                            info!(
                                version,
                                log_level = %next.log_level.as_str(),
                                "configuration reloaded"
                            );
                        }
                        Err(reason) => {
                            stats.reload_failures.fetch_add(1, Ordering::Relaxed);
                            warn!("reload rejected, the running configuration stays: {reason}");
                        }
                    }
                    notify::ready(&stats);
                    continue;
                }
                stops += 1;
                if stops == 1 {
                    info!("stopping: draining connections (send the signal again to exit at once)");
                    notify::stopping();
                    shutdown.trigger();
                } else {
                    warn!("second stop signal: exiting at once");
                    std::process::exit(130);
                }
            }
        })?;
    Ok(())
}

/// Loads, checks and publishes the configuration again; the new version and what it set.
fn reload(
    cli: &Cli,
    source: &livecache::ConfigSource,
) -> Result<(u64, std::sync::Arc<Config>), String> {
    let next = Config::load(cli).map_err(|e| e.to_string())?;
    if let Some(path) = &next.access_log {
        livecache::log::access::open(path)
            .map_err(|e| format!("cannot open the access log {}: {e}", path.display()))?;
    }
    let version = source.publish(next).map_err(|r| r.0)?;
    Ok((version, source.current()))
}
