//! The traits an extension implements.
//!
//! An extension plugs in through two factories, one per role, that take part
//! in the handshake, and a negotiated [`Extension`] that splits into an
//! [`Encoder`] (send half) and a [`Decoder`] (receive half). The halves own
//! separate state, so a connection split into a reader task and a writer task
//! needs no lock between them.
//!
//! See `examples/xor.rs` in this crate for a complete third-party extension.

use std::any::Any;

use crate::error::{ExtensionError, NegotiationError};
use crate::frame::Frame;
use crate::header::ExtensionElement;
use crate::rsv::RsvBits;

/// A negotiated extension, before it is split into its halves.
pub trait Extension: Send {
    /// The extension token as it appears in the response.
    fn name(&self) -> &str;
    /// The RSV bits this extension gives a meaning to. The stack rejects
    /// incoming frames with any other bit set (close code 1002).
    fn rsv_bits(&self) -> RsvBits;
    /// The agreed parameters as the response element (what a server sends,
    /// what a client received).
    fn response(&self) -> ExtensionElement;
    /// Split into independent send and receive halves.
    fn split(self: Box<Self>) -> (Box<dyn Encoder>, Box<dyn Decoder>);
    /// Access to the concrete type, for extensions that the integration layer
    /// handles specially (multiplexing). `None` by default.
    fn as_any(&self) -> Option<&dyn Any> {
        None
    }
}

/// The send half: transforms outgoing frames, in the order of the response.
///
/// Every frame passes through, data and control. A data message begins with a
/// text or binary frame and ends with the frame whose `fin` is set; an
/// encoder may keep state across the frames of a message and across messages.
pub trait Encoder: Send {
    /// Transform one outgoing frame. May change the payload and set the
    /// extension's own RSV bits.
    fn encode(&mut self, frame: Frame) -> Result<Frame, ExtensionError>;

    /// The connection has gone quiet: release what state can be rebuilt
    /// when the next message comes (a compressor's working tables, say),
    /// keeping only what the protocol needs to carry on. The engine calls
    /// this only between messages, never inside one; the next
    /// [`Encoder::encode`] must behave exactly as if it had not been called.
    /// Does nothing by default.
    fn hibernate(&mut self) {}

    /// Whether this encoder's output for a whole message can be shared
    /// with other connections, and under which key.
    ///
    /// `Some(key)` promises, for every message encoded between messages
    /// (its first frame starts it): the frames out depend only on the frames
    /// in and on `key` (never on earlier messages), and encoding it leaves
    /// the encoder as it was. Any encoder returning an equal key would then
    /// produce the very same payloads and RSV bits, so a broadcaster may
    /// encode a message once ([`crate::SendStack::encode_detached`]) and
    /// write the result to every connection with that key. The key must
    /// name every setting that changes the bytes (the extension, its
    /// level, its window, its thresholds, its backend…); when in doubt,
    /// put it in.
    ///
    /// `None` (the default): the output depends on state the encoder keeps
    /// across messages (a compressor with context takeover), so it cannot
    /// be shared.
    fn shared_key(&self) -> Option<EncodingKey> {
        None
    }

    /// Whether connections with equal keys can be served by **one**
    /// encoder of this kind that keeps history (a *cohort*: members of a
    /// broadcast group that were sent the same messages), and under which
    /// key.
    ///
    /// `Some(key)` promises:
    /// - [`Encoder::fresh`] gives an encoder with these settings and no
    ///   history;
    /// - an encoder with no history (fresh, or just [`Encoder::reset`])
    ///   writes output the peer can decode whatever it received before;
    /// - so the frames that one encoder with `key` wrote for a run of whole
    ///   messages, starting with no history, can be written by any
    ///   connection with an equal key, in that order, as long as its peer
    ///   receives no other data frame in between: the peer's state then
    ///   follows that one encoder's.
    ///
    /// The key must name every setting that changes what the peer must be
    /// able to decode (and, as for [`Encoder::shared_key`], what changes
    /// the bytes). `None` (the default): no cohorts.
    fn cohort_key(&self) -> Option<EncodingKey> {
        None
    }

