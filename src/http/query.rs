//! One query parameter's raw value in a request target (RFC 9112 3.2, origin-form), shared by
//! whatever reads one (CMCD, signed-URL tokens) so every reader splits a target the same way
//! (the path is `RequestHead::path`).

/// The raw value (not decoded) of the first query parameter named `name` (exact case), if
/// any; a parameter without `=` has no value and is not found.
pub fn query_param<'a>(target: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let query = &target[target.iter().position(|&b| b == b'?')? + 1..];
    query.split(|&b| b == b'&').find_map(|pair| {
        let eq = pair.iter().position(|&b| b == b'=')?;
        (&pair[..eq] == name).then(|| &pair[eq + 1..])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters() {
        let target = b"/s?a=1&t=x=y~z&b&tt=2";
        assert_eq!(query_param(target, b"t"), Some(&b"x=y~z"[..]));
        assert_eq!(query_param(target, b"a"), Some(&b"1"[..]));
        assert_eq!(query_param(target, b"b"), None, "no value");
        assert_eq!(query_param(b"/s", b"t"), None);
    }
}
