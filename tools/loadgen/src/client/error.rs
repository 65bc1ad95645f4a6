//! Why a request did not produce a complete response ([`HttpError`]): each kind has one
//! stable snake_case name, which the reports and the JSON output count errors under, so
//! adding a kind here is the one place a new failure becomes visible.

use std::fmt;

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
    /// The head is larger than [`MAX_HEAD`](super::MAX_HEAD).
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
