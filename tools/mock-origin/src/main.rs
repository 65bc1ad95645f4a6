//! The `mock-origin` binary: the same origin the integration tests embed,
//! on a fixed address, for driving livecache by hand (curl, benchmarks).
//! This file owns only command-line parsing and keeping the process alive;
//! arguments are parsed with plain `std::env::args` so the tool adds no
//! dependencies to the workspace.

use std::process::ExitCode;
use std::thread;

use mock_origin::MockOrigin;

const DEFAULT_LISTEN: &str = "127.0.0.1:9000";

const USAGE: &str = "\
usage: mock-origin [--listen ADDR]

Serves deterministic bodies; each request picks its behaviour by query:
  size=N status=N cc=VALUE|none age=N expires=N nodate=1 etag=V
  delay_ms=N chunk=N pause_ms=M pause_after=B te=chunked|close
  fail_after=B bad=garbage|long|short|cl-te|dup-cl|bad-chunk|hang
  hdr=Name:Value (repeatable)
GET /__stats returns request counts as JSON.

options:
  -l, --listen ADDR   address to bind (default 127.0.0.1:9000)
  -h, --help          print this help
";

fn main() -> ExitCode {
    let listen = match parse_args(std::env::args().skip(1)) {
        Ok(Some(listen)) => listen,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("mock-origin: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let origin = match MockOrigin::start(&listen) {
        Ok(origin) => origin,
        Err(e) => {
            eprintln!("mock-origin: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("mock-origin listening on {}", origin.url());
    // Serve until killed; the origin lives on background threads.
    loop {
        thread::park();
    }
}

/// `Ok(None)` means help was asked for.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<String>, String> {
    let mut listen = DEFAULT_LISTEN.to_string();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "-l" | "--listen" => listen = args.next().ok_or("--listen needs an address")?,
            other => match other.strip_prefix("--listen=") {
                Some(addr) => listen = addr.to_string(),
                None => return Err(format!("unknown argument: {other}")),
            },
        }
    }
    Ok(Some(listen))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<String>, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn listen_forms_and_help() {
        assert_eq!(parse(&[]), Ok(Some(DEFAULT_LISTEN.to_string())));
        assert_eq!(
            parse(&["--listen", "0.0.0.0:80"]),
            Ok(Some("0.0.0.0:80".into()))
        );
        assert_eq!(parse(&["-l", "[::1]:9"]), Ok(Some("[::1]:9".into())));
        assert_eq!(
            parse(&["--listen=127.0.0.1:1"]),
            Ok(Some("127.0.0.1:1".into()))
        );
        assert_eq!(parse(&["--help"]), Ok(None));
        assert!(parse(&["--listen"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }
}
