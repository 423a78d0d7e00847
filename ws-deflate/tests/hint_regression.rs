//! Regression: a client that offers `client_no_context_takeover` (a hint)
//! but keeps its context, as Autobahn 0.10.9 does, must still be decoded
//! when the response does not bind it. The server used to reset its
//! inflater on the hint and failed the second message with 1007.

use ws_deflate::{DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{ClientNegotiator, Frame, OpCode, ServerNegotiator};

#[test]
fn hint_in_offer_does_not_reset_the_server_inflater() {
    let server =
        ServerNegotiator::new().with(PerMessageDeflateServer::new(DeflateConfig::default()));
    let offer = "permessage-deflate; client_no_context_takeover; client_max_window_bits";
    let server_stack = server
        .negotiate([offer.as_bytes()])
        .expect("server accepts");
    let response = server_stack.response_header().expect("accepted");
    assert!(
        !response.contains("client_no_context_takeover"),
        "default policy does not bind the client: {response}"
    );
    // A client that keeps its context (it did not offer the hint itself).
    let client =
        ClientNegotiator::new().with(PerMessageDeflateClient::new(DeflateConfig::default()));
    let client_stack = client
        .finish([response.as_bytes()])
        .expect("client accepts");
    let (mut send, _) = client_stack.split();
    let (_, mut recv) = server_stack.split();
    let msg = br#"{"user":"alice","text":"the same message twice, so the second one refers back"}"#;
    let mut sizes = Vec::new();
    for _ in 0..3 {
        let wire = send
            .encode(Frame::new(true, OpCode::Text, &msg[..]))
            .expect("encode");
        sizes.push(wire.payload.len());
        let back = recv
            .decode(wire, 1 << 20)
            .expect("server decodes with kept context");
        assert_eq!(&back.payload[..], &msg[..]);
    }
    assert!(
        sizes[1] < sizes[0] / 2,
        "the client really used its context: {sizes:?}"
    );
}
