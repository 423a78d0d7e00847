//! Negotiating `mux` on the physical connection (§C.1, §C.8).
//!
//! - The token is configurable: the draft's is [`DEFAULT_TOKEN`] (`mux`);
//!   mod_pywebsocket 0.7.9, the only surviving implementation, registered
//!   [`PYWEBSOCKET_TOKEN`] (`mux_DO_NOT_USE`).
//! - The offer may carry `quota=N` (0 ≤ N < 2^32, mod_pywebsocket): the
//!   server's initial send quota on the implicitly opened channel 1. The
//!   response is the bare token.
//! - **Order** (§C.8): extensions listed *before* `mux` apply to the logical
//!   channels (RFC 6455 order `mux(foo(data))`) — they are channel 1's
//!   extensions; extensions *after* `mux` apply to the physical connection.
//! - **Forbidden combinations**, refused at negotiation: a frame-boundary
//!   extension (`deflate-frame`, `x-webkit-deflate-frame`,
//!   `perframe-compress`) before `mux` (flow control re-fragments frames),
//!   and any history-based compression ([`HISTORY_COMPRESSION`]) after `mux`
//!   on the physical connection (a context shared between channels leaks
//!   data across them, CRIME-style).
//!
//! Two ways to use it:
//! 1. [`negotiate_server`] / [`client_offer_header`] + [`finish_client`]: the
//!    complete physical negotiation with channel 1's extensions negotiated
//!    from the offers before `mux` and listed before `mux` in the response.
//!    Recommended.
//! 2. [`MuxServerFactory`] / [`MuxClientFactory`] registered in a plain
//!    [`ServerNegotiator`] / [`ClientNegotiator`]. Then channel 1 carries no
//!    extension: the server factory declines `mux` when an extension was
//!    already accepted before it (that extension would run on the physical
//!    connection while a mux-aware client reads it as channel 1's), and when
//!    a history-based compression is offered after it.

use std::any::Any;
use std::sync::Arc;

use tracing::debug;
use ws_ext_core::header::{self, ExtensionElement, ExtensionParam};
use ws_ext_core::{
    ClientExtensionFactory, ClientNegotiator, Decoder, Encoder, Extension, ExtensionError,
    ExtensionStack, Frame, NegotiationError, RsvBits, ServerContext, ServerExtensionFactory,
    ServerNegotiator,
};

/// The draft's extension token.
pub const DEFAULT_TOKEN: &str = "mux";
/// The token mod_pywebsocket 0.7.9 registered.
pub const PYWEBSOCKET_TOKEN: &str = "mux_DO_NOT_USE";
/// The offer parameter giving the server's initial send quota on channel 1.
pub const QUOTA_PARAM: &str = "quota";

/// History-based compression extensions: never on the physical connection
/// under mux.
pub const HISTORY_COMPRESSION: &[&str] = &[
    "permessage-deflate",
    "permessage-compress",
    "x-webkit-permessage-compress",
    "deflate-frame",
    "x-webkit-deflate-frame",
    "perframe-compress",
    "deflate-stream",
];
/// Extensions that depend on frame boundaries: never inside logical
/// channels (flow control splits frames).
pub const FRAME_BOUNDARY: &[&str] = &[
    "deflate-frame",
    "x-webkit-deflate-frame",
    "perframe-compress",
];

fn named_in(name: &str, list: &[&str]) -> bool {
    list.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Whether `name` is a history-based compression extension.
pub fn is_history_compression(name: &str) -> bool {
    named_in(name, HISTORY_COMPRESSION)
}

/// Whether `name` is a frame-boundary-dependent extension.
pub fn is_frame_boundary(name: &str) -> bool {
    named_in(name, FRAME_BOUNDARY)
}

/// What was agreed about `mux` on the physical connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MuxAgreement {
    /// The token as used in the response.
    pub token: String,
    /// The `quota` offer parameter: the server's initial send quota on
    /// channel 1 (`None`: 0 until FlowControl).
    pub quota: Option<u32>,
}

