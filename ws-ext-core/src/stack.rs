//! The negotiated stack: outgoing frames pass through the extensions in
//! response order, incoming frames in reverse (RFC 6455 §9.1).

use std::fmt;

use crate::error::ExtensionError;
use crate::extension::{Decoder, Encoder, EncodingKey, Extension};
use crate::frame::Frame;
use crate::header::{self, ExtensionElement};
use crate::rsv::RsvBits;

/// The active extensions of one connection, in response order.
#[derive(Default)]
pub struct ExtensionStack {
    extensions: Vec<Box<dyn Extension>>,
}

impl fmt::Debug for ExtensionStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtensionStack")
            .field("response", &self.response_header())
            .field("rsv", &self.rsv_bits())
            .finish()
    }
}

impl ExtensionStack {
    /// A stack of already negotiated extensions, in response order.
    pub fn from_extensions(extensions: Vec<Box<dyn Extension>>) -> Self {
        Self { extensions }
    }

    /// No extension is active.
    pub fn is_empty(&self) -> bool {
        self.extensions.is_empty()
    }

    /// The active extensions, in response order.
    pub fn extensions(&self) -> &[Box<dyn Extension>] {
        &self.extensions
    }

    /// The names of the active extensions, in response order.
    pub fn names(&self) -> Vec<&str> {
        self.extensions.iter().map(|e| e.name()).collect()
    }

    /// The response elements.
    pub fn response(&self) -> Vec<ExtensionElement> {
        self.extensions.iter().map(|e| e.response()).collect()
    }

    /// The `Sec-WebSocket-Extensions` response value, or `None` if empty.
    pub fn response_header(&self) -> Option<String> {
        (!self.is_empty()).then(|| header::format(&self.response()))
    }

    /// Every RSV bit some active extension defines.
    pub fn rsv_bits(&self) -> RsvBits {
        self.extensions
            .iter()
            .fold(RsvBits::NONE, |a, e| a | e.rsv_bits())
    }

    /// Split into the send half and the receive half.
    pub fn split(self) -> (SendStack, RecvStack) {
        let allowed = self.rsv_bits();
        let mut encoders = Vec::with_capacity(self.extensions.len());
        let mut decoders = Vec::with_capacity(self.extensions.len());
        for ext in self.extensions {
            let (e, d) = ext.split();
            encoders.push(e);
            decoders.push(d);
        }
        decoders.reverse();
        (SendStack { encoders }, RecvStack { decoders, allowed })
    }
}

/// The send half of a stack.
#[derive(Default)]
pub struct SendStack {
    encoders: Vec<Box<dyn Encoder>>,
}

impl fmt::Debug for SendStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendStack")
            .field("encoders", &self.encoders.len())
            .finish()
    }
}

impl SendStack {
    /// No encoder: frames pass unchanged.
    pub fn is_empty(&self) -> bool {
        self.encoders.is_empty()
    }

    /// Pass an outgoing frame through every extension, in response order.
    pub fn encode(&mut self, mut frame: Frame) -> Result<Frame, ExtensionError> {
        for e in &mut self.encoders {
            frame = e.encode(frame)?;
        }
        Ok(frame)
    }

    /// The connection is quiet: let every extension release the state it
    /// can rebuild ([`Encoder::hibernate`]). Call only between messages.
    pub fn hibernate(&mut self) {
        for e in &mut self.encoders {
            e.hibernate();
        }
    }

    /// The key under which this stack's encoded messages may be shared
    /// with other connections ([`Encoder::shared_key`]): the keys of its
    /// encoders in order, joined by `", "`; [`EncodingKey::plain`] for an
    /// empty stack; `None` if any encoder keeps state across messages.
    pub fn encoding_key(&self) -> Option<EncodingKey> {
        self.joined_key(|e| e.shared_key())
    }

    /// The key under which this stack can be served by one shared stack
    /// that keeps history, a cohort ([`Encoder::cohort_key`]): the keys of
    /// its encoders in order, joined by `", "`; `None` for an empty stack
    /// (nothing to keep: use [`SendStack::encoding_key`]) or if any encoder
    /// cannot.
    pub fn cohort_key(&self) -> Option<EncodingKey> {
        if self.encoders.is_empty() {
            return None;
        }
        self.joined_key(|e| e.cohort_key())
    }

