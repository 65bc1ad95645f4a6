//! The HTTP/1.1 client side: URL parsing, a strict sans-I/O response reader
//! ([`ResponseReader`]), and a keep-alive glommio connection ([`Conn`]) that drives it.
//!
//! The reader is strict on purpose, because a load generator that counts a truncated body
//! as a success hides exactly the bugs it exists to find: a body shorter than its
//! Content-Length, a chunked body that stops before its last chunk, or a connection that
//! closes mid-response is an error, never a success. Bodies are delimited by
//! Content-Length or chunked Transfer-Encoding (responses with neither are read until the
//! connection closes, as HTTP/1.1 allows); both at once, conflicting Content-Lengths, and
//! unknown transfer codings are errors. 1xx interim responses are skipped. Bytes left over
//! after a response (the server sent more than it declared) are an error too, since the
//! next response on the connection could not be trusted.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;

/// Largest response head (status line and headers) accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// Largest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;
/// Read buffer size per connection.
const BUF_SIZE: usize = 64 * 1024;

/// An `http://` URL, resolved once to a socket address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    /// The authority as sent in the Host header (`host` or `host:port`).
    pub host: String,
    /// Where to connect.
    pub addr: SocketAddr,
    /// The request target: path and query, always starting with `/`.
    pub target: String,
}

impl Url {
    /// Parses `http://host[:port][/path][?query]` and resolves the host.
    pub fn parse(s: &str) -> Result<Url, String> {
        let rest = s
            .strip_prefix("http://")
            .ok_or_else(|| format!("{s}: only http:// URLs are supported"))?;
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(format!("{s}: bad host"));
        }
        let with_port = if authority.starts_with('[') {
            if authority.contains("]:") {
                authority.to_string()
            } else {
                format!("{authority}:80")
            }
        } else if authority.contains(':') {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| format!("{s}: cannot resolve {authority}: {e}"))?
            .next()
            .ok_or_else(|| format!("{s}: {authority} resolves to nothing"))?;
        Ok(Url {
            host: authority.to_string(),
            addr,
            target,
        })
    }

    /// Resolves a reference found in a playlist against this URL: absolute `http://` URLs,
    /// absolute paths, and paths relative to this URL's directory (query dropped).
    pub fn join(&self, reference: &str) -> Result<Url, String> {
        if reference.starts_with("http://") {
            return Url::parse(reference);
        }
        if reference.contains("://") {
            return Err(format!("{reference}: only http:// URLs are supported"));
        }
        let target = if reference.starts_with('/') {
            reference.to_string()
        } else {
            let path = self.target.split('?').next().unwrap_or("/");
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            format!("{dir}{reference}")
        };
        Ok(Url {
            host: self.host.clone(),
            addr: self.addr,
            target,
        })
    }

    /// This URL with `query` appended (after `?`, or `&` when it already has a query).
    pub fn with_query(&self, query: &str) -> Url {
        let sep = if self.target.contains('?') { '&' } else { '?' };
        Url {
            target: format!("{}{sep}{query}", self.target),
            ..self.clone()
        }
    }

    /// The GET request for this URL.
    pub fn request_bytes(&self) -> Vec<u8> {
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: loadgen\r\n\r\n",
            self.target, self.host
        )
        .into_bytes()
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.host, self.target)
    }
}

/// Why a request did not produce a complete response. [`HttpError::kind`] is the stable
/// name used in reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// Could not connect.
    Connect(String),
    /// A read or write failed.
    Io(String),
    /// The connection closed before or inside the response head.
    Closed,
    /// The body ended (connection closed) before its declared length or last chunk.
    ShortBody,
    /// The head is not a valid HTTP/1.x response, or its framing headers are contradictory.
    BadResponse(String),
    /// A malformed chunk-size line or chunk terminator.
    BadChunk,
    /// The head is larger than [`MAX_HEAD`].
    HeadTooLarge,
    /// Bytes followed the end of the response on the connection.
    TrailingData,
    /// No complete response within the request timeout.
    Timeout,
}

