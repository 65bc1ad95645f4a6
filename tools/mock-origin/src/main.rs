//! The `mock-origin` binary: the same origin the integration tests embed,
//! on a fixed address, for driving livecache by hand (curl, benchmarks).
//! This file owns only command-line parsing and keeping the process alive;
//! arguments are parsed with plain `std::env::args` so the tool adds no
//! dependencies to the workspace.

use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use mock_origin::{LiveConfig, MockOrigin};

const DEFAULT_LISTEN: &str = "127.0.0.1:9000";

const USAGE: &str = "\
usage: mock-origin [--listen ADDR] [live options]

Serves deterministic bodies; each request picks its behaviour by query:
  size=N status=N cc=VALUE|none age=N expires=N nodate=1 etag=V
  delay_ms=N chunk=N pause_ms=M pause_after=B te=chunked|close
  fail_after=B bad=garbage|long|short|cl-te|dup-cl|bad-chunk|hang
  hdr=Name:Value (repeatable)
  lm=UNIX_SECS noetag=1 nolm=1 (validators; If-None-Match, else
    If-Modified-Since, gets 304)
  ranges=1 (one Range: bytes=a-b|a-|-n on GET -> 206, or 416)
  echo=Field-Name (repeatable: X-Echo-Field-Name: request values, or -)
  hints=1 (103 Early Hints first)
  after=N with then_status=S then_delay_ms=M then_cc=VALUE|none then_etag=V
    (from request N+1 to the same target on)
GET /__stats returns request, injected-fault and media playlist counts
(blocking, plain, _HLS_skip) as JSON. POST /__publishing?pause (or ?resume)
stops (or runs on) the live timeline: playlists freeze, as a stuck packager's.

Live streams (HLS, LL-HLS, DASH) under /live/s{i}/:
  master.m3u8, manifest.mpd,
  r{j}/index.m3u8[?_HLS_msn=M[&_HLS_part=P]][&_HLS_skip=YES|v2],
  r{j}/init.mp4, r{j}/seg-{n}.m4s, r{j}/seg-{n}.{p}.m4s

options:
  -l, --listen ADDR            address to bind (default 127.0.0.1:9000)
      --streams K              live streams s0..s{K-1} (default 4)
      --renditions KBPS,...    rendition bitrates, kbit/s (default 800,2500,5000)
      --segment-duration D     segment length, e.g. 2s, 1.5s, 500ms (default 2s)
      --part-duration D        LL-HLS part length (default 500ms)
      --window N               segments per media playlist (default 6)
      --first-sequence N       first media sequence number (default 0)
      --first-byte-delay D     wait before every live response (default 0)
      --throughput BYTES       per-connection live body rate, bytes/s (default unlimited)
      --can-skip-until D       advertise CAN-SKIP-UNTIL=D and answer _HLS_skip with
                               delta updates (default off); at least 6 target
                               durations, and window x segment must exceed it
                               for anything to be skipped
      --low-latency on|off     LL-HLS playlists, parts and blocking reloads (default
                               on); off: a classic HLS packager (whole segments,
                               delivery directives ignored)
      --part-uris files|ranges LL-HLS parts as files of their own (default), or
                               as byte ranges of a segment served as it grows
      --dash-chunks on|off     LL-DASH: MPD availabilityTimeOffset of a segment
                               less one part, and the segment in progress served
                               as it grows, one HTTP chunk per part (default off)
  -h, --help                   print this help

fault injection (live paths only; rates 0..1, summing to at most 1):
      --error-rate F           fraction of live responses answered 503, no-store (default 0)
      --reset-rate F           fraction of segment/part responses reset halfway (default 0)
      --stall-rate F           fraction of segment/part responses paused halfway (default 0)
      --stall-ms N             length of a stall, ms (default 1000)
      --seed N                 seed of the fault sequence, for reproducible runs (default 0)
  Faults are counted under \"faults\" in /__stats and marked X-Origin-Fault.
