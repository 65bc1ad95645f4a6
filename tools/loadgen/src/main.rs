//! The `loadgen` command line: clap parsing only. Each subcommand maps onto a mode config
//! of the library (see the crate docs for the modes, the output and the JSON fields), runs
//! it, prints the table on stdout and writes `--json`/`--svg` when asked.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use loadgen::modes::live::{self, LiveConfig};
use loadgen::modes::llhls::{self, LlhlsConfig};
use loadgen::modes::rate::{self, RateConfig};
use loadgen::modes::urls::{self, expand_pattern, Stop, UrlsConfig};
use loadgen::{parse_duration, Common, Report};

/// Thread-per-core HTTP/1.1 load generator with HDR histograms.
#[derive(Parser)]
#[command(name = "loadgen", version)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Closed loop: each connection sends the next request when the last response is in.
    Urls(UrlsArgs),
    /// Open loop at a fixed total rate, latency from the scheduled send time.
    Rate(RateArgs),
    /// HLS viewers that play live streams and count stalls.
    Live(LiveArgs),
    /// Low-latency HLS viewers like hls.js: blocking reloads plus preload-hinted parts.
    Llhls(LlhlsArgs),
}

#[derive(Args)]
struct CommonArgs {
    /// Executor threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// CPUs to pin the threads to, round-robin (default: unpinned).
    #[arg(long, value_delimiter = ',')]
    cpus: Vec<usize>,
    /// Per-request timeout.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
    /// Write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a latency-by-percentile plot (SVG) to this file.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// No per-second progress lines on stderr.
    #[arg(long)]
    quiet: bool,
}

impl CommonArgs {
    fn common(&self) -> Common {
        Common {
            threads: self.threads,
            cpus: self.cpus.clone(),
            timeout: self.timeout,
            progress: !self.quiet,
        }
    }
}

#[derive(Args)]
struct Targets {
    /// URLs, fetched round-robin.
    urls: Vec<String>,
    /// URL with `{a..b}` ranges, e.g. 'http://h/p/seg-{0..99}.m4s' (repeatable).
    #[arg(long)]
    url_pattern: Vec<String>,
}

impl Targets {
    fn urls(&self) -> Result<Vec<String>, String> {
        let mut out = self.urls.clone();
        for p in &self.url_pattern {
            out.extend(expand_pattern(p)?);
        }
        Ok(out)
    }
}

#[derive(Args)]
struct UrlsArgs {
    /// Keep-alive connections in total.
    #[arg(long, short = 'c', default_value_t = 10)]
    connections: usize,
    /// Run this long (default 10s).
    #[arg(long, value_parser = parse_duration, conflicts_with = "requests")]
    duration: Option<Duration>,
    /// Stop after this many requests in total.
    #[arg(long, short = 'n')]
    requests: Option<u64>,
    #[command(flatten)]
    targets: Targets,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
struct RateArgs {
    /// Requests per second, all threads together.
    #[arg(long, short = 'r')]
    rate: f64,
    /// Keep-alive connections in total.
    #[arg(long, short = 'c', default_value_t = 10)]
    connections: usize,
    /// Schedule requests for this long.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    #[command(flatten)]
    targets: Targets,
    #[command(flatten)]
    common: CommonArgs,
}

/// Where a live audience watches, and for how long (both live modes).
#[derive(Args)]
struct Audience {
    /// Origin or cache, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    base: String,
    /// Number of streams.
    #[arg(long, default_value_t = 1)]
    streams: usize,
    /// Stream name pattern; `{}` is the stream index.
    #[arg(long, default_value = "s{}")]
    stream_names: String,
    /// Playlist path pattern.
    #[arg(long, default_value = LiveConfig::DEFAULT_PATH)]
    playlist_path: String,
    /// How long viewers watch.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
}

#[derive(Args)]
struct LiveArgs {
    #[command(flatten)]
    audience: Audience,
    /// Viewers per stream.
    #[arg(long, default_value_t = 1)]
    viewers: usize,
    /// Rendition name in the playlist path.
    #[arg(long, default_value = "r1")]
    rendition: String,
    /// Low-latency HLS: blocking reloads and parts.
    #[arg(long)]
    ll_hls: bool,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
struct LlhlsArgs {
    #[command(flatten)]
    audience: Audience,
    /// Viewers in total, spread round-robin over every stream's renditions.
    #[arg(long, default_value_t = 1)]
    viewers: usize,
    /// Rendition names, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "r0")]
    renditions: Vec<String>,
    /// Fraction of viewers spelling the reload `_HLS_part=N&_HLS_msn=M`.
    #[arg(long, default_value_t = 0.0)]
    swapped_fraction: f64,
    /// Fraction of viewers appending `&_HLS_skip=YES` to the reload.
    #[arg(long, default_value_t = 0.0)]
    skip_fraction: f64,
    /// The origin's /__stats URL (mock origin), for origin requests per part.
    #[arg(long)]
    origin_stats: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

fn run(mode: Mode) -> Result<(Report, CommonArgs), String> {
    match mode {
        Mode::Urls(a) => {
            let stop = match (a.requests, a.duration) {
                (Some(n), _) => Stop::Requests(n),
                (None, d) => Stop::Duration(d.unwrap_or(Duration::from_secs(10))),
            };
            let cfg = UrlsConfig {
                common: a.common.common(),
                urls: a.targets.urls()?,
                connections: a.connections,
                stop,
            };
            Ok((urls::run(&cfg)?, a.common))
        }
        Mode::Rate(a) => {
            let cfg = RateConfig {
                common: a.common.common(),
                urls: a.targets.urls()?,
                connections: a.connections,
                rate: a.rate,
                duration: a.duration,
            };
            Ok((rate::run(&cfg)?, a.common))
        }
        Mode::Live(a) => {
            let cfg = LiveConfig {
                common: a.common.common(),
                base: a.audience.base,
                streams: a.audience.streams,
                viewers: a.viewers,
                rendition: a.rendition,
                stream_names: a.audience.stream_names,
                playlist_path: a.audience.playlist_path,
                duration: a.audience.duration,
                ll_hls: a.ll_hls,
            };
            Ok((live::run(&cfg)?, a.common))
        }
        Mode::Llhls(a) => {
            let cfg = LlhlsConfig {
                common: a.common.common(),
                base: a.audience.base,
                streams: a.audience.streams,
                stream_names: a.audience.stream_names,
                renditions: a.renditions,
                playlist_path: a.audience.playlist_path,
                viewers: a.viewers,
                duration: a.audience.duration,
                swapped_fraction: a.swapped_fraction,
                skip_fraction: a.skip_fraction,
                origin_stats: a.origin_stats,
            };
            Ok((llhls::run(&cfg)?, a.common))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = run(cli.mode).and_then(|(report, common)| {
        print!("{}", report.table());
        if let Some(path) = &common.json {
            std::fs::write(path, report.to_json() + "\n")
                .map_err(|e| format!("writing {}: {e}", path.display()))?;
        }
        if let Some(path) = &common.svg {
            let title = format!("loadgen {} latency", report.mode);
            loadgen::plot::write_svg(&report.stats, &title, path)?;
        }
        Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
