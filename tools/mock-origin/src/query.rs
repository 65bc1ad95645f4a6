//! Query-string plumbing shared by every parameter: splitting a request
//! target, iterating decoded `key=value` pairs and form-style
//! percent-decoding. It is pure and knows nothing about what a parameter
//! means; [`crate::behavior`] re-exports it.

/// Splits a request target into path and raw query (empty when absent).
pub fn split_target(target: &str) -> (&str, &str) {
    target.split_once('?').unwrap_or((target, ""))
}

/// Decoded `key=value` pairs of a raw query string, in order. Empty segments
/// are skipped; a key without `=` gets an empty value.
pub fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|s| !s.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k), percent_decode(v))
    })
}

/// Form-style percent-decoding: `%XX` becomes that byte and `+` a space (so
/// `cc=public,+max-age=5` works from a shell); malformed escapes are kept
/// literally rather than rejected, and invalid UTF-8 is replaced.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex_at(bytes, i + 1), hex_at(bytes, i + 2)) {
                (Some(high), Some(low)) => {
                    out.push((high << 4) | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_at(bytes: &[u8], i: usize) -> Option<u8> {
    bytes
        .get(i)
        .and_then(|&b| (b as char).to_digit(16))
        .map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decode_edge_cases() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%C3%A9"), "é");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
    }

    #[test]
    fn split_target_and_query_pairs() {
        assert_eq!(split_target("/a/b?x=1?y"), ("/a/b", "x=1?y"));
        assert_eq!(split_target("/a"), ("/a", ""));
        assert_eq!(
            query_pairs("a=1&&b&c=%41").collect::<Vec<_>>(),
            [
                ("a".into(), "1".into()),
                ("b".into(), String::new()),
                ("c".into(), "A".into())
            ]
        );
    }
}