    /// A new encoder with the same settings and no history (for a cohort,
    /// [`Encoder::cohort_key`]). `None` (the default): cannot.
    fn fresh(&self) -> Option<Box<dyn Encoder>> {
        None
    }

    /// Forget the history: the next message is encoded as by a
    /// [`fresh`](Encoder::fresh) encoder, so that it is valid for the peer
    /// whatever the peer received before (a connection leaving or joining
    /// a cohort). Releases what state it can. Called only between
    /// messages. Does nothing by default.
    fn reset(&mut self) {}
}

/// What makes two encoders' output for a message identical: an opaque,
/// canonical string built by the extension ([`Encoder::shared_key`]), and for
/// a whole send stack the keys of its encoders in order
/// ([`crate::SendStack::encoding_key`]). Equal keys mean equal bytes on the
/// wire (before masking); different keys mean nothing (they may still
/// happen to give equal bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EncodingKey(String);

impl EncodingKey {
    /// A key from its canonical text (an extension name, then the settings
    /// that change the bytes, e.g. `permessage-deflate;l=1;w=15`).
    pub fn new(key: impl Into<String>) -> Self {
        EncodingKey(key.into())
    }

    /// The key of an empty stack: frames pass unchanged.
    pub fn plain() -> Self {
        EncodingKey(String::new())
    }

    /// Whether this is the key of an empty stack.
    pub fn is_plain(&self) -> bool {
        self.0.is_empty()
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for EncodingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            f.write_str("(plain)")
        } else {
            f.write_str(&self.0)
        }
    }
}

/// The receive half: undoes the transform on incoming frames, in reverse
/// response order.
pub trait Decoder: Send {
    /// Undo the transform on one incoming frame and clear the RSV bits this
    /// extension consumed. `budget` is the most bytes the payload may decode
    /// to (what remains of the message size limit): an expanding decoder must
    /// stop at it with [`ExtensionError::MessageTooBig`], not after.
    fn decode(&mut self, frame: Frame, budget: usize) -> Result<Frame, ExtensionError>;

    /// The connection has gone quiet: release what state can be rebuilt
    /// when the next message arrives, as [`Encoder::hibernate`]. Called only
    /// between messages; a decoder that is inside a message must keep its
    /// state. Does nothing by default.
    fn hibernate(&mut self) {}
}

/// What a server factory sees of the request while it judges one offer.
#[derive(Debug, Clone, Copy)]
pub struct ServerContext<'a> {
    /// Every offer in the request, in client order.
    pub offers: &'a [ExtensionElement],
    /// The index in `offers` of the offer being judged.
    pub index: usize,
    /// The names of the extensions accepted so far, in response order.
    pub accepted: &'a [String],
}

/// The server side of one extension: accepts or declines offers.
pub trait ServerExtensionFactory: Send + Sync {
    /// Whether this factory handles offers named `name` (ASCII
    /// case-insensitive; an extension may answer to several names).
    fn handles(&self, name: &str) -> bool;
    /// Judge one offer. `Ok(Some(_))` accepts it; `Ok(None)` declines it (not
    /// an error: the next offer is tried); `Err` fails the handshake with
    /// HTTP 400. A factory accepts at most one offer per handshake.
    fn accept(
        &self,
        offer: &ExtensionElement,
        ctx: &ServerContext<'_>,
    ) -> Result<Option<Box<dyn Extension>>, NegotiationError>;
}

/// The client side of one extension: makes offers, validates the response.
pub trait ClientExtensionFactory: Send + Sync {
    /// Whether a response element named `name` belongs to this factory.
    fn handles(&self, name: &str) -> bool;
    /// The offers, most preferred first. Several offers of one extension are
    /// alternatives; the server accepts at most one.
    fn offers(&self) -> Vec<ExtensionElement>;
    /// Validate the server's acceptance and build the negotiated extension.
    /// An error fails the connection.
    fn accept(&self, response: &ExtensionElement) -> Result<Box<dyn Extension>, NegotiationError>;
}
