//! Reading requests off a connection. This module owns request framing:
//! heads parsed with `httparse` (at most 64 headers, 64 KiB), bodies by
//! Content-Length or chunked coding (so POST/PUT from any client work),
//! `Expect: 100-continue`, and the keep-alive rules of RFC 9112 §9.3.
//!
//! Bytes read past the current request stay buffered, so pipelined requests
//! are answered in order. Anything malformed becomes an error status for the
//! connection layer to send before closing, never a panic.

use std::io::{self, Read, Write};
use std::net::TcpStream;

const MAX_HEADERS: usize = 64;
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 64 * 1024 * 1024;
const MAX_LINE: usize = 4096;
const READ_CHUNK: usize = 16 * 1024;

/// A request with its body, fully read.
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) target: String,
    /// HTTP/1.x minor version.
    pub(crate) minor: u8,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// Framing was ambiguous (both Content-Length and Transfer-Encoding), so
    /// the connection must not be reused (RFC 9112 §6.3).
    pub(crate) must_close: bool,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of the `name` fields, in order.
    pub(crate) fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether any `name` header lists `token` (comma-separated, any case).
    fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// HTTP/1.1 persists unless `Connection: close`; HTTP/1.0 only with
    /// `Connection: keep-alive`.
    pub(crate) fn keep_alive(&self) -> bool {
        if self.must_close || self.has_token("connection", "close") {
            false
        } else {
            self.minor >= 1 || self.has_token("connection", "keep-alive")
        }
    }
}

pub(crate) enum ReadError {
    /// The peer went away, or the socket failed: just close.
    Closed,
    /// The request is malformed or too large: answer with this status.
    Bad(u16),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Closed
    }
}

/// Buffered reads that keep bytes past the current request, so pipelined
/// requests are served in order.
pub(crate) struct Reader<'a> {
    stream: &'a TcpStream,
    buf: Vec<u8>,
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(stream: &'a TcpStream) -> Self {
        Reader {
            stream,
            buf: Vec::new(),
            pos: 0,
        }
    }

    fn available(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
    }

    /// Reads more bytes; `Ok(false)` on EOF.
    fn fill(&mut self) -> io::Result<bool> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let start = self.buf.len();
        self.buf.resize(start + READ_CHUNK, 0);
        let mut stream = self.stream;
        let result = loop {
            match stream.read(&mut self.buf[start..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        self.buf.truncate(start + *result.as_ref().unwrap_or(&0));
        Ok(result? > 0)
    }

    fn fill_or_eof(&mut self) -> Result<(), ReadError> {
        match self.fill()? {
            true => Ok(()),
            false => Err(ReadError::Closed),
        }
    }

    fn take(&mut self, n: usize, into: &mut Vec<u8>) -> Result<(), ReadError> {
        while self.available().len() < n {
            self.fill_or_eof()?;
        }
        into.extend_from_slice(&self.available()[..n]);
        self.consume(n);
        Ok(())
    }

    /// One line without its CRLF (or bare LF).
    fn line(&mut self) -> Result<String, ReadError> {
        loop {
            if let Some(end) = self.available().iter().position(|&b| b == b'\n') {
                let raw = &self.available()[..end];
                let line =
                    String::from_utf8_lossy(raw.strip_suffix(b"\r").unwrap_or(raw)).into_owned();
                self.consume(end + 1);
                return Ok(line);
            }
            if self.available().len() > MAX_LINE {
                return Err(ReadError::Bad(400));
            }
            self.fill_or_eof()?;
        }
    }
}

/// Reads one request; `Ok(None)` when the peer closed between requests.
pub(crate) fn read_request(reader: &mut Reader<'_>) -> Result<Option<Request>, ReadError> {
    let mut request = loop {
        if !reader.available().is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut parsed = httparse::Request::new(&mut headers);
            match parsed.parse(reader.available()) {
                Ok(httparse::Status::Complete(len)) => {
                    let request = Request {
                        method: parsed.method.unwrap_or_default().to_string(),
                        target: parsed.path.unwrap_or_default().to_string(),
                        minor: parsed.version.unwrap_or(1),
                        headers: parsed
                            .headers
                            .iter()
                            .map(|h| {
                                (
                                    h.name.to_string(),
                                    String::from_utf8_lossy(h.value).into_owned(),
                                )
                            })
                            .collect(),
                        body: Vec::new(),
                        must_close: false,
                    };
                    reader.consume(len);
                    break request;
                }
                Ok(httparse::Status::Partial) if reader.available().len() > MAX_HEAD => {
                    return Err(ReadError::Bad(431))
                }
                Ok(httparse::Status::Partial) => {}
                Err(httparse::Error::TooManyHeaders) => return Err(ReadError::Bad(431)),
                Err(_) => return Err(ReadError::Bad(400)),
            }
        }
        if !reader.fill()? {
            return match reader.available().is_empty() {
                true => Ok(None),
                false => Err(ReadError::Closed),
            };
        }
    };
    read_body(reader, &mut request)?;
    Ok(Some(request))
}

fn read_body(reader: &mut Reader<'_>, request: &mut Request) -> Result<(), ReadError> {
    let chunked = match request.header("transfer-encoding") {
        Some(te)
            if te
                .rsplit(',')
                .next()
                .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked")) =>
        {
            true
        }
        Some(_) => return Err(ReadError::Bad(501)),
        None => false,
    };
    let lengths: Vec<&str> = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.trim())
        .collect();
    if lengths.windows(2).any(|w| w[0] != w[1]) {
        return Err(ReadError::Bad(400));
    }
    let length = match lengths.first() {
        Some(v) => Some(v.parse::<usize>().map_err(|_| ReadError::Bad(400))?),
        None => None,
    };
    request.must_close = chunked && length.is_some();
    if !chunked && length.unwrap_or(0) == 0 {
        return Ok(());
    }
    if length.is_some_and(|n| n > MAX_BODY) {
        return Err(ReadError::Bad(413));
    }
    // curl and others wait (about a second) for this before sending a body.
    if request.minor >= 1
        && request.has_token("expect", "100-continue")
        && reader.available().is_empty()
    {
        let mut stream = reader.stream;
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let mut body = Vec::new();
    if !chunked {
        reader.take(length.unwrap_or(0), &mut body)?;
        request.body = body;
        return Ok(());
    }
    loop {
        let line = reader.line()?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| ReadError::Bad(400))?;
        if size == 0 {
            // Trailer fields are read and dropped.
            while !reader.line()?.is_empty() {}
            break;
        }
        if body.len() + size > MAX_BODY {
            return Err(ReadError::Bad(413));
        }
        reader.take(size, &mut body)?;
        if !reader.line()?.is_empty() {
            return Err(ReadError::Bad(400));
        }
    }
    request.body = body;
    Ok(())
}
