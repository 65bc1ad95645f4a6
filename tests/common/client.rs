//! The harness's HTTP/1.1 client: one request per connection or several on one, strict about
//! framing (`Content-Length`, chunked, close-delimited), and honest about a response that was
//! cut (`complete` is false) and about when its first body byte came.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A response as a client saw it.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// False when the connection ended before the framing said the body was complete.
    pub complete: bool,
    /// When the first body byte arrived, measured from the moment the request was sent.
    pub first_byte: Option<Duration>,
    pub total: Duration,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn cache_status(&self) -> &str {
        self.header("cache-status").unwrap_or("")
    }
}

/// One GET on a new connection (`Connection: close`).
pub fn get(addr: SocketAddr, target: &str) -> Response {
    request(
        addr,
        &format!("GET {target} HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n"),
        false,
    )
}

/// Sends raw bytes on a new connection and reads one response.
pub fn request(addr: SocketAddr, raw: &str, head_request: bool) -> Response {
    let mut conn = Conn::open(addr);
    conn.send(raw.as_bytes());
    conn.read_response(head_request).expect("a response")
}

/// A client connection that can carry several requests.
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
    sent_at: Instant,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        Conn::over(TcpStream::connect(addr).expect("connect to livecache"))
    }

    /// A connection over `stream`, connected already (with socket options of the test's own).
    pub fn over(stream: TcpStream) -> Conn {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            stream,
            buf: Vec::new(),
            sent_at: Instant::now(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.sent_at = Instant::now();
        self.stream.write_all(bytes).expect("send request");
    }

    pub fn get(&mut self, target: &str) -> Response {
        self.send(format!("GET {target} HTTP/1.1\r\nHost: test.local\r\n\r\n").as_bytes());
        self.read_response(false).expect("a response")
    }

    /// Reads until the connection closes; returns everything read.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        let mut rest = std::mem::take(&mut self.buf);
        let _ = self.stream.read_to_end(&mut rest);
        rest
    }

    /// Reads until a whole response head has arrived (kept for `read_response`); false if
    /// the connection closed first.
    pub fn wait_for_head(&mut self) -> bool {
        while !self.buf.windows(4).any(|w| w == b"\r\n\r\n") {
            if !self.fill() {
                return false;
            }
        }
        true
    }

    /// True when the server closed the connection (read returns 0 or a reset).
    pub fn is_closed_by_peer(&mut self) -> bool {
        let mut byte = [0u8; 1];
        loop {
            match self.stream.read(&mut byte) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                result => return matches!(result, Ok(0) | Err(_)),
            }
        }
    }

    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                // Threads in this process get signals (glommio's executors live here too).
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Ok(0) | Err(_) => return false,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return true;
                }
            }
        }
    }

    /// Reads one response. None if the connection closed before a complete head.
    pub fn read_response(&mut self, head_request: bool) -> Option<Response> {
        let (status, headers, head_len) = loop {
            let mut slots = [httparse::EMPTY_HEADER; 64];
            let mut parsed = httparse::Response::new(&mut slots);
            match parsed.parse(&self.buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let headers = parsed
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_string(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect::<Vec<_>>();
                    break (parsed.code.unwrap(), headers, len);
                }
                Ok(httparse::Status::Partial) => {
                    if !self.fill() {
                        return None;
                    }
                }
                Err(e) => panic!(
                    "malformed response from livecache: {e}: {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        };
        self.buf.drain(..head_len);
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
            complete: true,
            first_byte: None,
            total: Duration::ZERO,
        };
        let find = |name: &str| response.header(name).map(str::to_string);
        let no_body =
            head_request || status == 204 || status == 304 || (100..200).contains(&status);
        if no_body {
        } else if let Some(len) = find("content-length") {
            let len: usize = len.trim().parse().expect("numeric Content-Length");
            while self.buf.len() < len {
                self.note_first_byte(&mut response);
                if !self.fill() {
                    break;
                }
            }
            self.note_first_byte(&mut response);
            let take = len.min(self.buf.len());
            response.body = self.buf.drain(..take).collect();
            response.complete = response.body.len() == len;
        } else if find("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"))
        {
            response.complete = self.read_chunked(&mut response);
        } else {
            self.note_first_byte(&mut response);
            while self.fill() {
                self.note_first_byte(&mut response);
            }
            response.body = std::mem::take(&mut self.buf);
        }
        response.total = self.sent_at.elapsed();
        Some(response)
    }

    fn note_first_byte(&self, response: &mut Response) {
        if response.first_byte.is_none() && !self.buf.is_empty() {
            response.first_byte = Some(self.sent_at.elapsed());
        }
    }

    fn read_chunked(&mut self, response: &mut Response) -> bool {
        loop {
            let line_end = loop {
                if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                if !self.fill() {
                    return false;
                }
            };
            let size_text = String::from_utf8_lossy(&self.buf[..line_end]).to_string();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
                .expect("chunk size");
            self.buf.drain(..line_end + 2);
            while self.buf.len() < size + 2 {
                if !self.fill() {
                    let take = size.min(self.buf.len());
                    response.body.extend(self.buf.drain(..take));
                    return false;
                }
            }
            if size == 0 {
                self.buf.drain(..2);
                return true;
            }
            self.note_first_byte(response);
            response.body.extend(self.buf.drain(..size));
            self.buf.drain(..2);
        }
    }
}
