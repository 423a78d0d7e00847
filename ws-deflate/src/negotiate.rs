//! The RFC 7692 §7.1 decision tables, as pure functions: the server building
//! its response to one offer, the client validating the response against
//! one of its offers. Both produce an [`Agreement`]: what goes on the wire
//! and what each direction of the codec does.

use crate::backend;
use crate::config::{DeflateConfig, MAX_WINDOW_BITS};
use crate::params::{ClientMaxWindowBits, OfferParams, ParamError, ResponseParams};

/// The outcome of a negotiation, seen from one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agreement {
    /// The response as on the wire.
    pub response: ResponseParams,
    /// The most window bits our compressor may use (8..=15).
    pub send_window_bits: u8,
    /// Our compressor starts every message with an empty window.
    pub send_no_context_takeover: bool,
    /// The peer starts every message with an empty window, so our
    /// decompressor may be reset (and pooled) between messages.
    pub recv_no_context_takeover: bool,
}

/// Why a server declines one offer (the next offer is then tried).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeclineReason {
    /// The offer's parameters are invalid.
    #[error("invalid offer: {0}")]
    Param(#[from] ParamError),
    /// The offer limits the server's window and this backend cannot
    /// compress with less than 15 bits.
    #[error(
        "server_max_window_bits={0} requested but the compression backend cannot limit its window"
    )]
    CannotLimitWindow(u8),
}

/// Why a client fails the connection on the server's response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The response's parameters are invalid.
    #[error("invalid response: {0}")]
    Param(#[from] ParamError),
    /// We asked for `server_no_context_takeover` and the server left it out.
    #[error("server_no_context_takeover was requested but the response omits it")]
    ServerNoContextTakeoverMissing,
    /// We offered `server_max_window_bits=N` and the response has none.
    #[error("server_max_window_bits={offered} was requested but the response omits it")]
    ServerWindowMissing {
        /// What we offered.
        offered: u8,
    },
    /// The response's `server_max_window_bits` is above our offer.
    #[error("server_max_window_bits={got} exceeds the {offered} requested")]
    ServerWindowTooLarge {
        /// What we offered.
        offered: u8,
        /// What the server answered.
        got: u8,
    },
    /// `client_max_window_bits` in the response without it in the offer.
    #[error("client_max_window_bits={got} in the response but it was not offered")]
    ClientWindowNotOffered {
        /// What the server answered.
        got: u8,
    },
    /// permessage-deflate was not offered at all.
    #[error("permessage-deflate was not offered")]
    NotOffered,
    /// The response's `client_max_window_bits` is above our offered value.
    #[error("client_max_window_bits={got} exceeds the {offered} offered")]
    ClientWindowTooLarge {
        /// What we offered.
        offered: u8,
        /// What the server answered.
        got: u8,
    },
}

/// SERVER: build the response to one offer under `cfg`, or decline it.
///
/// ```text
/// server_no_context_takeover  resp = offered OR config
/// client_no_context_takeover  resp = config
/// server_max_window_bits      config none: echo the offered M (if any)
///                             config N: offered none -> N; M<=N -> M; M>N -> N
/// client_max_window_bits      config none: bare -> omit; M -> M; absent -> omit
///                             config N: absent -> omit; bare -> N; M -> min(M,N)
/// ```
pub fn server_respond(
    offer: &OfferParams,
    cfg: &DeflateConfig,
) -> Result<Agreement, DeclineReason> {
    server_respond_with(offer, cfg, backend::LIMITS_COMPRESSOR_WINDOW)
}

