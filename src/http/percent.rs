//! Percent-decoding (RFC 3986 2.1) of a query value or a path, shared by whatever reads one
//! (the admin listener's purge parameters, a player's CMCD, signed-URL paths). `+` stays a
//! `+`: it is legal in paths, and the form encoding that turns it into a space is not HTTP's.
//! Also the hex digits both this and other readers decode (key files, HLS hex sequences).

/// Decodes `%XX` escapes; `None` for a malformed one (not two hex digits).
pub fn percent_decode(value: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(hex_digit(hex[0])? << 4 | hex_digit(hex[1])?);
            i += 3;
        } else {
            out.push(value[i]);
            i += 1;
        }
    }
    Some(out)
}

/// The value of one hex digit, either case.
pub fn hex_digit(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// The bytes of an even-length run of hex digits (either case); `None` for anything else,
/// the empty run included.
pub fn decode_hex(digits: &[u8]) -> Option<Vec<u8>> {
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| Some(hex_digit(pair[0])? << 4 | hex_digit(pair[1])?))
        .collect()
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
