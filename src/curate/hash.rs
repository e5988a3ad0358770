//! Seeded 64-bit hashing written out in full, so that every hash curation computes (exact-duplicate
//! keys, MinHash permutations, n-gram indexes) is the same on every platform and every release.
//!
//! The mixer is the SplitMix64 finaliser; byte strings are consumed eight bytes at a time. These
//! are not cryptographic hashes: they are fast and well distributed, which is what deduplication
//! needs. Content ids use sha256 instead.

/// The seed of the first half of an exact-duplicate key.
pub const EXACT_SEED_A: u64 = 0x5eed_c0de_0000_0001;
/// The seed of the second half of an exact-duplicate key.
pub const EXACT_SEED_B: u64 = 0x5eed_c0de_0000_0002;
/// The seed of token hashes (words and graphemes) for n-gram statistics and indexes.
pub const TOKEN_SEED: u64 = 0x7073_6e67_7261_6d73;

const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64 finaliser: a bijective avalanche mix of one 64-bit word.
#[inline]
pub fn mix64(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[inline]
fn absorb(h: u64, w: u64) -> u64 {
    combine_mixed(h, mix64(w))
}

/// [`combine`] with the next element's hash already through [`mix64`]:
/// `combine(h, x) == combine_mixed(h, mix64(x))`, for loops that combine one element many times.
#[inline]
pub fn combine_mixed(h: u64, mixed: u64) -> u64 {
    (h ^ mixed)
        .rotate_left(27)
        .wrapping_mul(K)
        .wrapping_add(0x52dc_e729)
}

/// Hash a byte string with a seed.
pub fn hash64(bytes: &[u8], seed: u64) -> u64 {
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = absorb(h, w);
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        let mut buf = [0u8; 8];
        buf[..rem.len()].copy_from_slice(rem);
        h = absorb(h, u64::from_le_bytes(buf));
    }
    mix64(h)
}

/// Combine a running hash with the next element's hash (order-sensitive).
#[inline]
pub fn combine(h: u64, next: u64) -> u64 {
    absorb(h, next)
}

/// A 128-bit key of a text, from two independently seeded 64-bit hashes.
pub fn key128(text: &str) -> u128 {
    let (a, b) = hash64_pair(text.as_bytes(), EXACT_SEED_A, EXACT_SEED_B);
    ((a as u128) << 64) | b as u128
}

/// `(hash64(bytes, seed_a), hash64(bytes, seed_b))` in one pass over the bytes.
fn hash64_pair(bytes: &[u8], seed_a: u64, seed_b: u64) -> (u64, u64) {
    let len = (bytes.len() as u64).wrapping_mul(K);
    let (mut a, mut b) = (seed_a ^ len, seed_b ^ len);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = mix64(u64::from_le_bytes([
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
        ]));
        a = combine_mixed(a, w);
        b = combine_mixed(b, w);
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        let mut buf = [0u8; 8];
        buf[..rem.len()].copy_from_slice(rem);
        let w = mix64(u64::from_le_bytes(buf));
        a = combine_mixed(a, w);
        b = combine_mixed(b, w);
    }
    (mix64(a), mix64(b))
}

/// A deterministic stream of 64-bit values (SplitMix64), for MinHash permutation parameters.
pub fn splitmix_stream(seed: u64, n: usize) -> Vec<u64> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(K);
            mix64(state)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_values() {
        // Written-out constants: a change here changes every dedup decision of old runs.
        assert_eq!(hash64(b"", 0), mix64(0));
        assert_ne!(hash64(b"abc", 1), hash64(b"abc", 2));
        assert_ne!(hash64(b"abcdefgh", 0), hash64(b"abcdefgh\0", 0));
        assert_eq!(hash64(b"Vhathu", 7), hash64(b"Vhathu", 7));
        // The exact key is the two seeded hashes, computed in one pass.
        for t in [
            "",
            "a",
            "Vhathu",
            "Vhathu vhoṱhe vha bebwa vhe vhadzivhuluwa",
        ] {
            let two = ((hash64(t.as_bytes(), EXACT_SEED_A) as u128) << 64)
                | hash64(t.as_bytes(), EXACT_SEED_B) as u128;
            assert_eq!(key128(t), two, "{t:?}");
        }
    }
}
