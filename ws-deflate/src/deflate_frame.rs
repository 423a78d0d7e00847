//! The legacy per-frame extension `deflate-frame` and its WebKit name
//! `x-webkit-deflate-frame` (draft-tyoshino-hybi-websocket-perframe-deflate,
//! specs §D.1), for old Safari/iOS clients.
//!
//! Every data frame is compressed on its own (sync flush, trailer stripped)
//! and carries RSV1, continuation frames included; a frame with RSV1 clear
//! is uncompressed, so a message may mix both. The LZ77 window carries over
//! from frame to frame unless `no_context_takeover` applies.
//!
//! Parameters: `max_window_bits` (8..15) and `no_context_takeover`. In the
//! client's offer they bind the server's compressor; in the server's
//! response they bind the client's. Unknown or repeated parameters and bad
//! values make a server decline and a client fail.
//!
//! A server accepts it only when the request holds no permessage-deflate
//! offer at all (both use RSV1; permessage-deflate is preferred).
//!
//! ```
//! use ws_deflate::{DeflateConfig, DeflateFrameServer, PerMessageDeflateServer};
//! use ws_ext_core::ServerNegotiator;
//! let server = ServerNegotiator::new()
//!     .with(PerMessageDeflateServer::new(DeflateConfig::default()))
//!     .with(DeflateFrameServer::new(DeflateConfig::default()));
//! let safari = server.negotiate([&b"x-webkit-deflate-frame"[..]]).unwrap();
//! assert_eq!(safari.response_header().unwrap(), "x-webkit-deflate-frame");
//! let modern = server.negotiate([&b"x-webkit-deflate-frame, permessage-deflate"[..]]).unwrap();
//! assert_eq!(modern.response_header().unwrap(), "permessage-deflate");
//! ```

use bytes::Bytes;
use tracing::debug;
use ws_ext_core::{
    ClientExtensionFactory, Decoder, Encoder, Extension, ExtensionElement, ExtensionError,
    ExtensionParam, Frame, NegotiationError, OpCode, RsvBits, ServerContext,
    ServerExtensionFactory,
};

use crate::backend::{self, DeflaterParams};
use crate::codec::{backend_error, finish_output};
use crate::config::{ConfigError, DeflateConfig, MAX_WINDOW_BITS};
use crate::params::{parse_window_bits, ParamError, PERMESSAGE_DEFLATE};
use crate::pool::DeflatePool;
use crate::state::{CompressorSlot, DecompressorSlot};

/// The standard name.
pub const DEFLATE_FRAME: &str = "deflate-frame";
/// The name WebKit (Safari, iOS) offers.
pub const X_WEBKIT_DEFLATE_FRAME: &str = "x-webkit-deflate-frame";

const MAX_WINDOW_BITS_PARAM: &str = "max_window_bits";
const NO_CONTEXT_TAKEOVER: &str = "no_context_takeover";

fn canonical_name(name: &str) -> Option<&'static str> {
    if name.eq_ignore_ascii_case(DEFLATE_FRAME) {
        Some(DEFLATE_FRAME)
    } else if name.eq_ignore_ascii_case(X_WEBKIT_DEFLATE_FRAME) {
        Some(X_WEBKIT_DEFLATE_FRAME)
    } else {
        None
    }
}

/// The parameters of a deflate-frame offer or response: they bind the
/// compressor of the side that receives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameParams {
    /// `max_window_bits=N`.
    pub max_window_bits: Option<u8>,
    /// `no_context_takeover`.
    pub no_context_takeover: bool,
}

