//! The parts of a request target (RFC 9112 3.2, origin-form): its path and its query, and
//! one query parameter's raw value. Shared by whatever reads them (the cache key's route
//! classes, CMCD, signed-URL tokens) so every reader splits a target the same way.

/// The path of a request target (before any `?`).
pub fn path_of(target: &[u8]) -> &[u8] {
    let end = target
        .iter()
        .position(|&b| b == b'?')
        .unwrap_or(target.len());
    &target[..end]
}

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
    fn paths_and_parameters() {
        assert_eq!(path_of(b"/a/b?c=1"), b"/a/b");
        assert_eq!(path_of(b"/a/b"), b"/a/b");
        let target = b"/s?a=1&t=x=y~z&b&tt=2";
        assert_eq!(query_param(target, b"t"), Some(&b"x=y~z"[..]));
        assert_eq!(query_param(target, b"a"), Some(&b"1"[..]));
        assert_eq!(query_param(target, b"b"), None, "no value");
        assert_eq!(query_param(b"/s", b"t"), None);
    }
}
