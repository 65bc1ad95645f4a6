//! Shared by the mock origin's socket tests: send one request on a fresh connection and read
//! the response head; each test file reads the body its own way (strict framing, or to the
//! reset).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use mock_origin::MockOrigin;

/// Sends `METHOD target` with `extra` header lines and returns the reader positioned at the
/// body, with the status and header fields.
pub fn send_and_read_head(
    origin: &MockOrigin,
    method: &str,
    target: &str,
    extra: &str,
) -> (BufReader<TcpStream>, u16, Vec<(String, String)>) {
    let mut stream = TcpStream::connect(origin.addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\nHost: o\r\n{extra}\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':').expect("header");
        headers.push((name.to_string(), value.trim().to_string()));
    }
    (reader, status, headers)
}