impl FrameParams {
    /// Parse strictly.
    pub fn parse(params: &[ExtensionParam]) -> Result<Self, ParamError> {
        let mut r = FrameParams::default();
        let (mut seen_bits, mut seen_nct) = (false, false);
        for p in params {
            match p.name.as_str() {
                MAX_WINDOW_BITS_PARAM => {
                    if std::mem::replace(&mut seen_bits, true) {
                        return Err(ParamError::Duplicate(MAX_WINDOW_BITS_PARAM));
                    }
                    let v = p
                        .value
                        .as_deref()
                        .ok_or(ParamError::MissingValue(MAX_WINDOW_BITS_PARAM))?;
                    r.max_window_bits = Some(parse_window_bits(MAX_WINDOW_BITS_PARAM, v)?);
                }
                NO_CONTEXT_TAKEOVER => {
                    if std::mem::replace(&mut seen_nct, true) {
                        return Err(ParamError::Duplicate(NO_CONTEXT_TAKEOVER));
                    }
                    if let Some(v) = &p.value {
                        return Err(ParamError::UnexpectedValue {
                            name: NO_CONTEXT_TAKEOVER,
                            value: v.clone(),
                        });
                    }
                    r.no_context_takeover = true;
                }
                other => return Err(ParamError::Unknown(other.to_owned())),
            }
        }
        Ok(r)
    }

    /// As a header element named `name`.
    pub fn to_element(&self, name: &str) -> ExtensionElement {
        let mut e = ExtensionElement::new(name);
        if let Some(b) = self.max_window_bits {
            e = e.param(ExtensionParam::with_value(
                MAX_WINDOW_BITS_PARAM,
                b.to_string(),
            ));
        }
        if self.no_context_takeover {
            e = e.param(ExtensionParam::flag(NO_CONTEXT_TAKEOVER));
        }
        e
    }
}

/// A negotiated deflate-frame.
#[derive(Debug)]
pub struct DeflateFrame {
    name: &'static str,
    response: FrameParams,
    send: FrameParams,
    recv_no_context_takeover: bool,
    cfg: DeflateConfig,
    pool: DeflatePool,
}

impl DeflateFrame {
    /// The two halves as concrete types.
    pub fn into_codec(self) -> (DeflateFrameEncoder, DeflateFrameDecoder) {
        let bits = self.send.max_window_bits.unwrap_or(MAX_WINDOW_BITS);
        let params = DeflaterParams {
            level: self.cfg.level,
            window_bits: bits,
            mem_level: self.cfg.mem_level,
            compressor: self.cfg.compressor,
            tune: self.cfg.tune,
        };
        let enc = DeflateFrameEncoder {
            name: self.name,
            slot: CompressorSlot::new(
                params,
                self.send.no_context_takeover,
                self.pool.clone(),
                self.cfg.hibernate,
            ),
            threshold: self.cfg.compress_threshold,
            skip_if_not_smaller: self.cfg.skip_if_not_smaller,
            enabled: backend::can_compress_with(bits),
        };
        let dec = DeflateFrameDecoder {
            name: self.name,
            slot: DecompressorSlot::new(
                self.recv_no_context_takeover,
                self.pool,
                self.cfg.hibernate,
                MAX_WINDOW_BITS,
            ),
        };
        (enc, dec)
    }
}

impl Extension for DeflateFrame {
    fn name(&self) -> &str {
        self.name
    }
    fn rsv_bits(&self) -> RsvBits {
        RsvBits::RSV1
    }
    fn response(&self) -> ExtensionElement {
        self.response.to_element(self.name)
    }
    fn split(self: Box<Self>) -> (Box<dyn Encoder>, Box<dyn Decoder>) {
        let (e, d) = self.into_codec();
        (Box::new(e), Box::new(d))
    }
}

/// The send half of deflate-frame.
#[derive(Debug)]
pub struct DeflateFrameEncoder {
    name: &'static str,
    slot: CompressorSlot,
    threshold: usize,
    skip_if_not_smaller: bool,
    enabled: bool,
}