impl HttpError {
    /// The stable, snake_case name of this error kind.
    pub fn kind(&self) -> &'static str {
        match self {
            HttpError::Connect(_) => "connect",
            HttpError::Io(_) => "io",
            HttpError::Closed => "closed",
            HttpError::ShortBody => "short_body",
            HttpError::BadResponse(_) => "bad_response",
            HttpError::BadChunk => "bad_chunk",
            HttpError::HeadTooLarge => "head_too_large",
            HttpError::TrailingData => "trailing_data",
            HttpError::Timeout => "timeout",
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Connect(e) => write!(f, "connect: {e}"),
            HttpError::Io(e) => write!(f, "io: {e}"),
            HttpError::BadResponse(e) => write!(f, "bad response: {e}"),
            other => f.write_str(other.kind()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Fixed(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailer,
    UntilClose,
    Done,
}

/// A sans-I/O reader for one response: feed it bytes with [`ResponseReader::feed`] until
/// [`ResponseReader::is_done`], or tell it the connection closed with
/// [`ResponseReader::eof`].
#[derive(Debug)]
pub struct ResponseReader {
    state: State,
    status: u16,
    keep_alive: bool,
    body_bytes: u64,
    body: Option<Vec<u8>>,
    got_any: bool,
}

impl ResponseReader {
    /// A reader for the next response; with `collect` it keeps the body bytes.
    pub fn new(collect: bool) -> Self {
        ResponseReader {
            state: State::Head,
            status: 0,
            keep_alive: true,
            body_bytes: 0,
            body: collect.then(Vec::new),
            got_any: false,
        }
    }

    /// Consumes what it can of `input` and returns how many bytes it used. When it returns
    /// less than `input.len()` and is not done, it needs more bytes appended to the rest.
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, HttpError> {
        let mut used = 0;
        if !input.is_empty() {
            self.got_any = true;
        }
        loop {
            let rest = &input[used..];
            let n = match self.state {
                State::Done => return Ok(used),
                State::Head => self.head(rest)?,
                State::Fixed(left) => {
                    let n = (left.min(rest.len() as u64)) as usize;
                    self.take_body(&rest[..n]);
                    self.state = if left == n as u64 {
                        State::Done
                    } else {
                        State::Fixed(left - n as u64)
                    };
                    n
                }
                State::ChunkSize => match line(rest)? {
                    None => 0,
                    Some((text, n)) => {
                        let size = parse_chunk_size(text)?;
                        self.state = if size == 0 {
                            State::Trailer
                        } else {
                            State::ChunkData(size)
                        };
                        n
                    }
                },
                State::ChunkData(left) => {
                    let n = (left.min(rest.len() as u64)) as usize;
                    self.take_body(&rest[..n]);
                    self.state = if left == n as u64 {
                        State::ChunkEnd
                    } else {
                        State::ChunkData(left - n as u64)
                    };
                    n
                }
                State::ChunkEnd => {
                    if rest.len() < 2 {
                        if rest.first().is_some_and(|&b| b != b'\r') {
                            return Err(HttpError::BadChunk);
                        }
                        0
                    } else if &rest[..2] == b"\r\n" {
                        self.state = State::ChunkSize;
                        2
                    } else {
                        return Err(HttpError::BadChunk);
                    }
                }
                State::Trailer => match line(rest)? {
                    None => 0,
                    Some((text, n)) => {
                        if text.is_empty() {
                            self.state = State::Done;
                        }
                        n
                    }
                },
                State::UntilClose => {
                    self.take_body(rest);
                    rest.len()
                }
            };
            if n == 0 && self.state != State::Done {
                return Ok(used);
            }
            used += n;
        }
    }

    fn take_body(&mut self, bytes: &[u8]) {
        self.body_bytes += bytes.len() as u64;
        if let Some(body) = &mut self.body {
            body.extend_from_slice(bytes);
        }
    }

    fn head(&mut self, input: &[u8]) -> Result<usize, HttpError> {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        let len = match response.parse(input) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => {
                return if input.len() >= MAX_HEAD {
                    Err(HttpError::HeadTooLarge)
                } else {
                    Ok(0)
                };
            }
            Err(e) => return Err(HttpError::BadResponse(e.to_string())),
        };
        let status = response.code.unwrap_or(0);
        if (100..200).contains(&status) {
            if status == 101 {
                return Err(HttpError::BadResponse("unexpected 101".into()));
            }
            return Ok(len); // interim response: the real one follows
        }
        let mut content_length: Option<u64> = None;
        let mut chunked = false;
        let mut keep_alive = response.version == Some(1);
        for h in response.headers.iter() {
            let value = std::str::from_utf8(h.value)
                .map_err(|_| HttpError::BadResponse(format!("non-UTF-8 {}", h.name)))?
                .trim();
            if h.name.eq_ignore_ascii_case("content-length") {
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(HttpError::BadResponse(format!("Content-Length {value:?}")));
                }
                let n: u64 = value
                    .parse()
                    .map_err(|_| HttpError::BadResponse(format!("Content-Length {value:?}")))?;
                if content_length.is_some_and(|old| old != n) {
                    return Err(HttpError::BadResponse("conflicting Content-Length".into()));
                }
                content_length = Some(n);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                let last = value.rsplit(',').next().unwrap_or("").trim();
                if !last.eq_ignore_ascii_case("chunked") {
                    return Err(HttpError::BadResponse(format!(
                        "Transfer-Encoding {value:?}"
                    )));
                }
                chunked = true;
            } else if h.name.eq_ignore_ascii_case("connection") {
                for token in value.split(',').map(str::trim) {
                    if token.eq_ignore_ascii_case("close") {
                        keep_alive = false;
                    } else if token.eq_ignore_ascii_case("keep-alive") {
                        keep_alive = true;
                    }
                }
            }
        }
        if chunked && content_length.is_some() {
            return Err(HttpError::BadResponse(
                "both Content-Length and chunked".into(),
            ));
        }
        self.status = status;
        self.keep_alive = keep_alive;
        self.state = if status == 204 || status == 304 {
            State::Done
        } else if chunked {
            State::ChunkSize
        } else {
            match content_length {
                Some(0) => State::Done,
                Some(n) => State::Fixed(n),
                None => {
                    self.keep_alive = false;
                    State::UntilClose
                }
            }
        };
        Ok(len)
    }

    /// The connection closed: completes a read-until-close body, and is an error anywhere
    /// else short of done.
    pub fn eof(&mut self) -> Result<(), HttpError> {
        match self.state {
            State::Done => Ok(()),
            State::UntilClose => {
                self.state = State::Done;
                Ok(())
            }
            State::Head => Err(HttpError::Closed),
            _ => Err(HttpError::ShortBody),
        }
    }

    /// Whether the whole response has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Whether any byte of the response has been fed yet.
    pub fn started(&self) -> bool {
        self.got_any
    }

    /// The final status code (0 before the head is read).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the connection may carry another request after this response.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// Body bytes read so far (after de-chunking).
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes
    }

