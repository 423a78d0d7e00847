//! Streaming UTF-8 validation for text messages that arrive in pieces.

/// Validates UTF-8 fed in arbitrary pieces, failing as soon as a prefix
/// cannot start any valid sequence (Autobahn 6.x "fail fast").
#[derive(Debug, Default, Clone)]
pub struct Utf8Validator {
    partial: [u8; 4],
    partial_len: usize,
}

/// The bytes seen so far are not valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid UTF-8 in a text message")]
pub struct InvalidUtf8;

fn seq_width(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a multi-byte sequence is waiting for its remaining bytes.
    pub fn is_incomplete(&self) -> bool {
        self.partial_len != 0
    }

    /// Validate the next piece.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), InvalidUtf8> {
        if self.partial_len > 0 {
            let need = seq_width(self.partial[0]) - self.partial_len;
            let take = need.min(data.len());
            self.partial[self.partial_len..self.partial_len + take].copy_from_slice(&data[..take]);
            self.partial_len += take;
            data = &data[take..];
            match std::str::from_utf8(&self.partial[..self.partial_len]) {
                Ok(_) => self.partial_len = 0,
                Err(e) if e.error_len().is_some() => return Err(InvalidUtf8),
                Err(_) => return Ok(()), // still incomplete; data is exhausted
            }
        }
        match std::str::from_utf8(data) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(InvalidUtf8),
            Err(e) => {
                let tail = &data[e.valid_up_to()..];
                self.partial[..tail.len()].copy_from_slice(tail);
                self.partial_len = tail.len();
                Ok(())
            }
        }
    }

    /// The message ended: an unfinished sequence is an error. Resets the
    /// validator for the next message.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let incomplete = self.partial_len != 0;
        self.partial_len = 0;
        if incomplete {
            Err(InvalidUtf8)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_everywhere(bytes: &[u8]) -> Vec<Result<(), InvalidUtf8>> {
        (0..=bytes.len())
            .map(|i| {
                let mut v = Utf8Validator::new();
                v.feed(&bytes[..i])?;
                v.feed(&bytes[i..])?;
                v.finish()
            })
            .collect()
    }

    #[test]
    fn valid_text_split_anywhere_is_valid() {
        let s = "κόσμε a€𝄞 ü";
        for r in split_everywhere(s.as_bytes()) {
            assert_eq!(r, Ok(()));
        }
    }

    #[test]
    fn byte_by_byte_valid() {
        let s = "Hello-µ@ßöäüàá-UTF-8!! 𝄞";
        let mut v = Utf8Validator::new();
        for b in s.as_bytes() {
            v.feed(std::slice::from_ref(b)).unwrap();
        }
        v.finish().unwrap();
    }

    #[test]
    fn invalid_prefix_fails_fast() {
        // 0xED 0xA0 starts a surrogate: invalid before the sequence ends.
        let mut v = Utf8Validator::new();
        v.feed(b"ab\xed").unwrap();
        assert_eq!(v.feed(b"\xa0"), Err(InvalidUtf8));
        // 0xF4 0x90 is above U+10FFFF.
        let mut v = Utf8Validator::new();
        v.feed(b"\xf4").unwrap();
        assert_eq!(v.feed(b"\x90\x80\x80"), Err(InvalidUtf8));
        // A lone continuation byte.
        assert_eq!(Utf8Validator::new().feed(b"\x80"), Err(InvalidUtf8));
        assert_eq!(Utf8Validator::new().feed(b"\xc0\xaf"), Err(InvalidUtf8));
    }

    #[test]
    fn truncated_sequence_fails_at_finish() {
        let mut v = Utf8Validator::new();
        v.feed(b"a\xe2\x82").unwrap();
        assert!(v.is_incomplete());
        assert_eq!(v.finish(), Err(InvalidUtf8));
        // finish resets.
        v.feed(b"ok").unwrap();
        assert_eq!(v.finish(), Ok(()));
    }
}