/// The negotiated `mux` extension. It touches no frame (mux uses no RSV bit
/// and no opcode of the physical connection); the integration layer finds it
/// with [`find_agreement`] (through [`Extension::as_any`]) and runs a
/// [`crate::MuxSession`] over the connection.
#[derive(Debug, Clone)]
pub struct MuxExtension {
    agreement: MuxAgreement,
}

impl MuxExtension {
    /// Wrap an agreement.
    pub fn new(agreement: MuxAgreement) -> Self {
        Self { agreement }
    }
    /// The agreed parameters.
    pub fn agreement(&self) -> &MuxAgreement {
        &self.agreement
    }
}

struct Identity;
impl Encoder for Identity {
    fn encode(&mut self, frame: Frame) -> Result<Frame, ExtensionError> {
        Ok(frame)
    }
}
impl Decoder for Identity {
    fn decode(&mut self, frame: Frame, _budget: usize) -> Result<Frame, ExtensionError> {
        Ok(frame)
    }
}

impl Extension for MuxExtension {
    fn name(&self) -> &str {
        &self.agreement.token
    }
    fn rsv_bits(&self) -> RsvBits {
        RsvBits::NONE
    }
    fn response(&self) -> ExtensionElement {
        ExtensionElement::new(self.agreement.token.clone())
    }
    fn split(self: Box<Self>) -> (Box<dyn Encoder>, Box<dyn Decoder>) {
        (Box::new(Identity), Box::new(Identity))
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

/// The mux agreement in a negotiated stack, if `mux` is in it.
pub fn find_agreement(stack: &ExtensionStack) -> Option<&MuxAgreement> {
    stack.extensions().iter().find_map(|e| {
        e.as_any()
            .and_then(|a| a.downcast_ref::<MuxExtension>())
            .map(MuxExtension::agreement)
    })
}

/// Parse a `mux` offer's parameters: `Ok(quota)` or why it is declined.
fn parse_offer(offer: &ExtensionElement) -> Result<Option<u32>, String> {
    let mut quota = None;
    for p in &offer.params {
        if p.name != QUOTA_PARAM {
            return Err(format!("unknown parameter {:?}", p.name));
        }
        if quota.is_some() {
            return Err("quota given twice".into());
        }
        let v = p.value.as_deref().ok_or("quota without a value")?;
        if v.is_empty()
            || !v.bytes().all(|b| b.is_ascii_digit())
            || (v.len() > 1 && v.starts_with('0'))
        {
            return Err(format!("quota {v:?} is not a decimal number"));
        }
        quota = Some(
            v.parse::<u32>()
                .map_err(|_| format!("quota {v} is not below 2^32"))?,
        );
    }
    Ok(quota)
}

/// The server side of `mux` for a plain [`ServerNegotiator`] (see the module
/// docs for what it declines).
#[derive(Debug, Clone)]
pub struct MuxServerFactory {
    token: String,
}

impl Default for MuxServerFactory {
    fn default() -> Self {
        Self::new(DEFAULT_TOKEN)
    }
}

impl MuxServerFactory {
    /// Accept offers named `token`.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
        }
    }
    /// The token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Judge a mux offer at `index` of `offers` on its own and against its
    /// neighbours: `Ok(quota)` or why it is declined.
    fn judge(&self, offers: &[ExtensionElement], index: usize) -> Result<Option<u32>, String> {
        let offer = &offers[index];
        let quota = parse_offer(offer)?;
        if let Some(f) = offers[..index].iter().find(|o| is_frame_boundary(&o.name)) {
            return Err(format!(
                "{} before {} depends on frame boundaries that flow control changes",
                f.name, self.token
            ));
        }
        Ok(quota)
    }
}

impl ServerExtensionFactory for MuxServerFactory {
    fn handles(&self, name: &str) -> bool {
        name.eq_ignore_ascii_case(&self.token)
    }

