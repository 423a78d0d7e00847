//! Negotiation in both roles (RFC 6455 §9.1).

use std::sync::Arc;

use tracing::debug;

use crate::error::NegotiationError;
use crate::extension::{ClientExtensionFactory, Extension, ServerContext, ServerExtensionFactory};
use crate::header::{self, ExtensionElement};
use crate::rsv::RsvBits;
use crate::stack::ExtensionStack;

/// The server role: registered extensions judge the client's offers.
#[derive(Clone, Default)]
pub struct ServerNegotiator {
    factories: Vec<Arc<dyn ServerExtensionFactory>>,
}

impl std::fmt::Debug for ServerNegotiator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerNegotiator")
            .field("factories", &self.factories.len())
            .finish()
    }
}

impl ServerNegotiator {
    /// No extension registered: every offer is declined.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register an extension (builder style).
    pub fn with(mut self, factory: impl ServerExtensionFactory + 'static) -> Self {
        self.factories.push(Arc::new(factory));
        self
    }

    /// Register a shared extension factory.
    pub fn push(&mut self, factory: Arc<dyn ServerExtensionFactory>) {
        self.factories.push(factory);
    }

    /// Whether any extension is registered.
    pub fn is_empty(&self) -> bool {
        self.factories.is_empty()
    }

    /// Negotiate from the request's `Sec-WebSocket-Extensions` header lines
    /// (none: no extension). A malformed header is an error (HTTP 400).
    pub fn negotiate<'a, I>(&self, lines: I) -> Result<ExtensionStack, NegotiationError>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let lines: Vec<&[u8]> = lines.into_iter().collect();
        if lines.is_empty() {
            return Ok(ExtensionStack::default());
        }
        let offers = header::parse(lines)?;
        self.negotiate_offers(&offers)
    }

    /// Negotiate from parsed offers. Offers are walked in client order; for
    /// each, the first registered factory that handles its name judges it.
    /// A factory that already accepted an offer, or whose extension would
    /// claim an RSV bit already claimed, declines the rest.
    pub fn negotiate_offers(
        &self,
        offers: &[ExtensionElement],
    ) -> Result<ExtensionStack, NegotiationError> {
        let mut accepted: Vec<Box<dyn Extension>> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut used_factories: Vec<usize> = Vec::new();
        let mut claimed = RsvBits::NONE;
        for (index, offer) in offers.iter().enumerate() {
            let Some(fi) = self.factories.iter().position(|f| f.handles(&offer.name)) else {
                debug!(offer = %offer, "no extension registered for offer; declined");
                continue;
            };
            if used_factories.contains(&fi) {
                continue;
            }
            let ctx = ServerContext {
                offers,
                index,
                accepted: &names,
            };
            let Some(ext) = self.factories[fi].accept(offer, &ctx)? else {
                debug!(offer = %offer, "offer declined");
                continue;
            };
            if ext.rsv_bits().intersects(claimed) {
                debug!(offer = %offer, "offer declined: its RSV bits are taken");
                continue;
            }
            claimed |= ext.rsv_bits();
            used_factories.push(fi);
            names.push(ext.name().to_owned());
            accepted.push(ext);
        }
        Ok(ExtensionStack::from_extensions(accepted))
    }
}

/// The client role: makes the offers and validates the response.
#[derive(Clone, Default)]
pub struct ClientNegotiator {
    factories: Vec<Arc<dyn ClientExtensionFactory>>,
}

impl std::fmt::Debug for ClientNegotiator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientNegotiator")
            .field("factories", &self.factories.len())
            .finish()
    }
}

impl ClientNegotiator {
    /// No extension: nothing offered, any accepted extension is an error.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register an extension (builder style). Offers go out in registration
    /// order.
    pub fn with(mut self, factory: impl ClientExtensionFactory + 'static) -> Self {
        self.factories.push(Arc::new(factory));
        self
    }

    /// Register a shared extension factory.
    pub fn push(&mut self, factory: Arc<dyn ClientExtensionFactory>) {
        self.factories.push(factory);
    }

    /// Every offer, in preference order.
    pub fn offers(&self) -> Vec<ExtensionElement> {
        self.factories.iter().flat_map(|f| f.offers()).collect()
    }

    /// The request header value, or `None` when nothing is offered.
    pub fn offer_header(&self) -> Option<String> {
        let offers = self.offers();
        (!offers.is_empty()).then(|| header::format(&offers))
    }

    /// Validate the response's `Sec-WebSocket-Extensions` lines (none: no
    /// extension) and build the stack.
    pub fn finish<'a, I>(&self, lines: I) -> Result<ExtensionStack, NegotiationError>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let lines: Vec<&[u8]> = lines.into_iter().collect();
        if lines.is_empty() {
            return Ok(ExtensionStack::default());
        }
        let response = header::parse(lines)?;
        self.finish_elements(&response)
    }

    /// Validate parsed response elements: each must be an extension offered,
    /// accepted once, with parameters the extension accepts, and no two may
    /// claim one RSV bit.
    pub fn finish_elements(
        &self,
        response: &[ExtensionElement],
    ) -> Result<ExtensionStack, NegotiationError> {
        let mut accepted: Vec<Box<dyn Extension>> = Vec::new();
        let mut used: Vec<usize> = Vec::new();
        for el in response {
            let offered = |f: &Arc<dyn ClientExtensionFactory>| {
                f.handles(&el.name) && f.offers().iter().any(|o| o.is(&el.name))
            };
            let Some(fi) = self.factories.iter().position(offered) else {
                return Err(NegotiationError::Unsolicited {
                    name: el.name.clone(),
                });
            };
            if used.contains(&fi) {
                return Err(NegotiationError::Duplicate {
                    name: el.name.clone(),
                });
            }
            let ext = self.factories[fi].accept(el)?;
            if let Some(prev) = accepted
                .iter()
                .find(|p| p.rsv_bits().intersects(ext.rsv_bits()))
            {
                return Err(NegotiationError::RsvConflict {
                    first: prev.name().to_owned(),
                    second: ext.name().to_owned(),
                    bits: prev.rsv_bits() & ext.rsv_bits(),
                });
            }
            used.push(fi);
            accepted.push(ext);
        }
        Ok(ExtensionStack::from_extensions(accepted))
    }
}