";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
struct Options {
    listen: String,
    live: LiveConfig,
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("mock-origin: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let listen = options.listen;
    let origin = match MockOrigin::start_with(&listen, options.live) {
        Ok(origin) => origin,
        Err(e) => {
            eprintln!("mock-origin: cannot start on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("mock-origin listening on {}", origin.url());
    // Serve until killed; the origin lives on background threads.
    loop {
        thread::park();
    }
}

/// `Ok(None)` means help was asked for. Options take their value as the
/// next argument or after `=`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        listen: DEFAULT_LISTEN.to_string(),
        live: LiveConfig::default(),
    };
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(None);
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let name = if name == "-l" {
            "--listen".to_string()
        } else {
            name
        };
        const KNOWN: [&str; 18] = [
            "--listen",
            "--streams",
            "--renditions",
            "--segment-duration",
            "--part-duration",
            "--window",
            "--first-sequence",
            "--first-byte-delay",
            "--throughput",
            "--can-skip-until",
            "--part-uris",
            "--dash-chunks",
            "--low-latency",
            "--error-rate",
            "--reset-rate",
            "--stall-rate",
            "--stall-ms",
            "--seed",
        ];
        if !KNOWN.contains(&name.as_str()) {
            return Err(format!("unknown argument: {arg}"));
        }
        let value = match inline.or_else(|| args.next()) {
            Some(value) => value,
            None => return Err(format!("{name} needs a value")),
        };
        let bad = |what: &str| format!("{name}: {what}, got {value:?}");
        let live = &mut options.live;
        match name.as_str() {
            "--listen" => options.listen = value.clone(),
            "--streams" => live.streams = number(&value).ok_or_else(|| bad("expected a count"))?,
            "--window" => live.window = number(&value).ok_or_else(|| bad("expected a count"))?,
            "--first-sequence" => {
                live.first_sequence = number(&value).ok_or_else(|| bad("expected a number"))?;
            }
            "--error-rate" => live.faults.error_rate = rate(&value).ok_or_else(|| bad(RATE))?,
            "--reset-rate" => live.faults.reset_rate = rate(&value).ok_or_else(|| bad(RATE))?,
            "--stall-rate" => live.faults.stall_rate = rate(&value).ok_or_else(|| bad(RATE))?,
            "--stall-ms" => {
                let ms = number(&value).ok_or_else(|| bad("expected milliseconds"))?;
                live.faults.stall = Duration::from_millis(ms);
            }
            "--seed" => {
                live.faults.seed = number(&value).ok_or_else(|| bad("expected a number"))?
            }
            "--throughput" => {
                live.throughput = Some(number(&value).ok_or_else(|| bad("expected bytes/s"))?);
            }
            "--renditions" => {
                live.renditions = value
                    .split(',')
                    .map(number)
                    .collect::<Option<Vec<u32>>>()
                    .ok_or_else(|| bad("expected kbit/s values like 800,2500"))?;
            }
            "--segment-duration" => {
                live.segment_duration =
                    duration(&value).ok_or_else(|| bad("expected a duration like 2s or 500ms"))?
            }
            "--part-duration" => {
                live.part_duration =
                    duration(&value).ok_or_else(|| bad("expected a duration like 2s or 500ms"))?
            }
            "--low-latency" => {
                live.low_latency = match value.as_str() {
                    "on" => true,
                    "off" => false,
                    _ => return Err(bad("expected on or off")),
                }
            }
            "--part-uris" => {
                live.byterange_parts = match value.as_str() {
                    "files" => false,
                    "ranges" => true,
                    _ => return Err(bad("expected files or ranges")),
                }
            }
            "--dash-chunks" => {
                live.chunked_dash = match value.as_str() {
                    "on" => true,
                    "off" => false,
                    _ => return Err(bad("expected on or off")),
                }
            }
            "--can-skip-until" => {
                live.can_skip_until =
                    Some(duration(&value).ok_or_else(|| bad("expected a duration like 24s"))?)
            }
            _ => {
                live.first_byte_delay =
                    duration(&value).ok_or_else(|| bad("expected a duration like 2s or 500ms"))?
            }
        }
    }
    options.live.validate().map_err(|e| e.to_string())?;
    Ok(Some(options))
}

const RATE: &str = "expected a fraction from 0 to 1";

/// A fraction in `0..=1`.
fn rate(text: &str) -> Option<f64> {
    number(text).filter(|r: &f64| (0.0..=1.0).contains(r))
}

fn number<T: std::str::FromStr>(text: &str) -> Option<T> {
    text.trim().parse().ok()
}

/// `500ms`, `2s`, `1.5s` (a bare number is seconds).
fn duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (digits, scale) = match text.strip_suffix("ms") {
        Some(ms) => (ms, 1e-3),
        None => (text.strip_suffix('s').unwrap_or(text), 1.0),
    };
    let value: f64 = digits.parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| Duration::from_secs_f64(value * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Options>, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    fn listen(args: &[&str]) -> Option<String> {
        parse(args).ok().flatten().map(|o| o.listen)
    }

    #[test]
    fn listen_forms_and_help() {
        assert_eq!(listen(&[]), Some(DEFAULT_LISTEN.to_string()));
        assert_eq!(
            listen(&["--listen", "0.0.0.0:80"]),
            Some("0.0.0.0:80".into())
        );
        assert_eq!(listen(&["-l", "[::1]:9"]), Some("[::1]:9".into()));
        assert_eq!(
            listen(&["--listen=127.0.0.1:1"]),
            Some("127.0.0.1:1".into())
        );
        assert!(matches!(parse(&["--help"]), Ok(None)));
        assert!(parse(&["--listen"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }

    #[test]
    fn live_flags() {
        let options = parse(&[
            "--streams",
            "2",
            "--renditions=800,2500",
            "--segment-duration",
            "1.5s",
            "--part-duration",
            "250ms",
            "--window",
            "4",
            "--first-sequence",
            "1000",
            "--first-byte-delay",
            "20ms",
            "--throughput",
            "1000000",
            "--can-skip-until=12s",
        ])
        .unwrap()
        .unwrap();
        let want = LiveConfig {
            streams: 2,
            renditions: vec![800, 2500],
            segment_duration: Duration::from_millis(1500),
            part_duration: Duration::from_millis(250),
            window: 4,
            first_sequence: 1000,
            first_byte_delay: Duration::from_millis(20),
            throughput: Some(1_000_000),
            can_skip_until: Some(Duration::from_secs(12)),
            ..LiveConfig::default()
        };
        assert_eq!(options.live, want);
        assert_eq!(parse(&[]).unwrap().unwrap().live, LiveConfig::default());
        for bad in [
            &["--streams", "x"][..],
            &["--renditions", "800,,2500"],
            &["--segment-duration", "2 minutes"],
            &["--part-duration", "-1s"],
            &["--window"],
            // Six target durations of 2 s (the default segment) is 12 s.
            &["--can-skip-until", "11s"],
            &["--can-skip-until", "soon"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(duration("2"), Some(Duration::from_secs(2)));
    }

    #[test]
    fn fault_flags() {
        let options = parse(&[
            "--error-rate",
            "0.1",
            "--reset-rate=0.25",
            "--stall-rate",
            "0.5",
            "--stall-ms",
            "300",
            "--seed",
            "42",
        ])
        .unwrap()
        .unwrap();
        let want = mock_origin::Faults {
            error_rate: 0.1,
            reset_rate: 0.25,
            stall_rate: 0.5,
            stall: Duration::from_millis(300),
            seed: 42,
        };
        assert_eq!(options.live.faults, want);
        assert_eq!(
            parse(&[]).unwrap().unwrap().live.faults,
            mock_origin::Faults::default()
        );
        for bad in [
            &["--error-rate", "1.5"][..],
            &["--reset-rate", "-0.1"],
            &["--stall-rate", "NaN"],
            &["--stall-ms", "1s"],
            &["--seed", "-1"],
            &["--error-rate", "0.6", "--stall-rate", "0.6"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
