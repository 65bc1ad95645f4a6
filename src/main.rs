//! The `livecache` binary: flags and environment to a validated `Config`, signals to the
//! shutdown handle, `run`, and an exit code. Nothing else lives here.

use std::process::ExitCode;

use clap::Parser;
use livecache::config::Cli;
use livecache::{Config, Shutdown};

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
    if let Err(e) = watch_signals(shutdown.clone()) {
        eprintln!("livecache: cannot install signal handlers: {e}");
        return ExitCode::FAILURE;
    }
    let (shards, origin) = (config.shards, config.origin.url.clone());
    match livecache::start(config, shutdown) {
        Ok(running) => {
            eprintln!(
                "livecache: listening on http://{} with {shards} shard(s), origin {origin}",
                running.local_addr
            );
            running.wait();
            eprintln!("livecache: stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("livecache: {e}");
            ExitCode::FAILURE
        }
    }
}

/// SIGINT or SIGTERM starts a clean stop; a second one exits at once. (SIGUSR1 belongs to
/// glommio's stall detector and is left alone.)
fn watch_signals(shutdown: Shutdown) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("livecache-signals".into())
        .spawn(move || {
            let mut seen = 0;
            for _ in signals.forever() {
                seen += 1;
                if seen == 1 {
                    eprintln!("livecache: stopping (send the signal again to exit at once)");
                    shutdown.trigger();
                } else {
                    std::process::exit(130);
                }
            }
        })?;
    Ok(())
}
