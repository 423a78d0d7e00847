//! The four permessage-deflate parameters (RFC 7692 §7.1): parsing offers
//! and responses strictly, and formatting them.

use ws_ext_core::{ExtensionElement, ExtensionParam};

/// The extension token.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// Why a parameter list is invalid. In an offer the server declines the
/// offer (and tries the next); in a response the client fails the
/// connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamError {
    /// A parameter permessage-deflate does not define (names are lowercase
    /// and case-sensitive).
    #[error("unknown parameter {0:?}")]
    Unknown(String),
    /// The same parameter twice.
    #[error("parameter {0:?} appears more than once")]
    Duplicate(&'static str),
    /// A window-bits value that is not exactly one of `8`..`15`.
    #[error("{name} has invalid value {value:?} (expected a decimal 8..15 without leading zeros)")]
    InvalidWindowBits {
        /// The parameter.
        name: &'static str,
        /// The value received.
        value: String,
    },
    /// A value on a parameter that takes none.
    #[error("{name} takes no value, got {value:?}")]
    UnexpectedValue {
        /// The parameter.
        name: &'static str,
        /// The value received.
        value: String,
    },
    /// A parameter that needs a value came without one.
    #[error("{0} needs a value")]
    MissingValue(&'static str),
}

/// `client_max_window_bits` as it may appear in an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientMaxWindowBits {
    /// Not in the offer: the server must not send `client_max_window_bits`.
    #[default]
    Absent,
    /// Present without a value: the client accepts any limit the server asks.
    Bare,
    /// Present with a value: the client will use at most this many bits.
    Value(u8),
}

/// The parameters of one offer (client → server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OfferParams {
    /// `server_no_context_takeover`.
    pub server_no_context_takeover: bool,
    /// `client_no_context_takeover` (a hint: the client resets anyway).
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits=N`.
    pub server_max_window_bits: Option<u8>,
    /// `client_max_window_bits[=N]`.
    pub client_max_window_bits: ClientMaxWindowBits,
}

/// The parameters of a response (server → client): the agreed parameters
/// as they are on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResponseParams {
    /// `server_no_context_takeover`.
    pub server_no_context_takeover: bool,
    /// `client_no_context_takeover`.
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits=N`.
    pub server_max_window_bits: Option<u8>,
    /// `client_max_window_bits=N` (a response must give a value).
    pub client_max_window_bits: Option<u8>,
}

/// Parse a window-bits value: exactly the strings `8` … `15`.
pub fn parse_window_bits(name: &'static str, value: &str) -> Result<u8, ParamError> {
    let ok = matches!(value, "8" | "9" | "10" | "11" | "12" | "13" | "14" | "15");
    match value.parse::<u8>() {
        Ok(b) if ok => Ok(b),
        _ => Err(ParamError::InvalidWindowBits {
            name,
            value: value.to_owned(),
        }),
    }
}

/// One recognised parameter with its raw value.
struct Seen {
    name: &'static str,
    value: Option<String>,
}

fn scan(params: &[ExtensionParam]) -> Result<Vec<Seen>, ParamError> {
    let mut seen: Vec<Seen> = Vec::with_capacity(params.len());
    for p in params {
        let name = match p.name.as_str() {
            SERVER_NO_CONTEXT_TAKEOVER => SERVER_NO_CONTEXT_TAKEOVER,
            CLIENT_NO_CONTEXT_TAKEOVER => CLIENT_NO_CONTEXT_TAKEOVER,
            SERVER_MAX_WINDOW_BITS => SERVER_MAX_WINDOW_BITS,
            CLIENT_MAX_WINDOW_BITS => CLIENT_MAX_WINDOW_BITS,
            other => return Err(ParamError::Unknown(other.to_owned())),
        };
        if seen.iter().any(|s| s.name == name) {
            return Err(ParamError::Duplicate(name));
        }
        seen.push(Seen {
            name,
            value: p.value.clone(),
        });
    }
    Ok(seen)
}

fn flag(s: &Seen) -> Result<bool, ParamError> {
    match &s.value {
        None => Ok(true),
        Some(v) => Err(ParamError::UnexpectedValue {
            name: s.name,
            value: v.clone(),
        }),
    }
}

