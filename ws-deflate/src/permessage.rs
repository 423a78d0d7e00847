//! permessage-deflate as a ws-ext-core extension: the server and client
//! factories and the negotiated [`PerMessageDeflate`].

use tracing::{debug, warn};
use ws_ext_core::{
    ClientExtensionFactory, Decoder, Encoder, Extension, ExtensionElement, NegotiationError,
    RsvBits, ServerContext, ServerExtensionFactory,
};

use crate::backend::{self, DeflaterParams};
use crate::codec::{PmdDecoder, PmdEncoder, SendPolicy};
use crate::config::{ConfigError, DeflateConfig};
use crate::negotiate::{self, Agreement};
use crate::params::{OfferParams, ResponseParams, PERMESSAGE_DEFLATE};
use crate::pool::DeflatePool;
use crate::state::{CompressorSlot, DecompressorSlot};

/// Which side of the connection we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The server.
    Server,
    /// The client.
    Client,
}

/// A negotiated permessage-deflate, before it is split into its halves.
#[derive(Debug)]
pub struct PerMessageDeflate {
    role: Role,
    agreement: Agreement,
    cfg: DeflateConfig,
    pool: DeflatePool,
}

impl PerMessageDeflate {
    /// Build from an agreement (what the factories do).
    pub fn new(role: Role, agreement: Agreement, cfg: DeflateConfig, pool: DeflatePool) -> Self {
        Self {
            role,
            agreement,
            cfg,
            pool,
        }
    }

    /// Our side.
    pub fn role(&self) -> Role {
        self.role
    }

    /// What was agreed.
    pub fn agreement(&self) -> &Agreement {
        &self.agreement
    }

    /// Whether our messages will really be compressed: false when the
    /// backend cannot honour the agreed window (miniz_oxide with a limit
    /// below 15 bits).
    pub fn compresses(&self) -> bool {
        backend::can_compress_with(self.agreement.send_window_bits)
    }

    /// The two halves as concrete types.
    pub fn into_codec(self) -> (PmdEncoder, PmdDecoder) {
        let a = self.agreement;
        let enabled = self.compresses();
        // The window the peer's compressor agreed to (what hibernation of
        // our decompressor keeps).
        let recv_window_bits = match self.role {
            Role::Server => a.response.client_max_window_bits,
            Role::Client => a.response.server_max_window_bits,
        }
        .unwrap_or(crate::config::MAX_WINDOW_BITS);
        if !enabled {
            warn!(
                bits = a.send_window_bits,
                backend = backend::BACKEND,
                "the compressor cannot limit its window to the agreed bits; messages are sent uncompressed"
            );
        }
        let params = DeflaterParams {
            level: self.cfg.level,
            window_bits: a.send_window_bits,
            mem_level: self.cfg.mem_level,
            compressor: self.cfg.compressor,
            tune: self.cfg.tune,
        };
        let enc = PmdEncoder::new(
            PERMESSAGE_DEFLATE,
            CompressorSlot::new(
                params,
                a.send_no_context_takeover,
                self.pool.clone(),
                self.cfg.hibernate,
            ),
            SendPolicy {
                threshold: self.cfg.compress_threshold,
                skip_if_not_smaller: self.cfg.skip_if_not_smaller,
                enabled,
            },
        );
        let dec = PmdDecoder::new(
            PERMESSAGE_DEFLATE,
            DecompressorSlot::new(
                a.recv_no_context_takeover,
                self.pool,
                self.cfg.hibernate,
                recv_window_bits,
            ),
        );
        (enc, dec)
    }
}

