//! Shared by the mock origin's socket tests: a strict keep-alive client (`Client`),
//! `send_and_read_head` for tests that read the body their own way (to the reset, paced), and
//! `media_playlist` for the live ones.

#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use mock_origin::MockOrigin;

/// The media playlist of stream 0, rendition 0.
const MEDIA: &str = "/live/s0/r0/index.m3u8";

/// The text of `MEDIA` with `query` (none when empty), which must be a 200.
pub fn media_playlist(origin: &MockOrigin, query: &str) -> String {
    let target = match query {
        "" => MEDIA.to_string(),
        query => format!("{MEDIA}?{query}"),
    };
    let response = Client::connect(origin).get(&target);
    assert_eq!(response.status, 200, "{target}");
    String::from_utf8(response.body).expect("UTF-8 playlist")
}

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

/// A response as the strict test client read it.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }
}

/// A keep-alive client that checks framing byte for byte (CRLF lines, chunk sizes).
pub struct Client {
    pub reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(origin: &MockOrigin) -> Client {
        let stream = TcpStream::connect(origin.addr()).expect("connect");
        // Only a guard against a broken origin hanging the suite.
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Client {
            reader: BufReader::new(stream),
        }
    }

    pub fn send(&mut self, raw: &str) {
        self.reader
            .get_mut()
            .write_all(raw.as_bytes())
            .expect("write request");
    }

    pub fn get(&mut self, target: &str) -> Response {
        self.send(&format!("GET {target} HTTP/1.1\r\nHost: origin\r\n\r\n"));
        self.response(false)
    }

    /// GET with `extra` header lines (each ending in CRLF).
    pub fn get_with(&mut self, target: &str, extra: &str) -> Response {
        self.try_request("GET", target, extra).expect("response")
    }

    /// One exchange; `Err` when the connection fails.
    pub fn try_request(&mut self, method: &str, target: &str, extra: &str) -> io::Result<Response> {
        let raw = format!("{method} {target} HTTP/1.1\r\nHost: origin\r\n{extra}\r\n");
        self.reader.get_mut().write_all(raw.as_bytes())?;
        self.try_response(method == "HEAD")
    }

    /// One line without its CRLF; `UnexpectedEof` when the connection ended.
    pub fn line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        assert!(line.ends_with("\r\n"), "line not CRLF-terminated: {line:?}");
        line.truncate(line.len() - 2);
        Ok(line)
    }

    pub fn head(&mut self) -> io::Result<Response> {
        let status_line = self.line()?;
        let mut parts = status_line.splitn(3, ' ');
        assert_eq!(
            parts.next(),
            Some("HTTP/1.1"),
            "status line {status_line:?}"
        );
        let status = parts
            .next()
            .and_then(|s| s.parse().ok())
            .expect("status code");
        let mut headers = Vec::new();
        loop {
            let line = self.line()?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').expect("header colon");
            headers.push((name.to_string(), value.trim().to_string()));
        }
        Ok(Response {
            status,
            headers,
            body: Vec::new(),
        })
    }

    /// Reads a whole response, following its framing strictly.
    pub fn response(&mut self, head_request: bool) -> Response {
        self.try_response(head_request).expect("response")
    }

    fn try_response(&mut self, head_request: bool) -> io::Result<Response> {
        let mut response = self.head()?;
        if head_request || response.status == 304 {
            return Ok(response);
        }
        if response.header("transfer-encoding") == Some("chunked") {
            response.body = self.chunked_body().into_iter().flatten().collect();
        } else if let Some(len) = response.header("content-length") {
            response.body = vec![0; len.parse().expect("numeric length")];
            self.reader.read_exact(&mut response.body)?;
        } else {
            self.reader.read_to_end(&mut response.body)?;
        }
        Ok(response)
    }

    /// The chunks of a chunked body, validating every size line and CRLF.
    pub fn chunked_body(&mut self) -> Vec<Vec<u8>> {
        let mut chunks = Vec::new();
        loop {
            let size_line = self.line().expect("chunk size line");
            let size = usize::from_str_radix(&size_line, 16).expect("hex chunk size");
            if size == 0 {
                assert_eq!(self.line().expect("end"), "", "no trailers expected");
                return chunks;
            }
            let mut chunk = vec![0; size + 2];
            self.reader.read_exact(&mut chunk).expect("chunk data");
            assert_eq!(&chunk[size..], b"\r\n", "chunk data must end in CRLF");
            chunk.truncate(size);
            chunks.push(chunk);
        }
    }

    /// Everything until EOF or a reset, and whether it ended in a reset.
    pub fn drain(&mut self) -> (Vec<u8>, bool) {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return (data, false),
                Ok(n) => data.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return (data, true),
                Err(e) => panic!("unexpected read error {e}"),
            }
        }
    }
}