    fn accept(
        &self,
        offer: &ExtensionElement,
        ctx: &ServerContext<'_>,
    ) -> Result<Option<Box<dyn Extension>>, NegotiationError> {
        let verdict = self.judge(ctx.offers, ctx.index).and_then(|q| {
            if let Some(h) = ctx.offers[ctx.index + 1..]
                .iter()
                .find(|o| is_history_compression(&o.name))
            {
                return Err(format!(
                    "{} is offered after {}: history-based compression on the physical connection",
                    h.name, self.token
                ));
            }
            if let Some(a) = ctx.accepted.first() {
                return Err(format!(
                    "{a} was accepted on the physical connection before {}",
                    self.token
                ));
            }
            Ok(q)
        });
        match verdict {
            Ok(quota) => Ok(Some(Box::new(MuxExtension::new(MuxAgreement {
                token: offer.name.clone(),
                quota,
            })))),
            Err(why) => {
                debug!(offer = %offer, %why, "mux offer declined");
                Ok(None)
            }
        }
    }
}

/// The client side of `mux`: offers the token (with `quota` if set) and
/// accepts the bare token in the response.
#[derive(Debug, Clone)]
pub struct MuxClientFactory {
    token: String,
    quota: Option<u32>,
}

impl Default for MuxClientFactory {
    fn default() -> Self {
        Self::new(DEFAULT_TOKEN, None)
    }
}

impl MuxClientFactory {
    /// Offer `token`, with `quota=N` when `quota` is set.
    pub fn new(token: impl Into<String>, quota: Option<u32>) -> Self {
        Self {
            token: token.into(),
            quota,
        }
    }
    /// The token.
    pub fn token(&self) -> &str {
        &self.token
    }
    /// The offered quota.
    pub fn quota(&self) -> Option<u32> {
        self.quota
    }
    /// The single offer.
    pub fn offer(&self) -> ExtensionElement {
        let mut e = ExtensionElement::new(self.token.clone());
        if let Some(q) = self.quota {
            e = e.param(ExtensionParam::with_value(QUOTA_PARAM, q.to_string()));
        }
        e
    }
}

impl ClientExtensionFactory for MuxClientFactory {
    fn handles(&self, name: &str) -> bool {
        name.eq_ignore_ascii_case(&self.token)
    }
    fn offers(&self) -> Vec<ExtensionElement> {
        vec![self.offer()]
    }
    fn accept(&self, response: &ExtensionElement) -> Result<Box<dyn Extension>, NegotiationError> {
        if let Some(p) = response.params.first() {
            return Err(NegotiationError::rejected(
                &self.token,
                format!("unexpected parameter {:?} in the response", p.name),
            ));
        }
        Ok(Box::new(MuxExtension::new(MuxAgreement {
            token: response.name.clone(),
            quota: self.quota,
        })))
    }
}

/// The outcome of the physical negotiation with mux (either role).
#[derive(Debug, Default)]
pub struct MuxNegotiation {
    /// The extensions on the physical connection (after `mux`, or all of
    /// them when mux was not agreed).
    pub physical: ExtensionStack,
    /// Whether and how mux was agreed.
    pub mux: Option<MuxAgreement>,
    /// Channel 1's extensions (listed before `mux`); empty without mux.
    pub channel1: ExtensionStack,
    /// Server: the `Sec-WebSocket-Extensions` response value (`None`: send
    /// no header). Client: the response value as validated.
    pub response_header: Option<String>,
}

fn without_frame_boundary(offers: &[ExtensionElement]) -> Vec<ExtensionElement> {
    offers
        .iter()
        .filter(|o| !is_frame_boundary(&o.name))
        .cloned()
        .collect()
}

