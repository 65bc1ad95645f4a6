//! The HTTP/1.1 client side: a keep-alive glommio connection ([`Conn`]) and a blocking
//! probe ([`blocking_get`]) that send GETs and drive the strict response reader
//! ([`ResponseReader`], in `reader`) to a timed [`Response`]. URLs are in `url` and the
//! error kinds in `error`; everything is re-exported here.
//!
//! Bytes left over after a response (the server sent more than it declared) are an error,
//! since the next response on the connection could not be trusted. A reused keep-alive
//! connection that the server closed while idle is retried once on a fresh one.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;

mod error;
mod reader;
mod url;
pub use error::HttpError;
pub use reader::{ResponseReader, MAX_HEAD};
pub use url::Url;

/// How long a connection to the target may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Read buffer size per connection.
const BUF_SIZE: usize = 64 * 1024;

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

    /// The default per-request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
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
        _ => match TcpStream::connect_timeout(url.addr, CONNECT_TIMEOUT).await {
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