impl Extension for PerMessageDeflate {
    fn name(&self) -> &str {
        PERMESSAGE_DEFLATE
    }
    fn rsv_bits(&self) -> RsvBits {
        RsvBits::RSV1
    }
    fn response(&self) -> ExtensionElement {
        self.agreement.response.to_element()
    }
    fn split(self: Box<Self>) -> (Box<dyn Encoder>, Box<dyn Decoder>) {
        let (e, d) = self.into_codec();
        (Box::new(e), Box::new(d))
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// The server side: accepts the first acceptable permessage-deflate offer
/// under its policy ([`DeflateConfig`]). Invalid offers (unknown or
/// duplicate parameter, bad window bits, a value on a
/// `*_no_context_takeover`) are declined, not errors, so the next offer is
/// tried.
///
/// ```
/// use ws_deflate::{DeflateConfig, PerMessageDeflateServer};
/// use ws_ext_core::ServerNegotiator;
/// let server = ServerNegotiator::new().with(PerMessageDeflateServer::new(DeflateConfig::default()));
/// // Autobahn 13.7: three offers; the first acceptable one wins.
/// let stack = server.negotiate([&b"permessage-deflate; client_no_context_takeover; client_max_window_bits; \
///     server_no_context_takeover; server_max_window_bits=9, permessage-deflate; client_no_context_takeover; \
///     client_max_window_bits; server_no_context_takeover, permessage-deflate; client_no_context_takeover; \
///     client_max_window_bits"[..]]).unwrap();
/// let response = stack.response_header().unwrap();
/// if ws_deflate::backend::LIMITS_COMPRESSOR_WINDOW {
///     assert_eq!(response, "permessage-deflate; server_no_context_takeover; server_max_window_bits=9");
/// } else {
///     // miniz_oxide cannot limit its window: the second offer wins.
///     assert_eq!(response, "permessage-deflate; server_no_context_takeover");
/// }
/// ```
#[derive(Debug, Clone)]
pub struct PerMessageDeflateServer {
    cfg: DeflateConfig,
    pool: DeflatePool,
}

impl PerMessageDeflateServer {
    /// A server with this policy.
    ///
    /// # Panics
    /// If the configuration is out of range; use
    /// [`PerMessageDeflateServer::try_new`] to get the error instead.
    pub fn new(cfg: DeflateConfig) -> Self {
        match Self::try_new(cfg) {
            Ok(s) => s,
            Err(e) => panic!("invalid permessage-deflate configuration: {e}"),
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

    /// The pool of idle state this server's connections share.
    pub fn pool(&self) -> &DeflatePool {
        &self.pool
    }

    /// The policy.
    pub fn config(&self) -> &DeflateConfig {
        &self.cfg
    }

    /// Judge one offer's parameters: the response, or why it is declined.
    pub fn respond(&self, offer: &ExtensionElement) -> Result<Agreement, negotiate::DeclineReason> {
        let params = OfferParams::parse(&offer.params)?;
        negotiate::server_respond(&params, &self.cfg)
    }
}

impl ServerExtensionFactory for PerMessageDeflateServer {
    fn handles(&self, name: &str) -> bool {
        name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE)
    }

    fn accept(
        &self,
        offer: &ExtensionElement,
        _ctx: &ServerContext<'_>,
    ) -> Result<Option<Box<dyn Extension>>, NegotiationError> {
        match self.respond(offer) {
            Ok(agreement) => {
                debug!(offer = %offer, response = %agreement.response.to_element(), "permessage-deflate accepted");
                Ok(Some(Box::new(PerMessageDeflate::new(
                    Role::Server,
                    agreement,
                    self.cfg.clone(),
                    self.pool.clone(),
                ))))
            }
            Err(reason) => {
                debug!(offer = %offer, %reason, "permessage-deflate offer declined");
                Ok(None)
            }
        }
    }
}

/// The client side: offers permessage-deflate (the primary offer from the
/// config, then its fallback offers) and validates the response against
/// them, failing the connection on any violation of RFC 7692 §7.1.
///
/// ```
/// use ws_deflate::{DeflateConfig, PerMessageDeflateClient};
/// use ws_ext_core::ClientNegotiator;
/// let client = ClientNegotiator::new().with(PerMessageDeflateClient::new(DeflateConfig::default()));
/// assert_eq!(client.offer_header().unwrap(), "permessage-deflate; client_max_window_bits");
/// let stack = client.finish([&b"permessage-deflate; server_no_context_takeover; server_max_window_bits=9; \
///     client_no_context_takeover; client_max_window_bits=9"[..]]).unwrap();
/// assert_eq!(stack.names(), ["permessage-deflate"]);
/// // A response the client did not allow fails the connection.
/// let strict = ClientNegotiator::new().with(PerMessageDeflateClient::new(
///     DeflateConfig::default().with_server_max_window_bits(Some(10))));
/// assert!(strict.finish([&b"permessage-deflate"[..]]).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct PerMessageDeflateClient {
    cfg: DeflateConfig,
    offers: Vec<OfferParams>,
    pool: DeflatePool,
}

impl PerMessageDeflateClient {
    /// A client with this policy.
    ///
    /// # Panics
    /// If the configuration is out of range; use
    /// [`PerMessageDeflateClient::try_new`] to get the error instead.
    pub fn new(cfg: DeflateConfig) -> Self {
        match Self::try_new(cfg) {
            Ok(s) => s,
            Err(e) => panic!("invalid permessage-deflate configuration: {e}"),
        }
    }

    /// A client with this policy, or why the policy is invalid.
    pub fn try_new(cfg: DeflateConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let pool = DeflatePool::shared(cfg.pool_capacity);
        Ok(Self {
            offers: cfg.client_offers(),
            cfg,
            pool,
        })
    }

    /// Use this pool instead of the process-wide one
    /// ([`DeflatePool::shared`]).
    pub fn with_pool(mut self, pool: DeflatePool) -> Self {
        self.pool = pool;
        self
    }

    /// The pool of idle state this client's connections share.
    pub fn pool(&self) -> &DeflatePool {
        &self.pool
    }

    /// The offers, most preferred first.
    pub fn offer_params(&self) -> &[OfferParams] {
        &self.offers
    }

    /// Validate a response element: which offer it answers and what was
    /// agreed, or why the connection must fail.
    pub fn validate(
        &self,
        response: &ExtensionElement,
    ) -> Result<(usize, Agreement), negotiate::ResponseError> {
        let params = ResponseParams::parse(&response.params)?;
        negotiate::client_validate_any(&self.offers, &params)
    }
}

impl ClientExtensionFactory for PerMessageDeflateClient {
    fn handles(&self, name: &str) -> bool {
        name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE)
    }

    fn offers(&self) -> Vec<ExtensionElement> {
        self.offers.iter().map(|o| o.to_element()).collect()
    }

    fn accept(&self, response: &ExtensionElement) -> Result<Box<dyn Extension>, NegotiationError> {
        let (index, agreement) = self
            .validate(response)
            .map_err(|e| NegotiationError::rejected(PERMESSAGE_DEFLATE, e.to_string()))?;
        debug!(%response, offer = index, "permessage-deflate response accepted");
        Ok(Box::new(PerMessageDeflate::new(
            Role::Client,
            agreement,
            self.cfg.clone(),
            self.pool.clone(),
        )))
    }
}
