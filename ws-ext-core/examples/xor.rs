//! A complete third-party extension on the ws-ext-core API: `x-xor`.
//!
//! `x-xor` XORs every byte of a data message's payload with a one-byte key,
//! continuing the key stream across the frames of a message, and marks each
//! transformed message with RSV2 on its first frame. It is a toy (it hides
//! nothing), but it exercises everything a real extension needs:
//!
//! - a parameter (`key=N`, 0–255) checked in both roles; a bad value declines
//!   the offer (server) or fails the handshake (client);
//! - an RSV bit of its own, so the stack rejects RSV2 when `x-xor` is not
//!   negotiated, and refuses to negotiate it beside another RSV2 user;
//! - per-message state (the RSV2 bit on the first frame says "transformed")
//!   carried across fragments, with separate send and receive halves.
//!
//! Run it: `cargo run -p ws-ext-core --example xor`.

use ws_ext_core::{
    ClientExtensionFactory, Decoder, Encoder, Extension, ExtensionElement, ExtensionError,
    ExtensionParam, Frame, NegotiationError, OpCode, RsvBits, ServerContext,
    ServerExtensionFactory,
};

/// The extension token.
pub const NAME: &str = "x-xor";

fn parse_key(el: &ExtensionElement) -> Result<u8, String> {
    let mut key = None;
    for p in &el.params {
        match (p.name.as_str(), &p.value) {
            ("key", Some(v)) if key.is_none() => {
                key = Some(v.parse::<u8>().map_err(|_| format!("bad key {v:?}"))?)
            }
            ("key", _) => return Err("key given twice or without a value".into()),
            (other, _) => return Err(format!("unknown parameter {other:?}")),
        }
    }
    key.ok_or_else(|| "missing key".into())
}

/// The negotiated extension.
pub struct Xor {
    key: u8,
}

impl Extension for Xor {
    fn name(&self) -> &str {
        NAME
    }
    fn rsv_bits(&self) -> RsvBits {
        RsvBits::RSV2
    }
    fn response(&self) -> ExtensionElement {
        ExtensionElement::new(NAME).param(ExtensionParam::with_value("key", self.key.to_string()))
    }
    fn split(self: Box<Self>) -> (Box<dyn Encoder>, Box<dyn Decoder>) {
        (
            Box::new(XorHalf {
                key: self.key,
                active: false,
            }),
            Box::new(XorHalf {
                key: self.key,
                active: false,
            }),
        )
    }
}

/// One half; both directions use the same transform.
struct XorHalf {
    key: u8,
    /// Whether the message in progress is transformed.
    active: bool,
}

impl XorHalf {
    fn apply(&self, frame: &mut Frame) {
        let key = self.key;
        frame.payload = frame
            .payload
            .iter()
            .map(|b| b ^ key)
            .collect::<Vec<u8>>()
            .into();
    }
}

impl Encoder for XorHalf {
    fn encode(&mut self, mut frame: Frame) -> Result<Frame, ExtensionError> {
        if frame.opcode.is_control() {
            return Ok(frame);
        }
        if frame.is_message_start() {
            self.active = true;
            frame.rsv |= RsvBits::RSV2;
        }
        self.apply(&mut frame);
        Ok(frame)
    }
}

impl Decoder for XorHalf {
    fn decode(&mut self, mut frame: Frame, _budget: usize) -> Result<Frame, ExtensionError> {
        let marked = frame.rsv.contains(RsvBits::RSV2);
        if frame.opcode.is_control() || frame.opcode == OpCode::Continuation {
            if marked {
                return Err(ExtensionError::protocol(
                    NAME,
                    "RSV2 is only allowed on the first frame of a message",
                ));
            }
            if frame.opcode.is_control() {
                return Ok(frame);
            }
        } else {
            self.active = marked;
        }
        frame.rsv = frame.rsv & !RsvBits::RSV2;
        if self.active {
            self.apply(&mut frame);
        }
        Ok(frame)
    }
}

/// Server side: accepts an offer whose key is valid, echoing it.
pub struct XorServer;

impl ServerExtensionFactory for XorServer {
    fn handles(&self, name: &str) -> bool {
        name.eq_ignore_ascii_case(NAME)
    }
    fn accept(
        &self,
        offer: &ExtensionElement,
        _ctx: &ServerContext<'_>,
    ) -> Result<Option<Box<dyn Extension>>, NegotiationError> {
        Ok(parse_key(offer)
            .ok()
            .map(|key| Box::new(Xor { key }) as Box<dyn Extension>))
    }
}

/// Client side: offers `x-xor; key=K` and accepts only that key back.
pub struct XorClient {
    /// The key to offer.
    pub key: u8,
}

impl ClientExtensionFactory for XorClient {
    fn handles(&self, name: &str) -> bool {
        name.eq_ignore_ascii_case(NAME)
    }
    fn offers(&self) -> Vec<ExtensionElement> {
        vec![Xor { key: self.key }.response()]
    }
    fn accept(&self, response: &ExtensionElement) -> Result<Box<dyn Extension>, NegotiationError> {
        let key = parse_key(response).map_err(|e| NegotiationError::rejected(NAME, e))?;
        if key != self.key {
            return Err(NegotiationError::rejected(
                NAME,
                format!("server answered key {key}, offered {}", self.key),
            ));
        }
        Ok(Box::new(Xor { key }))
    }
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use ws_ext_core::{ClientNegotiator, ServerNegotiator};
    let client = ClientNegotiator::new().with(XorClient { key: 0x5a });
    let offer = client.offer_header().unwrap_or_default();
    println!("client offers:   {offer}");
    let server_stack = ServerNegotiator::new()
        .with(XorServer)
        .negotiate([offer.as_bytes()])?;
    let response = server_stack.response_header().unwrap_or_default();
    println!("server answers:  {response}");
    let client_stack = client.finish([response.as_bytes()])?;
    let (mut send, _) = client_stack.split();
    let (_, mut recv) = server_stack.split();
    let wire = send.encode(Frame::new(true, OpCode::Text, &b"Hello"[..]))?;
    println!(
        "on the wire:     {:02x?} (rsv {})",
        &wire.payload[..],
        wire.rsv
    );
    let back = recv.decode(wire, 1 << 20)?;
    println!(
        "server decodes:  {:?}",
        String::from_utf8_lossy(&back.payload)
    );
    Ok(())
}