/// The server's physical negotiation with mux. `physical` judges the offers
/// after `mux` (do not register a mux factory in it); `channel` judges the
/// offers before `mux` for channel 1 (frame-boundary offers are dropped
/// first). When mux is declined (not offered, bad parameters, a
/// frame-boundary extension before it, or `physical` accepted a
/// history-based compression after it) every offer goes to `physical`.
///
/// A malformed header is an error (HTTP 400).
pub fn negotiate_server<'a, I>(
    lines: I,
    physical: &ServerNegotiator,
    mux: &MuxServerFactory,
    channel: &ServerNegotiator,
) -> Result<MuxNegotiation, NegotiationError>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let lines: Vec<&[u8]> = lines.into_iter().collect();
    if lines.is_empty() {
        return Ok(MuxNegotiation::default());
    }
    let offers = header::parse(lines)?;
    let without_mux = |offers: &[ExtensionElement]| -> Result<MuxNegotiation, NegotiationError> {
        let rest: Vec<ExtensionElement> = offers
            .iter()
            .filter(|o| !mux.handles(&o.name))
            .cloned()
            .collect();
        let physical = physical.negotiate_offers(&rest)?;
        Ok(MuxNegotiation {
            response_header: physical.response_header(),
            physical,
            ..Default::default()
        })
    };
    let Some(index) = offers.iter().position(|o| mux.handles(&o.name)) else {
        return without_mux(&offers);
    };
    let quota = match mux.judge(&offers, index) {
        Ok(q) => q,
        Err(why) => {
            debug!(%why, "mux offer declined");
            return without_mux(&offers);
        }
    };
    let after: Vec<ExtensionElement> = offers[index + 1..]
        .iter()
        .filter(|o| !mux.handles(&o.name))
        .cloned()
        .collect();
    let physical_stack = physical.negotiate_offers(&after)?;
    if let Some(h) = physical_stack
        .names()
        .into_iter()
        .find(|n| is_history_compression(n))
    {
        debug!(
            extension = h,
            "mux declined: history-based compression accepted after it"
        );
        return without_mux(&offers);
    }
    let channel1 = channel.negotiate_offers(&without_frame_boundary(&offers[..index]))?;
    let agreement = MuxAgreement {
        token: offers[index].name.clone(),
        quota,
    };
    let mut response = channel1.response();
    response.push(ExtensionElement::new(agreement.token.clone()));
    response.extend(physical_stack.response());
    Ok(MuxNegotiation {
        physical: physical_stack,
        mux: Some(agreement),
        channel1,
        response_header: Some(header::format(&response)),
    })
}

fn negotiator_of(factories: &[Arc<dyn ClientExtensionFactory>]) -> ClientNegotiator {
    let mut n = ClientNegotiator::new();
    for f in factories {
        n.push(f.clone());
    }
    n
}

/// The client's physical offer: channel 1's offers (`channel`), then `mux`,
/// then the physical offers. Put a history-based compression in `channel`,
/// not in `physical`: after `mux` it makes a server decline mux.
pub fn client_offer_header(
    physical: &ClientNegotiator,
    mux: &MuxClientFactory,
    channel: &[Arc<dyn ClientExtensionFactory>],
) -> String {
    let mut offers = negotiator_of(channel).offers();
    offers.push(mux.offer());
    offers.extend(physical.offers());
    header::format(&offers)
}