    /// The collected body, when the reader was made with `collect`.
    pub fn take_collected(&mut self) -> Option<Vec<u8>> {
        self.body.take()
    }
}

/// One CRLF-terminated line at the start of `input`: its text and its length with the
/// CRLF, or `None` when the line is not complete yet.
fn line(input: &[u8]) -> Result<Option<(&[u8], usize)>, HttpError> {
    match input.windows(2).position(|w| w == b"\r\n") {
        Some(i) => Ok(Some((&input[..i], i + 2))),
        None if input.len() > MAX_LINE => Err(HttpError::BadChunk),
        None => Ok(None),
    }
}

/// `1a;ext=1` → 26. Hex digits, optional whitespace, then optional extensions.
fn parse_chunk_size(line: &[u8]) -> Result<u64, HttpError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 15 {
        return Err(HttpError::BadChunk);
    }
    let rest = &line[digits..];
    let rest_ok = rest
        .iter()
        .position(|&b| b == b';')
        .map_or(rest, |i| &rest[..i])
        .iter()
        .all(|&b| b == b' ' || b == b'\t');
    if !rest_ok {
        return Err(HttpError::BadChunk);
    }
    let text = std::str::from_utf8(&line[..digits]).map_err(|_| HttpError::BadChunk)?;
    u64::from_str_radix(text, 16).map_err(|_| HttpError::BadChunk)
}

