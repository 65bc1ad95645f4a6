//! The strict sans-I/O reader of one HTTP/1.1 response ([`ResponseReader`]): fed bytes as
//! they arrive, it parses the head, follows the body's framing and says when the response
//! is complete.
//!
//! The reader is strict on purpose, because a load generator that counts a truncated body
//! as a success hides exactly the bugs it exists to find: a body shorter than its
//! Content-Length, a chunked body that stops before its last chunk, or a connection that
//! closes mid-response is an error, never a success. Bodies are delimited by
//! Content-Length or chunked Transfer-Encoding (responses with neither are read until the
//! connection closes, as HTTP/1.1 allows); both at once, conflicting Content-Lengths, and
//! unknown transfer codings are errors. 1xx interim responses are skipped.

use super::HttpError;

/// Largest response head (status line and headers) accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// Largest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;

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
}