/// [`server_respond`] with the backend's capability made explicit.
pub fn server_respond_with(
    offer: &OfferParams,
    cfg: &DeflateConfig,
    limits_window: bool,
) -> Result<Agreement, DeclineReason> {
    if let Some(m) = offer.server_max_window_bits {
        if m < MAX_WINDOW_BITS && !limits_window {
            return Err(DeclineReason::CannotLimitWindow(m));
        }
    }
    let server_max_window_bits = match (cfg.server_max_window_bits, offer.server_max_window_bits) {
        (None, m) => m,
        (Some(n), None) => Some(n),
        (Some(n), Some(m)) => Some(m.min(n)),
    };
    let client_max_window_bits = match (cfg.client_max_window_bits, offer.client_max_window_bits) {
        (_, ClientMaxWindowBits::Absent) => None,
        (None, ClientMaxWindowBits::Bare) => None,
        (None, ClientMaxWindowBits::Value(m)) => Some(m),
        (Some(n), ClientMaxWindowBits::Bare) => Some(n),
        (Some(n), ClientMaxWindowBits::Value(m)) => Some(m.min(n)),
    };
    let response = ResponseParams {
        server_no_context_takeover: offer.server_no_context_takeover
            || cfg.server_no_context_takeover,
        client_no_context_takeover: cfg.client_no_context_takeover,
        server_max_window_bits,
        client_max_window_bits,
    };
    Ok(Agreement {
        response,
        send_window_bits: server_max_window_bits.unwrap_or(MAX_WINDOW_BITS),
        send_no_context_takeover: response.server_no_context_takeover,
        // Only the response binds the client. The offer's
        // client_no_context_takeover is a hint (RFC 7692 §7.1.1.2) that some
        // clients do not keep (Autobahn 0.10.9 offers it and keeps its
        // context), so resetting on the hint alone would corrupt the next
        // message; keeping the context is always safe (specs §B.3).
        recv_no_context_takeover: response.client_no_context_takeover,
    })
}

/// CLIENT: validate the response against the offer it answers.
///
/// ```text
/// server_no_context_takeover  offered F: as given | offered T: resp F -> ERROR
/// client_no_context_takeover  result = offered OR resp
/// server_max_window_bits      offered none: resp none -> 15, M -> M
///                             offered N: resp none -> ERROR; M<=N -> M; M>N -> ERROR
/// client_max_window_bits      absent: resp M -> ERROR; none -> 15
///                             bare: none -> 15; M -> M
///                             N: none -> N; M<=N -> M; M>N -> ERROR
/// ```
pub fn client_validate(
    offer: &OfferParams,
    resp: &ResponseParams,
) -> Result<Agreement, ResponseError> {
    if offer.server_no_context_takeover && !resp.server_no_context_takeover {
        return Err(ResponseError::ServerNoContextTakeoverMissing);
    }
    if let Some(n) = offer.server_max_window_bits {
        match resp.server_max_window_bits {
            None => return Err(ResponseError::ServerWindowMissing { offered: n }),
            Some(m) if m > n => {
                return Err(ResponseError::ServerWindowTooLarge { offered: n, got: m })
            }
            Some(_) => {}
        }
    }
    let send_window_bits = match (offer.client_max_window_bits, resp.client_max_window_bits) {
        (ClientMaxWindowBits::Absent, Some(m)) => {
            return Err(ResponseError::ClientWindowNotOffered { got: m })
        }
        (ClientMaxWindowBits::Absent | ClientMaxWindowBits::Bare, None) => MAX_WINDOW_BITS,
        (ClientMaxWindowBits::Bare, Some(m)) => m,
        (ClientMaxWindowBits::Value(n), None) => n,
        (ClientMaxWindowBits::Value(n), Some(m)) if m > n => {
            return Err(ResponseError::ClientWindowTooLarge { offered: n, got: m })
        }
        (ClientMaxWindowBits::Value(_), Some(m)) => m,
    };
    Ok(Agreement {
        response: *resp,
        send_window_bits,
        send_no_context_takeover: offer.client_no_context_takeover
            || resp.client_no_context_takeover,
        recv_no_context_takeover: resp.server_no_context_takeover,
    })
}

/// CLIENT: validate a response against every offer, most preferred first;
/// the first offer it answers validly wins. With no match, the error is the
/// one against the first offer.
pub fn client_validate_any(
    offers: &[OfferParams],
    resp: &ResponseParams,
) -> Result<(usize, Agreement), ResponseError> {
    let mut first_err = None;
    for (i, o) in offers.iter().enumerate() {
        match client_validate(o, resp) {
            Ok(a) => return Ok((i, a)),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    Err(first_err.unwrap_or(ResponseError::NotOffered))
}
