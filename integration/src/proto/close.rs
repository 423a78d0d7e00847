//! Close frame payloads (RFC 6455 §5.5.1, §7.4).

use bytes::{BufMut, Bytes, BytesMut};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::Utf8Bytes;

use crate::error::ProtocolError;

/// Whether `code` may appear in a close frame on the wire: 1000–1003,
/// 1007–1014 and 3000–4999: RFC 6455's codes, plus 1012 (service
/// restart), 1013 (try again later) and 1014 (bad gateway) from the IANA
/// registry, which Node `ws`, Python `websockets` and browsers accept too
/// (Autobahn's invalid-code cases, 7.9.x, do not include them). 1004–1006
/// and 1015 are reserved (never on the wire); everything else up to 2999 is
/// unassigned.
pub fn is_valid_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Parse a received close payload: empty → `None`; one byte → 1002; a code
/// that must not be sent → 1002; a reason that is not UTF-8 → 1007.
pub fn parse(payload: Bytes) -> Result<Option<CloseFrame>, ProtocolError> {
    match payload.len() {
        0 => return Ok(None),
        1 => return Err(ProtocolError::CloseTooShort),
        _ => {}
    }
    let code = u16::from_be_bytes([payload[0], payload[1]]);
    if !is_valid_code(code) {
        return Err(ProtocolError::InvalidCloseCode(code));
    }
    let reason =
        Utf8Bytes::try_from(payload.slice(2..)).map_err(|_| ProtocolError::InvalidCloseReason)?;
    Ok(Some(CloseFrame {
        code: CloseCode::from(code),
        reason,
    }))
}

/// Build a close payload. `None` is the empty payload.
pub fn encode(frame: Option<&CloseFrame>) -> Bytes {
    match frame {
        None => Bytes::new(),
        Some(f) => {
            let mut b = BytesMut::with_capacity(2 + f.reason.len());
            b.put_u16(u16::from(f.code));
            b.extend_from_slice(f.reason.as_bytes());
            b.freeze()
        }
    }
}

/// A close frame with a numeric code and a reason cut to fit a control
/// frame (at most 123 bytes, on a character boundary).
pub fn frame(code: CloseCode, reason: &str) -> CloseFrame {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    CloseFrame {
        code,
        reason: Utf8Bytes::from(&reason[..end]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_validity_table() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
            4000, 4999,
        ] {
            assert!(is_valid_code(code), "{code} should be valid");
        }
        for code in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!is_valid_code(code), "{code} should be invalid");
        }
    }

    #[test]
    fn parse_cases() {
        assert_eq!(parse(Bytes::new()), Ok(None));
        assert_eq!(
            parse(Bytes::from_static(&[3])),
            Err(ProtocolError::CloseTooShort)
        );
        assert_eq!(
            parse(Bytes::from_static(&[0x03, 0xed])),
            Err(ProtocolError::InvalidCloseCode(1005))
        );
        assert_eq!(
            parse(Bytes::from_static(b"\x03\xe8\xff")),
            Err(ProtocolError::InvalidCloseReason)
        );
        let f = parse(Bytes::from_static(b"\x03\xe8bye")).unwrap().unwrap();
        assert_eq!(u16::from(f.code), 1000);
        assert_eq!(f.reason.as_str(), "bye");
        assert_eq!(&encode(Some(&f))[..], b"\x03\xe8bye");
    }

    #[test]
    fn reason_is_truncated_on_char_boundary() {
        let long = "é".repeat(100);
        let f = frame(CloseCode::Protocol, &long);
        assert!(f.reason.len() <= 123);
        assert_eq!(f.reason.len() % 2, 0);
    }
}
