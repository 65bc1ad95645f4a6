//! Deterministic body bytes. This module owns the byte pattern the origin
//! serves for a path, so tests can check every byte that came through the
//! cache against [`expected_body`] without the origin having to remember what
//! it sent.
//!
//! The pattern is seeded by an FNV-1a hash of the path (query stripped), so
//! different paths get different bytes and a cache that mixes up entries is
//! caught; the query does not change the bytes, so `?size=10` is a prefix of
//! `?size=20` for the same path. Bytes are counter-based (byte `i` depends only
//! on the seed and `i`), which lets the server generate any range in fixed
//! memory and lets a later range/live-segment extension seek without state.

/// FNV-1a 64-bit offset basis and prime.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The deterministic body the origin serves for `path` (query stripped) of
/// `len` bytes, so tests can check bytes.
pub fn expected_body(path: &str, len: usize) -> Vec<u8> {
    let mut body = vec![0; len];
    fill(path_seed(path), 0, &mut body);
    body
}

/// Seed for a path's byte stream: FNV-1a of the path bytes.
pub(crate) fn path_seed(path: &str) -> u64 {
    path.bytes().fold(FNV_OFFSET, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

/// Fills `buf` with the stream for `seed`, starting at byte `offset`.
pub(crate) fn fill(seed: u64, offset: u64, buf: &mut [u8]) {
    let mut pos = offset;
    let mut i = 0;
    while i < buf.len() {
        let word = word(seed, pos / 8).to_le_bytes();
        let start = (pos % 8) as usize;
        let n = (8 - start).min(buf.len() - i);
        buf[i..i + n].copy_from_slice(&word[start..start + n]);
        i += n;
        pos += n as u64;
    }
}

/// Eight bytes of the stream: a xorshift-multiply (splitmix64) finaliser of
/// the seed advanced `index` steps, so every word is independent of the rest.
fn word(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A fingerprint of (path, size), for the default strong ETag: it
/// changes whenever the bytes served for the target would change.
pub(crate) fn fingerprint(path: &str, size: usize) -> u64 {
    word(path_seed(path), size as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_path_dependent() {
        assert_eq!(expected_body("/a", 100), expected_body("/a", 100));
        assert_ne!(expected_body("/a", 100), expected_body("/b", 100));
        assert!(expected_body("/a", 0).is_empty());
    }

    #[test]
    fn shorter_bodies_are_prefixes() {
        let long = expected_body("/seg/1.ts", 1000);
        assert_eq!(&long[..333], &expected_body("/seg/1.ts", 333)[..]);
    }

    #[test]
    fn fill_at_offset_matches_whole_body() {
        let whole = expected_body("/x", 300);
        let seed = path_seed("/x");
        for (offset, len) in [(0, 300), (1, 7), (13, 100), (64, 1), (299, 1)] {
            let mut part = vec![0; len];
            fill(seed, offset as u64, &mut part);
            assert_eq!(&part[..], &whole[offset..offset + len], "offset {offset}");
        }
    }

    #[test]
    fn bytes_look_random_enough() {
        let body = expected_body("/stats", 1 << 16);
        let mut seen = [0u32; 256];
        body.iter().for_each(|&b| seen[b as usize] += 1);
        assert!(seen.iter().all(|&n| n > 100), "every byte value appears");
    }

    #[test]
    fn fingerprint_tracks_size() {
        assert_ne!(fingerprint("/a", 1), fingerprint("/a", 2));
        assert_eq!(fingerprint("/a", 1), fingerprint("/a", 1));
    }
}