fn bits(s: &Seen) -> Result<u8, ParamError> {
    match &s.value {
        None => Err(ParamError::MissingValue(s.name)),
        Some(v) => parse_window_bits(s.name, v),
    }
}

impl OfferParams {
    /// Parse an offer's parameters strictly.
    pub fn parse(params: &[ExtensionParam]) -> Result<Self, ParamError> {
        let mut o = OfferParams::default();
        for s in scan(params)? {
            match s.name {
                SERVER_NO_CONTEXT_TAKEOVER => o.server_no_context_takeover = flag(&s)?,
                CLIENT_NO_CONTEXT_TAKEOVER => o.client_no_context_takeover = flag(&s)?,
                SERVER_MAX_WINDOW_BITS => o.server_max_window_bits = Some(bits(&s)?),
                _ => {
                    o.client_max_window_bits = match &s.value {
                        None => ClientMaxWindowBits::Bare,
                        Some(_) => ClientMaxWindowBits::Value(bits(&s)?),
                    }
                }
            }
        }
        Ok(o)
    }

    /// The offer as a header element.
    pub fn to_element(&self) -> ExtensionElement {
        let mut e = ExtensionElement::new(PERMESSAGE_DEFLATE);
        if self.server_no_context_takeover {
            e = e.param(ExtensionParam::flag(SERVER_NO_CONTEXT_TAKEOVER));
        }
        if self.client_no_context_takeover {
            e = e.param(ExtensionParam::flag(CLIENT_NO_CONTEXT_TAKEOVER));
        }
        if let Some(b) = self.server_max_window_bits {
            e = e.param(ExtensionParam::with_value(
                SERVER_MAX_WINDOW_BITS,
                b.to_string(),
            ));
        }
        match self.client_max_window_bits {
            ClientMaxWindowBits::Absent => {}
            ClientMaxWindowBits::Bare => e = e.param(ExtensionParam::flag(CLIENT_MAX_WINDOW_BITS)),
            ClientMaxWindowBits::Value(b) => {
                e = e.param(ExtensionParam::with_value(
                    CLIENT_MAX_WINDOW_BITS,
                    b.to_string(),
                ))
            }
        }
        e
    }
}

impl ResponseParams {
    /// Parse a response's parameters strictly (a bare
    /// `client_max_window_bits` is an error here).
    pub fn parse(params: &[ExtensionParam]) -> Result<Self, ParamError> {
        let mut r = ResponseParams::default();
        for s in scan(params)? {
            match s.name {
                SERVER_NO_CONTEXT_TAKEOVER => r.server_no_context_takeover = flag(&s)?,
                CLIENT_NO_CONTEXT_TAKEOVER => r.client_no_context_takeover = flag(&s)?,
                SERVER_MAX_WINDOW_BITS => r.server_max_window_bits = Some(bits(&s)?),
                _ => r.client_max_window_bits = Some(bits(&s)?),
            }
        }
        Ok(r)
    }

