//! Percent-decoding (RFC 3986 2.1) of a query value or a path, shared by whatever reads one
//! (the admin listener's purge parameters, a player's CMCD). `+` stays a `+`: it is legal in
//! paths, and the form encoding that turns it into a space is not HTTP's.

/// Decodes `%XX` escapes; `None` for a malformed one (not two hex digits).
pub fn percent_decode(value: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(value[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_decoded_and_malformed_ones_refused() {
        assert_eq!(
            percent_decode(b"a%2Fb%3d+c").as_deref(),
            Some(&b"a/b=+c"[..])
        );
        assert_eq!(percent_decode(b"%zz"), None);
        assert_eq!(percent_decode(b"%+1"), None, "a sign is not a hex digit");
        assert_eq!(percent_decode(b"50%"), None);
    }
}
