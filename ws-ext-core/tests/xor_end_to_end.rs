//! The worked `x-xor` example negotiated in both roles and run through the
//! stacks, plus the stack rules of RFC 6455 §9.1 / §5.2.

#[path = "../examples/xor.rs"]
#[allow(dead_code)]
mod xor;

use bytes::Bytes;
use ws_ext_core::{
    ClientNegotiator, ExtensionElement, ExtensionError, Frame, NegotiationError, OpCode, RsvBits,
    ServerNegotiator,
};
use xor::{XorClient, XorServer};

fn negotiated() -> (ws_ext_core::ExtensionStack, ws_ext_core::ExtensionStack) {
    let client = ClientNegotiator::new().with(XorClient { key: 7 });
    let offer = client.offer_header().expect("an offer");
    assert_eq!(offer, "x-xor; key=7");
    let server = ServerNegotiator::new()
        .with(XorServer)
        .negotiate([offer.as_bytes()])
        .expect("server negotiates");
    let response = server.response_header().expect("accepted");
    assert_eq!(response, "x-xor; key=7");
    let client = client
        .finish([response.as_bytes()])
        .expect("client accepts");
    (client, server)
}

#[test]
fn fragmented_message_round_trips_and_rsv2_marks_first_frame_only() {
    let (client, server) = negotiated();
    assert_eq!(client.rsv_bits(), RsvBits::RSV2);
    let (mut send, _) = client.split();
    let (_, mut recv) = server.split();
    let parts: [&[u8]; 3] = [b"Hel", b"lo, ", b"world"];
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let op = if i == 0 {
            OpCode::Text
        } else {
            OpCode::Continuation
        };
        let f = send
            .encode(Frame::new(i == 2, op, Bytes::copy_from_slice(p)))
            .unwrap();
        assert_eq!(f.rsv.contains(RsvBits::RSV2), i == 0);
        assert_ne!(&f.payload[..], *p, "payload is transformed");
        // A ping in the middle passes untouched.
        if i == 1 {
            let ping = send
                .encode(Frame::new(true, OpCode::Ping, &b"x"[..]))
                .unwrap();
            assert_eq!(&recv.decode(ping, 125).unwrap().payload[..], b"x");
        }
        let d = recv.decode(f, 1 << 20).unwrap();
        assert!(d.rsv.is_empty());
        out.extend_from_slice(&d.payload);
    }
    assert_eq!(out, b"Hello, world");
}

#[test]
fn unmarked_message_passes_through() {
    let (_, server) = negotiated();
    let (_, mut recv) = server.split();
    let d = recv
        .decode(Frame::new(true, OpCode::Binary, &b"plain"[..]), 100)
        .unwrap();
    assert_eq!(&d.payload[..], b"plain");
}

#[test]
fn rsv2_on_continuation_is_protocol_error() {
    let (_, server) = negotiated();
    let (_, mut recv) = server.split();
    let mut f = Frame::new(true, OpCode::Continuation, &b"x"[..]);
    f.rsv = RsvBits::RSV2;
    let e = recv.decode(f, 100).unwrap_err();
    assert_eq!(e.close_code(), 1002);
}

#[test]
fn unclaimed_rsv_bits_fail_with_1002() {
    let (_, server) = negotiated();
    let (_, mut recv) = server.split();
    for bit in [RsvBits::RSV1, RsvBits::RSV3] {
        let mut f = Frame::new(true, OpCode::Text, &b"x"[..]);
        f.rsv = bit;
        let e = recv.decode(f, 100).unwrap_err();
        assert!(matches!(e, ExtensionError::Protocol { .. }), "{e}");
        assert_eq!(e.close_code(), 1002);
    }
    // With nothing negotiated, every bit is refused.
    let (_, mut empty) = ws_ext_core::ExtensionStack::default().split();
    let mut f = Frame::new(true, OpCode::Binary, &b"x"[..]);
    f.rsv = RsvBits::RSV2;
    assert_eq!(empty.decode(f, 10).unwrap_err().close_code(), 1002);
}

#[test]
fn budget_is_enforced_by_the_stack() {
    let (_, mut recv) = ws_ext_core::ExtensionStack::default().split();
    let e = recv
        .decode(Frame::new(true, OpCode::Binary, vec![0u8; 11]), 10)
        .unwrap_err();
    assert_eq!(e, ExtensionError::MessageTooBig { limit: 10 });
    assert_eq!(e.close_code(), 1009);
}

