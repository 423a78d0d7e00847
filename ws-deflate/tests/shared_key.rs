//! `Encoder::shared_key` / `SendStack::encode_detached`: which negotiated
//! permessage-deflate send halves may share their encoded messages; and
//! `Encoder::cohort_key` / `fresh` / `reset`: which may be served by one
//! context-takeover compressor (a broadcast cohort).

use ws_deflate::{DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{
    ClientNegotiator, EncodingKey, Frame, OpCode, RecvStack, SendStack, ServerNegotiator,
};

/// Negotiate one pair: (server send, client receive, client send).
fn pair(server: DeflateConfig, client: DeflateConfig) -> (SendStack, RecvStack, SendStack) {
    let c = ClientNegotiator::new().with(PerMessageDeflateClient::new(client));
    let s = ServerNegotiator::new().with(PerMessageDeflateServer::new(server));
    let offer = c.offer_header().unwrap();
    let s_stack = s.negotiate([offer.as_bytes()]).unwrap();
    let response = s_stack.response_header().unwrap();
    let c_stack = c.finish([response.as_bytes()]).unwrap();
    let (s_tx, _) = s_stack.split();
    let (c_tx, c_rx) = c_stack.split();
    (s_tx, c_rx, c_tx)
}

fn chat(i: usize) -> Frame {
    let text = format!(
        "{{\"room\":\"lobby\",\"seq\":{i},\"user\":\"ada\",\"text\":\"hello hello hello everyone\"}}"
    );
    Frame::new(true, OpCode::Text, text)
}

#[test]
fn broadcast_preset_is_shared_even_when_the_client_did_not_offer_it() {
    // A browser-like client: no server_no_context_takeover in its offer.
    let (s_tx, _, _) = pair(DeflateConfig::broadcast(), DeflateConfig::default());
    let key = s_tx.encoding_key().expect("the server resets per message");
    assert!(key.as_str().starts_with("permessage-deflate;nct;"), "{key}");
    assert!(key.as_str().contains(";l=6;"), "{key}");
}

#[test]
fn equal_settings_give_equal_keys_and_equal_bytes() {
    let (mut a, mut a_rx, _) = pair(DeflateConfig::broadcast(), DeflateConfig::default());
    let (mut b, _, _) = pair(DeflateConfig::broadcast(), DeflateConfig::default());
    assert_eq!(a.encoding_key(), b.encoding_key());
    for i in 0..20 {
        let x = a.encode_detached(chat(i)).unwrap();
        let y = b.encode_detached(chat(i)).unwrap();
        assert_eq!(x, y, "message {i}");
        // Detached encoding leaves the stack as it was: once more, the same.
        assert_eq!(a.encode_detached(chat(i)).unwrap(), x);
        // And a client with context takeover on its side reads it.
        let back = a_rx.decode(x, 1 << 20).unwrap();
        assert_eq!(back.payload, chat(i).payload);
    }
}

#[test]
fn settings_that_change_the_bytes_change_the_key() {
    let base = DeflateConfig::broadcast();
    let key = |cfg: DeflateConfig| pair(cfg, DeflateConfig::default()).0.encoding_key();
    let k = key(base.clone()).unwrap();
    for other in [
        base.clone().with_level(1),
        base.clone().with_server_max_window_bits(Some(12)),
        base.clone().with_mem_level(4),
        base.clone().with_compress_threshold(64),
        base.clone().with_skip_if_not_smaller(false),
        base.clone()
            .with_compressor(ws_deflate::backend::Compressor::Zlib),
    ] {
        let o = key(other.clone()).unwrap();
        assert_ne!(o, k, "{other:?}");
    }
    // The client's own window does not change what the server sends.
    assert_eq!(
        key(base.clone().with_client_max_window_bits(Some(10))),
        Some(k)
    );
}

#[test]
fn context_takeover_cannot_be_shared() {
    let (mut s_tx, _, c_tx) = pair(DeflateConfig::default(), DeflateConfig::default());
    assert_eq!(s_tx.encoding_key(), None);
    assert_eq!(c_tx.encoding_key(), None);
    let err = s_tx.encode_detached(chat(0)).unwrap_err();
    assert!(err.to_string().contains("cannot be shared"), "{err}");
    // Untouched: the ordinary encode still works.
    assert!(s_tx.encode(chat(0)).is_ok());
}

#[test]
fn client_without_context_takeover_has_a_key_too() {
    let (_, _, c_tx) = pair(
        DeflateConfig::default(),
        DeflateConfig::default().with_client_no_context_takeover(true),
    );
    assert!(c_tx.encoding_key().is_some());
}

#[test]
fn empty_stack_is_plain_and_only_whole_messages_are_detached() {
    let mut plain = SendStack::default();
    assert_eq!(plain.encoding_key(), Some(EncodingKey::plain()));
    assert_eq!(plain.encode_detached(chat(1)).unwrap(), chat(1));
    let partial = Frame::new(false, OpCode::Text, "part");
    assert!(plain.encode_detached(partial).is_err());
    let ping = Frame::new(true, OpCode::Ping, "p");
    assert!(plain.encode_detached(ping).is_err());
}

#[test]
fn context_takeover_servers_have_a_cohort_key_and_no_shared_key() {
    let (ctx, _, c_tx) = pair(DeflateConfig::default(), DeflateConfig::default());
    let key = ctx.cohort_key().expect("context takeover: cohorts");
    assert!(key.as_str().starts_with("permessage-deflate;ctx;"), "{key}");
    let (ctx2, _, _) = pair(DeflateConfig::default(), DeflateConfig::default());
    assert_eq!(ctx2.cohort_key(), Some(key.clone()));
    // Per-message compressors share whole frames instead.
    let (nct, _, _) = pair(DeflateConfig::broadcast(), DeflateConfig::default());
    assert_eq!(nct.cohort_key(), None);
    // Another window is another key.
    let (w12, _, _) = pair(
        DeflateConfig::default().with_server_max_window_bits(Some(12)),
        DeflateConfig::default(),
    );
    assert_ne!(w12.cohort_key(), Some(key));
    assert!(SendStack::default().cohort_key().is_none());
    // (A client's key exists too: the integration layer keeps clients out.)
    assert!(c_tx.cohort_key().is_some());
}

/// One fresh stack's frames, written in order, are valid for every peer
/// with the same key whatever it received before: here a peer whose own
/// connection already carried other compressed messages.
#[test]
fn a_fresh_stacks_frames_decode_at_any_peer_that_gets_all_of_them() {
    let (mut own, mut rx, _) = pair(DeflateConfig::default(), DeflateConfig::default());
    // The peer's window fills with this connection's own messages.
    for i in 100..110 {
        let f = own.encode(chat(i)).unwrap();
        assert_eq!(rx.decode(f, 1 << 20).unwrap().payload, chat(i).payload);
    }
    let mut cohort = own.fresh().expect("a fresh stack");
    let mut sizes = Vec::new();
    for i in 0..10 {
        let f = cohort.encode(chat(i)).unwrap();
        sizes.push(f.payload.len());
        assert_eq!(
            rx.decode(f, 1 << 20).unwrap().payload,
            chat(i).payload,
            "{i}"
        );
    }
    // It keeps its own context: later messages refer to earlier ones.
    assert!(sizes[9] * 2 < sizes[0], "{sizes:?}");
    // The connection's own stack, reset, is valid again after them.
    own.reset();
    let f = own.encode(chat(200)).unwrap();
    assert_eq!(rx.decode(f, 1 << 20).unwrap().payload, chat(200).payload);
}

#[test]
fn reset_forgets_the_history() {
    let (mut a, _, _) = pair(DeflateConfig::default(), DeflateConfig::default());
    let first = a.encode(chat(1)).unwrap();
    let again = a.encode(chat(1)).unwrap();
    assert!(
        again.payload.len() < first.payload.len() / 2,
        "context kept"
    );
    a.reset();
    assert_eq!(a.encode(chat(1)).unwrap(), first, "as from a fresh stack");
}