    /// The response as a header element, parameters in the order the
    /// Autobahn testsuite uses (the server's own first, then the client's).
    pub fn to_element(&self) -> ExtensionElement {
        let mut e = ExtensionElement::new(PERMESSAGE_DEFLATE);
        if self.server_no_context_takeover {
            e = e.param(ExtensionParam::flag(SERVER_NO_CONTEXT_TAKEOVER));
        }
        if let Some(b) = self.server_max_window_bits {
            e = e.param(ExtensionParam::with_value(
                SERVER_MAX_WINDOW_BITS,
                b.to_string(),
            ));
        }
        if self.client_no_context_takeover {
            e = e.param(ExtensionParam::flag(CLIENT_NO_CONTEXT_TAKEOVER));
        }
        if let Some(b) = self.client_max_window_bits {
            e = e.param(ExtensionParam::with_value(
                CLIENT_MAX_WINDOW_BITS,
                b.to_string(),
            ));
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, v: Option<&str>) -> ExtensionParam {
        match v {
            Some(v) => ExtensionParam::with_value(name, v),
            None => ExtensionParam::flag(name),
        }
    }

    #[test]
    fn window_bits_strings() {
        for b in 8..=15u8 {
            assert_eq!(parse_window_bits("x", &b.to_string()), Ok(b));
        }
        for bad in [
            "08", "16", "7", "+9", "9.0", "", " 9", "0", "-9", "015", "1e1",
        ] {
            assert!(parse_window_bits("x", bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn offer_parse_rejections() {
        let cases: Vec<(Vec<ExtensionParam>, ParamError)> = vec![
            (vec![p("foo", None)], ParamError::Unknown("foo".into())),
            (
                vec![p("Server_No_Context_Takeover", None)],
                ParamError::Unknown("Server_No_Context_Takeover".into()),
            ),
            (
                vec![
                    p(SERVER_NO_CONTEXT_TAKEOVER, None),
                    p(SERVER_NO_CONTEXT_TAKEOVER, None),
                ],
                ParamError::Duplicate(SERVER_NO_CONTEXT_TAKEOVER),
            ),
            (
                vec![p(SERVER_NO_CONTEXT_TAKEOVER, Some("true"))],
                ParamError::UnexpectedValue {
                    name: SERVER_NO_CONTEXT_TAKEOVER,
                    value: "true".into(),
                },
            ),
            (
                vec![p(CLIENT_NO_CONTEXT_TAKEOVER, Some("1"))],
                ParamError::UnexpectedValue {
                    name: CLIENT_NO_CONTEXT_TAKEOVER,
                    value: "1".into(),
                },
            ),
            (
                vec![p(SERVER_MAX_WINDOW_BITS, Some("08"))],
                ParamError::InvalidWindowBits {
                    name: SERVER_MAX_WINDOW_BITS,
                    value: "08".into(),
                },
            ),
            (
                vec![p(CLIENT_MAX_WINDOW_BITS, Some("16"))],
                ParamError::InvalidWindowBits {
                    name: CLIENT_MAX_WINDOW_BITS,
                    value: "16".into(),
                },
            ),
            (
                vec![p(SERVER_MAX_WINDOW_BITS, None)],
                ParamError::MissingValue(SERVER_MAX_WINDOW_BITS),
            ),
            (
                vec![
                    p(CLIENT_MAX_WINDOW_BITS, None),
                    p(CLIENT_MAX_WINDOW_BITS, Some("9")),
                ],
                ParamError::Duplicate(CLIENT_MAX_WINDOW_BITS),
            ),
        ];
        for (params, want) in cases {
            assert_eq!(OfferParams::parse(&params), Err(want), "{params:?}");
        }
    }

    #[test]
    fn offer_and_response_round_trip() {
        for snct in [false, true] {
            for cnct in [false, true] {
                for smwb in [None, Some(8), Some(12), Some(15)] {
                    for cmwb in [
                        ClientMaxWindowBits::Absent,
                        ClientMaxWindowBits::Bare,
                        ClientMaxWindowBits::Value(9),
                    ] {
                        let o = OfferParams {
                            server_no_context_takeover: snct,
                            client_no_context_takeover: cnct,
                            server_max_window_bits: smwb,
                            client_max_window_bits: cmwb,
                        };
                        assert_eq!(OfferParams::parse(&o.to_element().params), Ok(o));
                    }
                    let r = ResponseParams {
                        server_no_context_takeover: snct,
                        client_no_context_takeover: cnct,
                        server_max_window_bits: smwb,
                        client_max_window_bits: smwb.map(|b| b.max(9)),
                    };
                    assert_eq!(ResponseParams::parse(&r.to_element().params), Ok(r));
                }
            }
        }
    }

    #[test]
    fn response_requires_client_bits_value() {
        assert_eq!(
            ResponseParams::parse(&[p(CLIENT_MAX_WINDOW_BITS, None)]),
            Err(ParamError::MissingValue(CLIENT_MAX_WINDOW_BITS))
        );
    }

    #[test]
    fn autobahn_response_format() {
        let r = ResponseParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: Some(9),
            client_max_window_bits: Some(9),
        };
        assert_eq!(
            r.to_element().to_string(),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=9; \
             client_no_context_takeover; client_max_window_bits=9"
        );
    }
}