impl Encoder for DeflateFrameEncoder {
    fn encode(&mut self, mut frame: Frame) -> Result<Frame, ExtensionError> {
        let data = matches!(
            frame.opcode,
            OpCode::Text | OpCode::Binary | OpCode::Continuation
        );
        if !data
            || !self.enabled
            || frame.payload.is_empty()
            || frame.payload.len() < self.threshold
        {
            return Ok(frame);
        }
        let name = self.name;
        let out = self
            .slot
            .get()
            .and_then(|d| d.compress_sync(&frame.payload))
            .map_err(|e| backend_error(name, e))?;
        let out = finish_output(out).map_err(|e| backend_error(name, e))?;
        if self.skip_if_not_smaller && out.len() >= frame.payload.len() {
            self.slot.discard_context();
            return Ok(frame);
        }
        self.slot.end_message();
        frame.rsv |= RsvBits::RSV1;
        frame.payload = out;
        Ok(frame)
    }

    fn hibernate(&mut self) {
        self.slot.hibernate();
    }
}

/// The receive half of deflate-frame.
#[derive(Debug)]
pub struct DeflateFrameDecoder {
    name: &'static str,
    slot: DecompressorSlot,
}

impl Decoder for DeflateFrameDecoder {
    fn decode(&mut self, mut frame: Frame, budget: usize) -> Result<Frame, ExtensionError> {
        if !frame.rsv.contains(RsvBits::RSV1) {
            return Ok(frame);
        }
        if !matches!(
            frame.opcode,
            OpCode::Text | OpCode::Binary | OpCode::Continuation
        ) {
            return Err(ExtensionError::protocol(
                self.name,
                "RSV1 set on a control frame or a frame with a reserved opcode",
            ));
        }
        frame.rsv = frame.rsv & !RsvBits::RSV1;
        if frame.payload.is_empty() {
            frame.payload = Bytes::new();
            return Ok(frame);
        }
        let mut ended = false;
        let out = match self
            .slot
            .inflate_frame(&frame.payload, true, budget, &mut ended)
        {
            Ok(out) => out,
            Err(e) => {
                self.slot.poison();
                return Err(backend_error(self.name, e));
            }
        };
        self.slot.end_message(ended);
        frame.payload = out;
        Ok(frame)
    }

    fn hibernate(&mut self) {
        self.slot.hibernate();
    }
}

/// The server side of deflate-frame / x-webkit-deflate-frame.
///
/// Policy from [`DeflateConfig`]: `server_max_window_bits` and
/// `server_no_context_takeover` bind our compressor (together with the
/// offer's parameters); `client_max_window_bits` and
/// `client_no_context_takeover` are sent in the response to bind the
/// client's.
#[derive(Debug, Clone)]
pub struct DeflateFrameServer {
    cfg: DeflateConfig,
    pool: DeflatePool,
}

impl DeflateFrameServer {
    /// A server with this policy.
    ///
    /// # Panics
    /// If the configuration is out of range (see [`DeflateFrameServer::try_new`]).
    pub fn new(cfg: DeflateConfig) -> Self {
        match Self::try_new(cfg) {
            Ok(s) => s,
            Err(e) => panic!("invalid deflate-frame configuration: {e}"),
        }
    }

    /// A server with this policy, or why the policy is invalid.
    pub fn try_new(cfg: DeflateConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let pool = DeflatePool::shared(cfg.pool_capacity);
        Ok(Self { cfg, pool })
    }

    /// Use this pool instead of the process-wide one
    /// ([`DeflatePool::shared`]).
    pub fn with_pool(mut self, pool: DeflatePool) -> Self {
        self.pool = pool;
        self
    }
}

impl ServerExtensionFactory for DeflateFrameServer {
    fn handles(&self, name: &str) -> bool {
        canonical_name(name).is_some()
    }

