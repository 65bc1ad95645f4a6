//! Helpers shared by the fuzz targets: how an input is cut into socket reads, how it becomes
//! a list of header fields, the response rules responses are judged under, and the
//! allocation meter that checks every target's memory stays proportional to its input.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::SystemTime;

use bytes::Bytes;
use livecache::cache::rules::ResponseRules;
use livecache::cache::{freshness, Decision};
use livecache::http::Header;
use livecache::Config;

/// FNV-1a, 64 bit: a stable digest used to seed read splits and to compare parse results
/// without keeping the parsed values (and the buffers they pin) alive.
pub fn hash(bytes: &[u8]) -> u64 {
    let mut h = EMPTY;
    stream(&mut h, bytes);
    h
}

/// The FNV-1a offset basis: the digest of nothing, to start a `stream` digest from.
pub const EMPTY: u64 = 0xcbf2_9ce4_8422_2325;

/// Adds `bytes` to a running digest with no boundary: a body digested piece by piece comes
/// out the same however it was cut.
pub fn stream(h: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *h = (*h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
}

/// Adds `bytes` to a running digest, length-prefixed so field boundaries count.
pub fn mix(h: &mut u64, bytes: &[u8]) {
    *h = (*h ^ bytes.len() as u64).wrapping_mul(0x0000_0100_0000_01b3);
    for &b in bytes {
        *h = (*h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
}

/// The input cut into pieces as a socket might deliver it: sizes drawn from a generator
/// seeded by the input itself (so a crash reproduces from the file alone), mixing 1-3 byte
/// dribbles with larger reads. The seed inputs stay plain text: no control bytes in front.
pub struct Reads<'a> {
    rest: &'a [u8],
    state: u64,
}

impl<'a> Reads<'a> {
    pub fn new(data: &'a [u8], salt: u64) -> Reads<'a> {
        Reads {
            rest: data,
            state: (hash(data) ^ salt) | 1,
        }
    }
}

impl<'a> Iterator for Reads<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        // xorshift64
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let r = self.state;
        let size = match r % 4 {
            0 => 1 + (r >> 8) as usize % 3,
            1 => 1 + (r >> 8) as usize % 32,
            2 => 1 + (r >> 8) as usize % 512,
            _ => 1 + (r >> 8) as usize % 8192,
        };
        let (piece, rest) = self.rest.split_at(size.min(self.rest.len()));
        self.rest = rest;
        Some(piece)
    }
}

/// One input as header fields: one `Name: value` per line (LF or CRLF). Lines httparse would
/// refuse (a name that is not a token, a control byte other than HTAB in the value) are
/// dropped, so every field is one the daemon could have received; the value is trimmed of
/// OWS as httparse trims it. Field bytes are zero-copy slices of `data`.
pub fn fields(data: &Bytes) -> Vec<Header> {
    let mut out = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if !name.is_empty()
            && name.iter().all(|&b| is_tchar(b))
            && value
                .iter()
                .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80)
        {
            out.push(Header {
                name: data.slice_ref(name),
                value: data.slice_ref(value),
            });
        }
    }
    out
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// RFC 9110 5.6.2 token characters.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The daemon's default response rules (targeted field, Set-Cookie), plus negative caching
/// (off by default) so that path is fuzzed too. Built once, through the same text parser as a
/// config file, so a new key needs nothing here.
fn rules() -> &'static ResponseRules {
    static RULES: OnceLock<ResponseRules> = OnceLock::new();
    RULES.get_or_init(|| {
        Config::from_pairs(&[("shards", "1"), ("negative_ttl", "404=10s, 5xx=1s")])
            .expect("the default configuration is valid")
            .caching
            .response
    })
}

/// `freshness::evaluate` under those rules: what the fetch leader decides when a response
/// head arrives.
pub fn decide(status: u16, headers: &[Header], sent: SystemTime, arrived: SystemTime) -> Decision {
    freshness::evaluate(status, headers, sent, arrived, rules())
}

/// The targeted Cache-Control field (RFC 9213) the rules name.
pub fn targeted_field() -> Option<&'static str> {
    rules().targeted_cache_control.as_deref()
}

/// The global allocator of every target: the system allocator, counting live bytes and their
/// high-water mark so a target can assert its peak stays within a budget set by its input.
pub struct Metered;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; the counters only observe it.
unsafe impl GlobalAlloc for Metered {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Metered = Metered;

/// Bytes a target may hold per input byte where the input can be a list of field names
/// (`Vary`, a qualified `no-cache="..."`): each name becomes its own `Bytes` (32 bytes in a
/// `Vec`, that Vec's growth, the name's own allocation, then the `Arc<[Bytes]>` of `Vary`), and
/// a name takes as few as two input bytes (`a,`). Still linear in the input: what the budget
/// catches is an allocation sized by a number in the input, or one that grows faster.
pub const NAME_LIST_FACTOR: usize = 128;

/// Runs `f` and panics if the bytes it held live at its peak (beyond what was live before)
/// exceed `budget`: a parser that sizes a buffer from a number in its input instead of the
/// bytes it has is caught here, long before libFuzzer's RSS limit would notice.
pub fn within_budget<T>(budget: usize, what: &str, f: impl FnOnce() -> T) -> T {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    assert!(
        peak <= budget,
        "{what}: peak allocation {peak} bytes over the budget of {budget}"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cover_the_input_in_order() {
        let data: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
        let joined: Vec<u8> = Reads::new(&data, 7).flatten().copied().collect();
        assert_eq!(joined, data);
        assert!(Reads::new(&data, 7).all(|r| !r.is_empty()));
    }

    #[test]
    fn fields_drop_lines_httparse_would_refuse() {
        let data = Bytes::from_static(b"A: 1 \r\nbad name: x\nB:\tv\x01\nC:  two words\nnocolon\n");
        let parsed = fields(&data);
        let got: Vec<(&[u8], &[u8])> = parsed.iter().map(|h| (&h.name[..], &h.value[..])).collect();
        assert_eq!(got, vec![(&b"A"[..], &b"1"[..]), (b"C", b"two words")]);
    }
}