/// Validate the server's response to [`client_offer_header`]. With `mux`
/// in it, the elements before it are channel 1's (validated by `channel`),
/// the ones after are physical (validated by `physical`; a history-based
/// compression there is an error). Without `mux`, every element is physical
/// and may be any offered extension.
pub fn finish_client<'a, I>(
    lines: I,
    physical: &ClientNegotiator,
    mux: &MuxClientFactory,
    channel: &[Arc<dyn ClientExtensionFactory>],
) -> Result<MuxNegotiation, NegotiationError>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let lines: Vec<&[u8]> = lines.into_iter().collect();
    if lines.is_empty() {
        return Ok(MuxNegotiation::default());
    }
    let response = header::parse(lines)?;
    let response_header = Some(header::format(&response));
    let Some(index) = response.iter().position(|e| mux.handles(&e.name)) else {
        let mut all = physical.clone();
        for f in channel {
            all.push(f.clone());
        }
        return Ok(MuxNegotiation {
            physical: all.finish_elements(&response)?,
            response_header,
            ..Default::default()
        });
    };
    if let Some(dup) = response[index + 1..].iter().find(|e| mux.handles(&e.name)) {
        return Err(NegotiationError::Duplicate {
            name: dup.name.clone(),
        });
    }
    let ext = mux.accept(&response[index])?;
    let agreement = ext
        .as_any()
        .and_then(|a| a.downcast_ref::<MuxExtension>())
        .map(|m| m.agreement().clone())
        .ok_or_else(|| NegotiationError::rejected(mux.token(), "internal: not a mux extension"))?;
    if let Some(f) = response[..index]
        .iter()
        .find(|e| is_frame_boundary(&e.name))
    {
        return Err(NegotiationError::rejected(
            mux.token(),
            format!("{} before mux depends on frame boundaries", f.name),
        ));
    }
    if let Some(h) = response[index + 1..]
        .iter()
        .find(|e| is_history_compression(&e.name))
    {
        return Err(NegotiationError::rejected(
            mux.token(),
            format!(
                "{} after mux would compress the physical connection across channels",
                h.name
            ),
        ));
    }
    let channel1 = negotiator_of(channel).finish_elements(&response[..index])?;
    let physical_stack = physical.finish_elements(&response[index + 1..])?;
    Ok(MuxNegotiation {
        physical: physical_stack,
        mux: Some(agreement),
        channel1,
        response_header,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for any extension: name, RSV bit, accepts everything.
    #[derive(Clone)]
    struct Named(&'static str, RsvBits);
    struct NamedExt(&'static str, RsvBits);
    impl Extension for NamedExt {
        fn name(&self) -> &str {
            self.0
        }
        fn rsv_bits(&self) -> RsvBits {
            self.1
        }
        fn response(&self) -> ExtensionElement {
            ExtensionElement::new(self.0)
        }
        fn split(self: Box<Self>) -> (Box<dyn Encoder>, Box<dyn Decoder>) {
            (Box::new(Identity), Box::new(Identity))
        }
    }
    impl ServerExtensionFactory for Named {
        fn handles(&self, name: &str) -> bool {
            name == self.0
        }
        fn accept(
            &self,
            _: &ExtensionElement,
            _: &ServerContext<'_>,
        ) -> Result<Option<Box<dyn Extension>>, NegotiationError> {
            Ok(Some(Box::new(NamedExt(self.0, self.1))))
        }
    }
    impl ClientExtensionFactory for Named {
        fn handles(&self, name: &str) -> bool {
            name == self.0
        }
        fn offers(&self) -> Vec<ExtensionElement> {
            vec![ExtensionElement::new(self.0)]
        }
        fn accept(&self, _: &ExtensionElement) -> Result<Box<dyn Extension>, NegotiationError> {
            Ok(Box::new(NamedExt(self.0, self.1)))
        }
    }

    const PMD: Named = Named("permessage-deflate", RsvBits::RSV1);
    const XOR: Named = Named("x-xor", RsvBits::RSV2);

    fn server(h: &str) -> MuxNegotiation {
        negotiate_server(
            [h.as_bytes()],
            &ServerNegotiator::new().with(PMD).with(XOR),
            &MuxServerFactory::default(),
            &ServerNegotiator::new().with(PMD).with(XOR),
        )
        .unwrap()
    }

    #[test]
    fn before_mux_is_channel_one_after_is_physical() {
        let n = server("permessage-deflate, mux; quota=100, x-xor");
        assert_eq!(
            n.mux,
            Some(MuxAgreement {
                token: "mux".into(),
                quota: Some(100)
            })
        );
        assert_eq!(n.channel1.names(), ["permessage-deflate"]);
        assert_eq!(n.physical.names(), ["x-xor"]);
        assert_eq!(
            n.response_header.as_deref(),
            Some("permessage-deflate, mux, x-xor")
        );
    }

    #[test]
    fn history_compression_after_mux_declines_mux() {
        let n = server("mux, permessage-deflate");
        assert_eq!(n.mux, None);
        assert_eq!(n.physical.names(), ["permessage-deflate"]);
        assert_eq!(n.response_header.as_deref(), Some("permessage-deflate"));
    }

    #[test]
    fn frame_boundary_before_mux_declines_mux() {
        let n = negotiate_server(
            [&b"deflate-frame, mux"[..]],
            &ServerNegotiator::new(),
            &MuxServerFactory::default(),
            &ServerNegotiator::new(),
        )
        .unwrap();
        assert_eq!(n.mux, None);
        assert_eq!(n.response_header, None);
    }

    #[test]
    fn bad_quota_declines_and_token_is_configurable() {
        for h in [
            "mux; quota=-1",
            "mux; quota=4294967296",
            "mux; quota",
            "mux; q=1",
            "mux; quota=01",
        ] {
            assert_eq!(server(h).mux, None, "{h}");
        }
        let n = negotiate_server(
            [&b"mux, mux_DO_NOT_USE; quota=0"[..]],
            &ServerNegotiator::new(),
            &MuxServerFactory::new(PYWEBSOCKET_TOKEN),
            &ServerNegotiator::new(),
        )
        .unwrap();
        assert_eq!(n.mux.unwrap().quota, Some(0));
        assert_eq!(n.response_header.as_deref(), Some("mux_DO_NOT_USE"));
    }

    #[test]
    fn plain_factory_path() {
        let neg = ServerNegotiator::new()
            .with(MuxServerFactory::default())
            .with(PMD);
        let s = neg.negotiate([&b"mux; quota=5"[..]]).unwrap();
        assert_eq!(find_agreement(&s).unwrap().quota, Some(5));
        // Accepted before mux on the physical connection: mux declined.
        let s = neg.negotiate([&b"permessage-deflate, mux"[..]]).unwrap();
        assert!(find_agreement(&s).is_none());
        // History compression offered after mux: mux declined.
        let s = neg.negotiate([&b"mux, permessage-deflate"[..]]).unwrap();
        assert!(find_agreement(&s).is_none());
        assert_eq!(s.names(), ["permessage-deflate"]);
    }

    #[test]
    fn client_offer_and_finish() {
        let mux = MuxClientFactory::new("mux", Some(8192));
        let channel: Vec<Arc<dyn ClientExtensionFactory>> = vec![Arc::new(PMD)];
        let physical = ClientNegotiator::new().with(XOR);
        assert_eq!(
            client_offer_header(&physical, &mux, &channel),
            "permessage-deflate, mux; quota=8192, x-xor"
        );
        let n = finish_client(
            [&b"permessage-deflate, mux, x-xor"[..]],
            &physical,
            &mux,
            &channel,
        )
        .unwrap();
        assert_eq!(n.mux.unwrap().quota, Some(8192));
        assert_eq!(n.channel1.names(), ["permessage-deflate"]);
        assert_eq!(n.physical.names(), ["x-xor"]);
        // No mux: the channel offer became physical.
        let n = finish_client([&b"permessage-deflate"[..]], &physical, &mux, &channel).unwrap();
        assert!(n.mux.is_none());
        assert_eq!(n.physical.names(), ["permessage-deflate"]);
        // History compression after mux: refused.
        let both = ClientNegotiator::new().with(PMD);
        assert!(finish_client([&b"mux, permessage-deflate"[..]], &both, &mux, &[]).is_err());
        // Parameters on mux in the response: refused.
        assert!(finish_client([&b"mux; quota=1"[..]], &physical, &mux, &channel).is_err());
        assert!(finish_client([&b"mux, mux"[..]], &physical, &mux, &channel).is_err());
    }
}