    fn accept(
        &self,
        offer: &ExtensionElement,
        ctx: &ServerContext<'_>,
    ) -> Result<Option<Box<dyn Extension>>, NegotiationError> {
        let Some(name) = canonical_name(&offer.name) else {
            return Ok(None);
        };
        if ctx.offers.iter().any(|o| o.is(PERMESSAGE_DEFLATE)) {
            debug!(offer = %offer, "deflate-frame declined: the client also offers permessage-deflate");
            return Ok(None);
        }
        let params = match FrameParams::parse(&offer.params) {
            Ok(p) => p,
            Err(reason) => {
                debug!(offer = %offer, %reason, "deflate-frame offer declined");
                return Ok(None);
            }
        };
        if let Some(b) = params.max_window_bits {
            if !backend::can_compress_with(b) {
                debug!(offer = %offer, "deflate-frame declined: the backend cannot limit its window");
                return Ok(None);
            }
        }
        let send_bits = match (params.max_window_bits, self.cfg.server_max_window_bits) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let response = FrameParams {
            max_window_bits: self.cfg.client_max_window_bits,
            no_context_takeover: self.cfg.client_no_context_takeover,
        };
        Ok(Some(Box::new(DeflateFrame {
            name,
            response,
            send: FrameParams {
                max_window_bits: send_bits,
                no_context_takeover: params.no_context_takeover
                    || self.cfg.server_no_context_takeover,
            },
            recv_no_context_takeover: response.no_context_takeover,
            cfg: self.cfg.clone(),
            pool: self.pool.clone(),
        })))
    }
}

/// The client side of deflate-frame (for tests, probes and peers that
/// speak nothing newer). Offers `deflate-frame` by default, or
/// `x-webkit-deflate-frame` with [`DeflateFrameClient::webkit`].
#[derive(Debug, Clone)]
pub struct DeflateFrameClient {
    name: &'static str,
    cfg: DeflateConfig,
    pool: DeflatePool,
}

impl DeflateFrameClient {
    /// A client with this policy: `server_max_window_bits` and
    /// `server_no_context_takeover` go in the offer; the response binds our
    /// compressor, as do `client_max_window_bits` and
    /// `client_no_context_takeover`.
    ///
    /// # Panics
    /// If the configuration is out of range (see [`DeflateConfig::validate`]).
    pub fn new(cfg: DeflateConfig) -> Self {
        if let Err(e) = cfg.validate() {
            panic!("invalid deflate-frame configuration: {e}");
        }
        let pool = DeflatePool::shared(cfg.pool_capacity);
        Self {
            name: DEFLATE_FRAME,
            cfg,
            pool,
        }
    }

    /// Offer the WebKit name, `x-webkit-deflate-frame`, instead.
    pub fn webkit(mut self) -> Self {
        self.name = X_WEBKIT_DEFLATE_FRAME;
        self
    }

    fn offer(&self) -> FrameParams {
        FrameParams {
            max_window_bits: self.cfg.server_max_window_bits,
            no_context_takeover: self.cfg.server_no_context_takeover,
        }
    }
}

impl ClientExtensionFactory for DeflateFrameClient {
    fn handles(&self, name: &str) -> bool {
        name.eq_ignore_ascii_case(self.name)
    }

    fn offers(&self) -> Vec<ExtensionElement> {
        vec![self.offer().to_element(self.name)]
    }

    fn accept(&self, response: &ExtensionElement) -> Result<Box<dyn Extension>, NegotiationError> {
        let r = FrameParams::parse(&response.params)
            .map_err(|e| NegotiationError::rejected(self.name, format!("invalid response: {e}")))?;
        let send_bits = match (r.max_window_bits, self.cfg.client_max_window_bits) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(Box::new(DeflateFrame {
            name: self.name,
            response: r,
            send: FrameParams {
                max_window_bits: send_bits,
                no_context_takeover: r.no_context_takeover || self.cfg.client_no_context_takeover,
            },
            recv_no_context_takeover: self.offer().no_context_takeover,
            cfg: self.cfg.clone(),
            pool: self.pool.clone(),
        }))
    }
}