    /// Every encoder's `key`, in order, joined by `", "`; `None` if one
    /// has none.
    fn joined_key(&self, key: impl Fn(&dyn Encoder) -> Option<EncodingKey>) -> Option<EncodingKey> {
        let mut parts = Vec::with_capacity(self.encoders.len());
        for e in &self.encoders {
            parts.push(key(e.as_ref())?.as_str().to_owned());
        }
        Some(EncodingKey::new(parts.join(", ")))
    }

    /// A stack of [fresh](Encoder::fresh) encoders with the same settings
    /// and no history, or `None` if any encoder cannot make one.
    pub fn fresh(&self) -> Option<SendStack> {
        let encoders = self
            .encoders
            .iter()
            .map(|e| e.fresh())
            .collect::<Option<Vec<_>>>()?;
        Some(SendStack { encoders })
    }

    /// Let every encoder forget its history ([`Encoder::reset`]): the
    /// next message is valid for the peer whatever it received before.
    /// Call only between messages.
    pub fn reset(&mut self) {
        for e in &mut self.encoders {
            e.reset();
        }
    }

    /// Encode a whole message sent in one frame (text or binary, `fin`
    /// set) for sharing: the result may be written as-is by every
    /// connection whose stack has the same [`SendStack::encoding_key`], and
    /// this stack is left as it was. Call only between messages.
    ///
    /// Fails with [`ExtensionError::Internal`] when the stack cannot share
    /// (its key is `None`) or the frame is not a whole data message; the
    /// stack is untouched then, so the caller can still encode the message
    /// the ordinary way ([`SendStack::encode`]).
    pub fn encode_detached(&mut self, frame: Frame) -> Result<Frame, ExtensionError> {
        if !(frame.fin && frame.is_message_start()) {
            return Err(ExtensionError::internal(
                "stack",
                "only a whole message in one frame can be encoded detached",
            ));
        }
        if self.encoding_key().is_none() {
            return Err(ExtensionError::internal(
                "stack",
                "an extension keeps state across messages: its output cannot be shared",
            ));
        }
        self.encode(frame)
    }
}

/// The receive half of a stack.
#[derive(Default)]
pub struct RecvStack {
    decoders: Vec<Box<dyn Decoder>>,
    allowed: RsvBits,
}

impl fmt::Debug for RecvStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvStack")
            .field("decoders", &self.decoders.len())
            .field("allowed", &self.allowed)
            .finish()
    }
}

impl RecvStack {
    /// The RSV bits an incoming frame may carry.
    pub fn allowed_rsv(&self) -> RsvBits {
        self.allowed
    }

    /// Check that `rsv` holds only bits some active extension defines; the
    /// engine may call this on a frame header before reading the payload.
    pub fn check_rsv(&self, rsv: RsvBits) -> Result<(), ExtensionError> {
        let stray = rsv & !self.allowed;
        if stray.is_empty() {
            Ok(())
        } else {
            Err(ExtensionError::protocol(
                "stack",
                format!("{stray} set but no negotiated extension defines it"),
            ))
        }
    }

    /// Check the RSV bits, then undo every extension on an incoming frame,
    /// in reverse response order. `budget` is the most bytes the decoded
    /// payload may hold.
    pub fn decode(&mut self, mut frame: Frame, budget: usize) -> Result<Frame, ExtensionError> {
        self.check_rsv(frame.rsv)?;
        for d in &mut self.decoders {
            frame = d.decode(frame, budget)?;
        }
        if frame.payload.len() > budget {
            return Err(ExtensionError::MessageTooBig { limit: budget });
        }
        Ok(frame)
    }

    /// The connection is quiet: let every extension release the state it
    /// can rebuild ([`Decoder::hibernate`]). Call only between messages.
    pub fn hibernate(&mut self) {
        for d in &mut self.decoders {
            d.hibernate();
        }
    }
}
