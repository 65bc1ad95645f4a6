//! The `livecache` binary: flags and environment to a validated `Config`, signals to the
//! shutdown and reload paths, the service-manager notifications, `run`, and an exit code.
//! Nothing else lives here.

use std::process::ExitCode;
use std::sync::atomic::Ordering;

use clap::Parser;
use livecache::config::Cli;
use livecache::{notify, Config, Running, Shutdown};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(&cli) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("livecache: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.check_config {
        print!("{}", config.to_toml());
        return ExitCode::SUCCESS;
    }
    let shutdown = Shutdown::new();
    let (shards, origin) = (config.shards, config.origin.url.clone());
    let running = match livecache::start(config, shutdown.clone()) {
        Ok(running) => running,
        Err(e) => {
            eprintln!("livecache: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "livecache: listening on http://{} with {shards} shard(s), origin {origin}",
        running.local_addr
    );
    if let Some(admin) = running.admin_addr {
        eprintln!("livecache: admin on http://{admin} (/metrics /healthz /readyz /status)");
    }
    if let Err(e) = watch_signals(cli, &running) {
        eprintln!("livecache: cannot install signal handlers: {e}");
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
    eprintln!("livecache: stopped");
    ExitCode::SUCCESS
}

/// SIGINT or SIGTERM starts a graceful stop and a second one exits at once; SIGHUP reloads
/// the configuration. SIGUSR1 belongs to glommio's stall detector and is left alone.
fn watch_signals(cli: Cli, running: &Running) -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    let (shutdown, source, stats) = (
        running.shutdown.clone(),
        running.config.clone(),
        running.stats.clone(),
    );
    std::thread::Builder::new().name("livecache-signals".into()).spawn(move || {
        let mut stops = 0;
        for signal in signals.forever() {
            if signal == SIGHUP {
                notify::reloading();
                match Config::load(&cli).map_err(|e| e.to_string()).and_then(|c| source.publish(c).map_err(|r| r.0)) {
                    Ok(version) => eprintln!("livecache: configuration reloaded (version {version})"),
                    Err(reason) => {
                        stats.reload_failures.fetch_add(1, Ordering::Relaxed);
                        eprintln!("livecache: reload rejected, the running configuration stays: {reason}");
                    }
                }
                notify::ready(&stats);
                continue;
            }
            stops += 1;
            if stops == 1 {
                eprintln!("livecache: stopping (send the signal again to exit at once)");
                notify::stopping();
                shutdown.trigger();
            } else {
                std::process::exit(130);
            }
        }
    })?;
    Ok(())
}
