//! Frame masking (RFC 6455 §5.3): XOR with a 4-byte key, a block at a time.

/// XOR `buf` in place with `mask`, the first byte with `mask[0]`.
///
/// Masking and unmasking are the same operation.
///
/// ```
/// let mut data = *b"Hello";
/// wsx::proto::mask::apply_mask(&mut data, [0x37, 0xfa, 0x21, 0x3d]);
/// assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// ```
pub fn apply_mask(buf: &mut [u8], mask: [u8; 4]) {
    // The key repeated over a block; blocks of 32 bytes compile to vector
    // XORs. Each block starts at a multiple of 4, so the key lines up.
    let mut key = [0u8; BLOCK];
    for (i, k) in key.iter_mut().enumerate() {
        *k = mask[i & 3];
    }
    let mut chunks = buf.chunks_exact_mut(BLOCK);
    for chunk in &mut chunks {
        for (b, k) in chunk.iter_mut().zip(key.iter()) {
            *b ^= k;
        }
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= mask[i & 3];
    }
}

const BLOCK: usize = 32;

#[cfg(test)]
mod tests {
    use super::apply_mask;

    fn naive(buf: &mut [u8], mask: [u8; 4]) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
    }

    #[test]
    fn matches_byte_at_a_time_for_every_length() {
        let mask = [0x12, 0x34, 0x56, 0x78];
        for len in 0..140 {
            let data: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(31)).collect();
            let mut fast = data.clone();
            let mut slow = data.clone();
            apply_mask(&mut fast, mask);
            naive(&mut slow, mask);
            assert_eq!(fast, slow, "len {len}");
            apply_mask(&mut fast, mask);
            assert_eq!(fast, data, "round trip len {len}");
        }
    }
}