#[test]
fn server_declines_bad_offers_and_takes_the_next() {
    let server = ServerNegotiator::new().with(XorServer);
    // First offer has a bad key, second an unknown parameter, third is fine.
    let s = server
        .negotiate([&b"x-xor; key=300, X-XOR; key=1; extra, x-xor; key=\"9\""[..]])
        .unwrap();
    assert_eq!(s.response_header().as_deref(), Some("x-xor; key=9"));
    // Unknown extensions are declined; no error.
    let s = server.negotiate([&b"foo, bar; baz"[..]]).unwrap();
    assert!(s.is_empty());
    // Malformed header: error (HTTP 400).
    assert!(matches!(
        server.negotiate([&b"x-xor; key=\"a b\""[..]]),
        Err(NegotiationError::Header(_))
    ));
    // The same extension is accepted once, however often it is offered.
    let s = server
        .negotiate([&b"x-xor; key=1"[..], &b"x-xor; key=2"[..]])
        .unwrap();
    assert_eq!(s.extensions().len(), 1);
    assert_eq!(s.response_header().as_deref(), Some("x-xor; key=1"));
}

#[test]
fn client_validates_the_response() {
    let client = ClientNegotiator::new().with(XorClient { key: 3 });
    let err = |h: &str| client.finish([h.as_bytes()]).unwrap_err();
    assert!(matches!(err("foo"), NegotiationError::Unsolicited { .. }));
    assert!(matches!(
        err("x-xor; key=3, x-xor; key=3"),
        NegotiationError::Duplicate { .. }
    ));
    assert!(matches!(
        err("x-xor; key=4"),
        NegotiationError::Rejected { .. }
    ));
    assert!(matches!(err("x-xor"), NegotiationError::Rejected { .. }));
    assert!(matches!(err("x-xor;"), NegotiationError::Header(_)));
    // No header: no extension, not an error.
    assert!(client.finish(std::iter::empty()).unwrap().is_empty());
}

/// A second toy extension that also claims RSV2, to exercise the RSV rules.
mod rsv2_rival {
    use super::*;
    use ws_ext_core::{
        ClientExtensionFactory, Decoder, Encoder, Extension, ServerContext, ServerExtensionFactory,
    };
    pub struct Rival;
    struct Pass;
    impl Encoder for Pass {
        fn encode(&mut self, f: Frame) -> Result<Frame, ExtensionError> {
            Ok(f)
        }
    }
    impl Decoder for Pass {
        fn decode(&mut self, f: Frame, _: usize) -> Result<Frame, ExtensionError> {
            Ok(f)
        }
    }
    impl Extension for Rival {
        fn name(&self) -> &str {
            "x-rival"
        }
        fn rsv_bits(&self) -> RsvBits {
            RsvBits::RSV2
        }
        fn response(&self) -> ExtensionElement {
            ExtensionElement::new("x-rival")
        }
        fn split(self: Box<Self>) -> (Box<dyn Encoder>, Box<dyn Decoder>) {
            (Box::new(Pass), Box::new(Pass))
        }
    }
    impl ServerExtensionFactory for Rival {
        fn handles(&self, n: &str) -> bool {
            n == "x-rival"
        }
        fn accept(
            &self,
            _: &ExtensionElement,
            _: &ServerContext<'_>,
        ) -> Result<Option<Box<dyn Extension>>, NegotiationError> {
            Ok(Some(Box::new(Rival)))
        }
    }
    impl ClientExtensionFactory for Rival {
        fn handles(&self, n: &str) -> bool {
            n == "x-rival"
        }
        fn offers(&self) -> Vec<ExtensionElement> {
            vec![ExtensionElement::new("x-rival")]
        }
        fn accept(&self, _: &ExtensionElement) -> Result<Box<dyn Extension>, NegotiationError> {
            Ok(Box::new(Rival))
        }
    }
}

#[test]
fn two_extensions_on_one_rsv_bit() {
    // Server: the later one is declined, not an error.
    let server = ServerNegotiator::new()
        .with(XorServer)
        .with(rsv2_rival::Rival);
    let s = server.negotiate([&b"x-rival, x-xor; key=1"[..]]).unwrap();
    assert_eq!(s.names(), vec!["x-rival"]);
    // Client: a response accepting both fails.
    let client = ClientNegotiator::new()
        .with(XorClient { key: 1 })
        .with(rsv2_rival::Rival);
    assert_eq!(
        client.offer_header().as_deref(),
        Some("x-xor; key=1, x-rival")
    );
    let e = client.finish([&b"x-xor; key=1, x-rival"[..]]).unwrap_err();
    assert!(matches!(e, NegotiationError::RsvConflict { .. }), "{e}");
}
