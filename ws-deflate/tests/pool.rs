//! Lazily created state, and state returned to the pool between messages
//! where no context is kept, so an idle connection holds none.

mod common;

use common::*;
use ws_deflate::{DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{ClientNegotiator, Decoder, Encoder, Frame, OpCode, ServerNegotiator};

#[test]
fn state_is_created_lazily() {
    let ((enc, dec), _) = pair(&DeflateConfig::default(), &DeflateConfig::default());
    assert!(!enc.holds_state() && !dec.holds_state());
}

#[test]
fn kept_context_holds_state_no_context_returns_it() {
    let kept = DeflateConfig::default();
    let ((mut enc, _), (_, mut dec)) = pair(&kept, &kept);
    let msg = text(1, 2000, 8);
    let f = enc
        .encode(Frame::new(true, OpCode::Text, msg.clone()))
        .unwrap();
    dec.decode(f, 1 << 20).unwrap();
    assert!(
        enc.holds_state() && dec.holds_state(),
        "context takeover keeps state"
    );

    let nct = DeflateConfig::default().with_client_no_context_takeover(true);
    // The server's policy binds the client (the offer's parameter alone is
    // only a hint and never lets the server drop its inflater).
    let ((mut enc, _), (_, mut dec)) = pair(&nct, &nct);
    // Mid-message the state is held; after the message it is not.
    let a = enc
        .encode(Frame::new(false, OpCode::Text, msg.clone()))
        .unwrap();
    assert!(enc.holds_state());
    dec.decode(a, 1 << 20).unwrap();
    assert!(dec.holds_state());
    let b = enc
        .encode(Frame::new(true, OpCode::Continuation, msg.clone()))
        .unwrap();
    assert!(!enc.holds_state(), "compressor back in the pool");
    dec.decode(b, 1 << 20).unwrap();
    assert!(!dec.holds_state(), "decompressor back in the pool");
}

/// No context takeover either way (every state goes back to the pool after
/// each message), with a pool of `capacity`.
fn no_context_both_ways(capacity: usize) -> DeflateConfig {
    DeflateConfig::default()
        .with_server_no_context_takeover(true)
        .with_client_no_context_takeover(true)
        .with_pool_capacity(capacity)
}

#[test]
fn pool_is_shared_and_bounded() {
    let cfg = no_context_both_ways(3);
    let factory = PerMessageDeflateServer::new(cfg.clone());
    let pool = factory.pool().clone();
    let server = ServerNegotiator::new().with(factory);
    let client = ClientNegotiator::new().with(PerMessageDeflateClient::new(cfg));
    let offer = client.offer_header().unwrap();
    let mut conns = Vec::new();
    for i in 0..10 {
        let s = server.negotiate([offer.as_bytes()]).unwrap();
        let c = client
            .finish([s.response_header().unwrap().as_bytes()])
            .unwrap();
        let (mut ctx, _) = c.split();
        let (mut stx, mut srx) = s.split();
        let m = text(i, 3000, 8);
        let f = ctx
            .encode(Frame::new(true, OpCode::Binary, m.clone()))
            .unwrap();
        assert_eq!(srx.decode(f, 1 << 20).unwrap().payload, m);
        let out = stx.encode(Frame::new(true, OpCode::Binary, m)).unwrap();
        assert!(out.rsv.bits() != 0);
        conns.push((stx, srx));
        // Sequential connections reuse one state of each kind.
        assert_eq!(pool.idle(), (1, 1), "after connection {i}");
    }
    // Ten connections mid-message at once need ten states; the pool keeps 3.
    let mut opened = Vec::new();
    for (stx, _) in conns.iter_mut() {
        opened.push(
            stx.encode(Frame::new(false, OpCode::Binary, vec![1u8; 100]))
                .unwrap(),
        );
    }
    assert_eq!(pool.idle().0, 0);
    for (stx, _) in conns.iter_mut() {
        stx.encode(Frame::new(true, OpCode::Continuation, vec![2u8; 100]))
            .unwrap();
    }
    assert_eq!(pool.idle().0, 3, "bounded by pool_capacity");
}

/// Factories built separately (as `wsx::accept` builds one per connection)
/// share the process-wide pool of their capacity: state a connection gives
/// back is there for the next connection of another factory, not kept by
/// its own factory for nobody.
#[test]
fn separately_built_factories_share_the_process_pool() {
    // A capacity no other test here uses: the pool is this test's alone.
    let cfg = no_context_both_ways(5);
    let a = PerMessageDeflateServer::new(cfg.clone());
    let b = PerMessageDeflateServer::new(cfg.clone());
    let pool = a.pool().clone();
    let client = ClientNegotiator::new().with(PerMessageDeflateClient::new(cfg.clone()));
    let offer = client.offer_header().unwrap();
    let before = pool.idle();
    // A connection accepted by `a` sends a message: its compressor goes to
    // the pool...
    let s = ServerNegotiator::new()
        .with(a)
        .negotiate([offer.as_bytes()])
        .unwrap();
    let (mut stx, _) = s.split();
    stx.encode(Frame::new(true, OpCode::Text, text(1, 2000, 8)))
        .unwrap();
    assert_eq!(pool.idle().0, before.0 + 1);
    // ...which is `b`'s pool too: its connection takes that compressor.
    assert_eq!(b.pool().idle(), pool.idle());
    let s = ServerNegotiator::new()
        .with(b)
        .negotiate([offer.as_bytes()])
        .unwrap();
    let (mut stx, _) = s.split();
    stx.encode(Frame::new(false, OpCode::Text, text(2, 2000, 8)))
        .unwrap();
    assert_eq!(pool.idle().0, before.0, "taken from the shared pool");
    // A factory given its own pool keeps to it.
    let own = ws_deflate::DeflatePool::new(5);
    let c = PerMessageDeflateServer::new(cfg).with_pool(own.clone());
    assert_eq!(c.pool().idle(), (0, 0));
}