/// A completed response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Final status code.
    pub status: u16,
    /// From the timing origin to the first response byte.
    pub ttfb: Duration,
    /// From the timing origin to the last body byte.
    pub total: Duration,
    /// Body bytes (after de-chunking).
    pub bytes: u64,
    /// The body, when it was asked for.
    pub body: Option<Vec<u8>>,
}

impl Response {
    /// Whether the status counts as a success (2xx or 304).
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status) || self.status == 304
    }
}

/// A keep-alive client connection that reconnects on demand (first use, after an error,
/// after `Connection: close`, or when a URL names a different address).
pub struct Conn {
    stream: Option<(SocketAddr, TcpStream)>,
    buf: Vec<u8>,
    timeout: Duration,
}

impl Conn {
    /// A connection (not yet open) whose requests time out after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Conn {
            stream: None,
            buf: vec![0; BUF_SIZE],
            timeout,
        }
    }

    /// Sends GET `url` and reads the whole response. Times are measured from `origin`
    /// (the scheduled send time in open-loop mode, else the moment of the call); a
    /// connect, when needed, counts in them.
    pub async fn get(
        &mut self,
        url: &Url,
        collect: bool,
        origin: Instant,
    ) -> Result<Response, HttpError> {
        self.get_timeout(url, collect, origin, self.timeout).await
    }

    /// [`Conn::get`] with its own timeout (for blocking playlist reloads).
    pub async fn get_timeout(
        &mut self,
        url: &Url,
        collect: bool,
        origin: Instant,
        timeout: Duration,
    ) -> Result<Response, HttpError> {
        let stream = self.stream.take();
        let buf = std::mem::take(&mut self.buf);
        let fut = exchange(stream, buf, url, collect, origin);
        match glommio::timer::timeout(timeout, async { Ok(fut.await) }).await {
            Ok((result, stream, buf)) => {
                self.buf = buf;
                self.stream = stream;
                result
            }
            Err(_) => {
                self.buf = vec![0; BUF_SIZE];
                Err(HttpError::Timeout)
            }
        }
    }
}

type Exchange = (
    Result<Response, HttpError>,
    Option<(SocketAddr, TcpStream)>,
    Vec<u8>,
);

/// One request on `stream` (or a new connection). A reused keep-alive connection that the
/// server closed while idle fails before any response byte; that attempt is retried once on
/// a fresh connection, as browsers do for GET.
async fn exchange(
    stream: Option<(SocketAddr, TcpStream)>,
    buf: Vec<u8>,
    url: &Url,
    collect: bool,
    origin: Instant,
) -> Exchange {
    let reused = matches!(&stream, Some((addr, _)) if *addr == url.addr);
    let (result, stream, buf) = attempt(stream, buf, url, collect, origin).await;
    match result {
        Err(HttpError::Closed | HttpError::Io(_)) if reused => {
            attempt(None, buf, url, collect, origin).await
        }
        other => (other, stream, buf),
    }
}

