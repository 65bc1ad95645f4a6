//! Weighted rendezvous hashing (highest random weight; Thaler and Ravishankar 1998, with the
//! logarithmic weighting of Schindelhauer and Schomaker): each parent scores a stream key
//! with `weight / -ln(u)`, where `u` in (0, 1) is a fixed hash of the parent's id and the key,
//! and the key goes to the highest score. Every edge computes the same order from ids alone,
//! whatever order its list is in; a parent gets keys in proportion to its weight; adding or
//! removing one parent moves only the keys it gains or had. Pure.

use crate::cache::key::stable_hash;

/// The order in which `parents` (id and weight) are tried for `key`: the best first.
pub fn ranked<'a>(key: &[u8], parents: impl IntoIterator<Item = (&'a str, u32)>) -> Vec<usize> {
    let mut scored: Vec<(f64, usize)> = parents
        .into_iter()
        .enumerate()
        .map(|(i, (id, weight))| (score(key, id, weight), i))
        .collect();
    // Ties (practically never) go to the earlier id in the list order of the scores' sort.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().map(|(_, i)| i).collect()
}

fn score(key: &[u8], id: &str, weight: u32) -> f64 {
    let mut bytes = Vec::with_capacity(id.len() + 1 + key.len());
    bytes.extend_from_slice(id.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(key);
    // FNV-1a alone mixes the last bytes poorly; the splitmix64 finalizer spreads them.
    let h = mix(stable_hash(&bytes));
    // 53 random bits, never 0 nor 1.
    let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    f64::from(weight) / -u.ln()
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: usize = 100_000;

    fn first_choices(parents: &[(&str, u32)]) -> Vec<usize> {
        (0..KEYS)
            .map(|i| {
                let key = format!("cdn.example/live/stream-{i}");
                ranked(key.as_bytes(), parents.iter().copied())[0]
            })
            .collect()
    }

    #[test]
    fn keys_follow_the_weights_within_three_percent() {
        let parents = [
            ("shield-a", 1),
            ("shield-b", 2),
            ("shield-c", 3),
            ("shield-d", 4),
        ];
        let choices = first_choices(&parents);
        for (i, (_, weight)) in parents.iter().enumerate() {
            let share = choices.iter().filter(|&&c| c == i).count() as f64 / KEYS as f64;
            let want = f64::from(*weight) / 10.0;
            assert!(
                (share - want).abs() <= 0.03,
                "parent {i}: {share} for {want}"
            );
        }
    }

    #[test]
    fn removing_a_parent_moves_only_its_keys_and_order_does_not_matter() {
        let all = [("s1", 1), ("s2", 1), ("s3", 1)];
        let before = first_choices(&all);
        let without = first_choices(&[("s1", 1), ("s3", 1)]);
        for (b, w) in before.iter().zip(&without) {
            match b {
                0 => assert_eq!(*w, 0),
                2 => assert_eq!(*w, 1),
                _ => {}
            }
        }
        let reversed = first_choices(&[("s3", 1), ("s2", 1), ("s1", 1)]);
        for (b, r) in before.iter().zip(&reversed) {
            assert_eq!(all[*b].0, ["s3", "s2", "s1"][*r]);
        }
        let order = ranked(b"k", all.iter().copied());
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2], "every parent ranked once");
    }
}
