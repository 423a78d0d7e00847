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