async fn attempt(
    stream: Option<(SocketAddr, TcpStream)>,
    mut buf: Vec<u8>,
    url: &Url,
    collect: bool,
    origin: Instant,
) -> Exchange {
    let mut stream = match stream {
        Some((addr, s)) if addr == url.addr => s,
        _ => match TcpStream::connect(url.addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                s
            }
            Err(e) => return (Err(HttpError::Connect(e.to_string())), None, buf),
        },
    };
    if let Err(e) = stream.write_all(&url.request_bytes()).await {
        return (Err(HttpError::Io(e.to_string())), None, buf);
    }
    let mut reader = ResponseReader::new(collect);
    let mut ttfb = None;
    let (mut start, mut end) = (0usize, 0usize);
    loop {
        if end == buf.len() {
            if start == 0 {
                // Only a head can fill the buffer without being consumed.
                return (Err(HttpError::HeadTooLarge), None, buf);
            }
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
        }
        let n = match stream.read(&mut buf[end..]).await {
            Ok(n) => n,
            Err(e) => return (Err(HttpError::Io(e.to_string())), None, buf),
        };
        if n == 0 {
            return match reader.eof() {
                Ok(()) => (Ok(finish(&mut reader, ttfb, origin)), None, buf),
                Err(e) => (Err(e), None, buf),
            };
        }
        ttfb.get_or_insert_with(|| origin.elapsed());
        end += n;
        match reader.feed(&buf[start..end]) {
            Ok(used) => start += used,
            Err(e) => return (Err(e), None, buf),
        }
        if start == end {
            start = 0;
            end = 0;
        }
        if reader.is_done() {
            if end > start {
                return (Err(HttpError::TrailingData), None, buf);
            }
            let keep = reader.keep_alive().then_some((url.addr, stream));
            return (Ok(finish(&mut reader, ttfb, origin)), keep, buf);
        }
    }
}

fn finish(reader: &mut ResponseReader, ttfb: Option<Duration>, origin: Instant) -> Response {
    let total = origin.elapsed();
    Response {
        status: reader.status(),
        ttfb: ttfb.unwrap_or(total),
        total,
        bytes: reader.body_bytes(),
        body: reader.take_collected(),
    }
}

