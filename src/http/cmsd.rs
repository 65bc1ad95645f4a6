//! Common Media Server Data (CTA-5006; LIVE.md F6): what the edge tells a player about the
//! object and about the delivery. `CMSD-Static` describes the object and may be stored: the
//! origin's is passed through as it is, and where it sent none the edge says what it knows
//! (`ot` object type and `sf` format from the content type, `st=l` for a live playlist, `ht`
//! the time a blocking reload was held). `CMSD-Dynamic` describes this one delivery: one
//! member per response, `"<node>"` with `etp` (estimated throughput, kbit/s, from the TCP
//! congestion window and round-trip time), `rtt` (ms), `rd` (ms from the request to the
//! response), and `du` while the node is under duress. It is never stored.
//!
//! Pure: values in, header values written into the caller's buffer.

use std::fmt::Write;

use super::headers::starts_with_ignore_case;

/// What the kernel says of one client connection (`TCP_INFO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpFigures {
    /// Smoothed round-trip time, microseconds.
    pub rtt_us: u32,
    /// Congestion window, segments.
    pub cwnd: u32,
    /// Maximum segment size, bytes.
    pub mss: u32,
}

impl TcpFigures {
    /// What the connection can carry now: one congestion window per round trip, in kbit/s.
    pub fn throughput_kbps(&self) -> Option<u64> {
        let bits_per_rtt = u64::from(self.cwnd) * u64::from(self.mss) * 8;
        (self.rtt_us > 0 && bits_per_rtt > 0).then(|| bits_per_rtt * 1000 / u64::from(self.rtt_us))
    }
}

/// The object type (`ot`) and streaming format (`sf`) a content type says, as CTA-5006 spells
/// them: `m` manifest (`sf=h` HLS, `d` DASH), `v` video, `a` audio, `o` other.
pub fn kind_of(content_type: Option<&[u8]>) -> (&'static str, Option<&'static str>) {
    let Some(value) = content_type else {
        return ("o", None);
    };
    let essence = value.split(|&b| b == b';').next().unwrap_or_default();
    let essence = essence.trim_ascii();
    // Compared without a lowercased copy: this runs on every response.
    let is = |name: &[u8]| essence.eq_ignore_ascii_case(name);
    let starts = |prefix: &[u8]| starts_with_ignore_case(essence, prefix);
    if is(b"application/vnd.apple.mpegurl") || is(b"application/x-mpegurl") || is(b"audio/mpegurl")
    {
        ("m", Some("h"))
    } else if is(b"application/dash+xml") {
        ("m", Some("d"))
    } else if starts(b"video/") {
        ("v", None)
    } else if starts(b"audio/") {
        ("a", None)
    } else {
        ("o", None)
    }
}

/// Writes a `CMSD-Static` value for an object the origin described not: its type and format
/// (`kind_of` its content type), `st=l` when it is a live playlist, `ht` when its answer was
/// held.
pub fn write_static(
    out: &mut impl Write,
    (ot, sf): (&str, Option<&str>),
    live: bool,
    held_ms: Option<u64>,
) {
    // Pieces and digits written directly: `write!` costs its formatting machinery on every
    // response.
    let _ = out.write_str("ot=");
    let _ = out.write_str(ot);
    if let Some(sf) = sf {
        let _ = out.write_str(",sf=");
        let _ = out.write_str(sf);
    }
    if live {
        let _ = out.write_str(",st=l");
    }
    if let Some(held) = held_ms {
        let _ = out.write_str(",ht=");
        write_decimal(out, held);
    }
}

/// Writes the `CMSD-Dynamic` member this node adds to one response.
pub fn write_dynamic(
    out: &mut impl Write,
    node: &str,
    tcp: Option<TcpFigures>,
    rd_ms: u64,
    duress: bool,
) {
    let _ = out.write_str("\"");
    let _ = out.write_str(node);
    let _ = out.write_str("\"");
    if let Some(tcp) = tcp {
        if let Some(etp) = tcp.throughput_kbps() {
            let _ = out.write_str(";etp=");
            write_decimal(out, etp);
        }
        let _ = out.write_str(";rtt=");
        write_decimal(out, u64::from(tcp.rtt_us.div_ceil(1000)));
    }
    let _ = out.write_str(";rd=");
    write_decimal(out, rd_ms);
    if duress {
        let _ = out.write_str(";du");
    }
}

/// `n` in decimal, without the formatting machinery.
fn write_decimal(out: &mut impl Write, n: u64) {
    let mut digits = [0u8; 20];
    let digits = super::encode::decimal(n, &mut digits);
    // ASCII digits only.
    let _ = out.write_str(std::str::from_utf8(digits).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn static_value(content_type: Option<&[u8]>, live: bool, held_ms: Option<u64>) -> String {
        let mut out = String::new();
        write_static(&mut out, kind_of(content_type), live, held_ms);
        out
    }

    fn dynamic_value(node: &str, tcp: Option<TcpFigures>, rd_ms: u64, duress: bool) -> String {
        let mut out = String::new();
        write_dynamic(&mut out, node, tcp, rd_ms, duress);
        out
    }

    #[test]
    fn throughput_is_a_window_per_round_trip() {
        let tcp = TcpFigures {
            rtt_us: 20_000,
            cwnd: 10,
            mss: 1448,
        };
        // 10 x 1448 bytes per 20 ms: 5,792 kbit/s.
        assert_eq!(tcp.throughput_kbps(), Some(5792));
        assert_eq!(TcpFigures { rtt_us: 0, ..tcp }.throughput_kbps(), None);
        assert_eq!(
            dynamic_value("livecache", Some(tcp), 3, false),
            "\"livecache\";etp=5792;rtt=20;rd=3"
        );
        assert_eq!(dynamic_value("n1", None, 0, true), "\"n1\";rd=0;du");
    }

    #[test]
    fn static_values_say_what_the_content_type_and_the_state_tell() {
        let hls = Some(&b"application/vnd.apple.mpegurl; charset=utf-8"[..]);
        assert_eq!(static_value(hls, true, Some(480)), "ot=m,sf=h,st=l,ht=480");
        assert_eq!(
            static_value(Some(b"application/dash+xml"), false, None),
            "ot=m,sf=d"
        );
        assert_eq!(static_value(Some(b"Video/MP4"), false, None), "ot=v");
        let mixed_case = Some(&b"Application/X-MpegURL"[..]);
        assert_eq!(static_value(mixed_case, false, None), "ot=m,sf=h");
        assert_eq!(static_value(Some(b"audio/aac"), false, None), "ot=a");
        assert_eq!(static_value(None, false, None), "ot=o");
    }
}