/// A blocking GET with std networking (one connection, closed after), used to probe a
/// playlist before the executors start.
pub fn blocking_get(url: &Url, timeout: Duration) -> Result<Response, HttpError> {
    use std::io::{Read, Write};
    let origin = Instant::now();
    let mut s = std::net::TcpStream::connect_timeout(&url.addr, timeout)
        .map_err(|e| HttpError::Connect(e.to_string()))?;
    s.set_read_timeout(Some(timeout))
        .and_then(|()| s.set_write_timeout(Some(timeout)))
        .map_err(|e| HttpError::Io(e.to_string()))?;
    s.write_all(&url.request_bytes())
        .map_err(|e| HttpError::Io(e.to_string()))?;
    let mut reader = ResponseReader::new(true);
    let mut pending = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let mut ttfb = None;
    while !reader.is_done() {
        let n = s.read(&mut chunk).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => HttpError::Timeout,
            _ => HttpError::Io(e.to_string()),
        })?;
        if n == 0 {
            reader.eof()?;
            break;
        }
        ttfb.get_or_insert_with(|| origin.elapsed());
        pending.extend_from_slice(&chunk[..n]);
        let used = reader.feed(&pending)?;
        pending.drain(..used);
    }
    Ok(finish(&mut reader, ttfb, origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `pieces` one after another the way a connection would (unconsumed bytes stay
    /// buffered), then EOF if `eof`. Returns the reader's outcome.
    type Outcome = Result<(u16, u64, Vec<u8>), HttpError>;

    fn run(pieces: &[&[u8]], eof: bool) -> Outcome {
        let mut reader = ResponseReader::new(true);
        let mut pending = Vec::new();
        for piece in pieces {
            pending.extend_from_slice(piece);
            let used = reader.feed(&pending)?;
            pending.drain(..used);
            if reader.is_done() {
                if !pending.is_empty() {
                    return Err(HttpError::TrailingData);
                }
                break;
            }
        }
        if !reader.is_done() {
            if eof {
                reader.eof()?;
            } else {
                return Err(HttpError::Closed);
            }
        }
        let body = reader.take_collected().unwrap();
        Ok((reader.status(), reader.body_bytes(), body))
    }

    /// Every split of `wire` into two pieces, and byte-at-a-time.
    fn all_splits(wire: &[u8], eof: bool) -> Vec<Outcome> {
        let mut out = Vec::new();
        for i in 0..=wire.len() {
            out.push(run(&[&wire[..i], &wire[i..]], eof));
        }
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        out.push(run(&bytes, eof));
        out
    }

    #[test]
    fn content_length_body() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        for r in all_splits(wire, false) {
            assert_eq!(r.unwrap(), (200, 5, b"hello".to_vec()));
        }
    }

    #[test]
    fn chunked_body_split_at_every_byte() {
        let wire =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n1\r\n \r\nb\r\nworld-again\r\n0\r\nX-T: 1\r\n\r\n";
        for r in all_splits(wire, false) {
            assert_eq!(r.unwrap(), (200, 17, b"hello world-again".to_vec()));
        }
    }

    #[test]
    fn short_body_is_an_error() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello";
        for r in all_splits(wire, true) {
            assert_eq!(r.unwrap_err(), HttpError::ShortBody);
        }
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
        assert_eq!(run(&[chunked], true).unwrap_err(), HttpError::ShortBody);
        let head = b"HTTP/1.1 200 OK\r\nContent-Len";
        assert_eq!(run(&[head], true).unwrap_err(), HttpError::Closed);
        assert_eq!(run(&[], true).unwrap_err(), HttpError::Closed);
    }

    #[test]
    fn framing_errors() {
        let cases: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"garbage\r\n\r\n",
        ];
        for wire in cases {
            assert!(
                matches!(run(&[wire], true), Err(HttpError::BadResponse(_))),
                "{}",
                String::from_utf8_lossy(wire)
            );
        }
        let bad_chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert_eq!(run(&[bad_chunk], true).unwrap_err(), HttpError::BadChunk);
        let no_crlf = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhiX\r\n0\r\n\r\n";
        assert_eq!(run(&[no_crlf], true).unwrap_err(), HttpError::BadChunk);
        let long = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiTRAILING";
        assert_eq!(run(&[long], false).unwrap_err(), HttpError::TrailingData);
    }

    #[test]
    fn no_body_statuses_interim_and_until_close() {
        let wire =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n";
        for r in all_splits(wire, false) {
            assert_eq!(r.unwrap(), (304, 0, Vec::new()));
        }
        let close = b"HTTP/1.1 200 OK\r\n\r\nuntil close";
        assert_eq!(
            run(&[close], true).unwrap(),
            (200, 11, b"until close".to_vec())
        );
        let mut r = ResponseReader::new(false);
        r.feed(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        assert!(r.is_done() && !r.keep_alive());
        let mut r = ResponseReader::new(false);
        r.feed(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        assert!(!r.keep_alive());
    }

    #[test]
    fn url_parse_and_join() {
        let u = Url::parse("http://127.0.0.1:8080/live/s0/r1/index.m3u8?a=1").unwrap();
        assert_eq!(u.host, "127.0.0.1:8080");
        assert_eq!(u.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(u.target, "/live/s0/r1/index.m3u8?a=1");
        assert_eq!(u.join("seg-1.m4s").unwrap().target, "/live/s0/r1/seg-1.m4s");
        assert_eq!(u.join("/x/y.ts").unwrap().target, "/x/y.ts");
        let abs = u.join("http://127.0.0.2/z").unwrap();
        assert_eq!(
            (abs.host.as_str(), abs.target.as_str()),
            ("127.0.0.2", "/z")
        );
        assert_eq!(
            u.with_query("_HLS_msn=3").target,
            "/live/s0/r1/index.m3u8?a=1&_HLS_msn=3"
        );
        assert_eq!(Url::parse("http://127.0.0.1").unwrap().target, "/");
        assert_eq!(Url::parse("http://127.0.0.1?q").unwrap().target, "/?q");
        assert!(Url::parse("https://127.0.0.1/").is_err());
        assert_eq!(
            u.to_string(),
            "http://127.0.0.1:8080/live/s0/r1/index.m3u8?a=1"
        );
    }
}
