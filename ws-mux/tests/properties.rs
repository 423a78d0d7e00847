//! quickcheck properties: wire round trips, robustness against arbitrary
//! bytes, and delivery under random interleavings and quotas.

mod common;

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use common::*;
use quickcheck::{Arbitrary, Gen, QuickCheck};
use ws_ext_core::{
    ClientExtensionFactory, ExtensionStack, Frame, OpCode, RsvBits, ServerNegotiator,
};
use ws_mux::wire::{self, MAX_CHANNEL_ID, MAX_NUMBER};
use ws_mux::{
    ChannelRequest, ControlBlock, DropReason, HandshakeEncoding, Headers, MuxAgreement, MuxConfig,
    MuxSession, MuxUnit,
};

fn number(g: &mut Gen) -> u64 {
    match u8::arbitrary(g) % 4 {
        0 => u64::from(u8::arbitrary(g) % 126),
        1 => u64::from(u16::arbitrary(g)),
        2 => u64::arbitrary(g) & MAX_NUMBER,
        _ => *g
            .choose(&[0, 125, 126, 0xffff, 0x1_0000, MAX_NUMBER])
            .unwrap(),
    }
}

fn channel(g: &mut Gen) -> u32 {
    match u8::arbitrary(g) % 3 {
        0 => u32::from(u8::arbitrary(g) % 128),
        1 => u32::arbitrary(g) % (1 << 14),
        _ => u32::arbitrary(g) & MAX_CHANNEL_ID,
    }
}

#[derive(Debug, Clone)]
struct Block(ControlBlock);

impl Arbitrary for Block {
    fn arbitrary(g: &mut Gen) -> Self {
        let enc = if bool::arbitrary(g) {
            HandshakeEncoding::Identity
        } else {
            HandshakeEncoding::Delta
        };
        let bytes = Bytes::from(Vec::<u8>::arbitrary(g));
        Block(match u8::arbitrary(g) % 5 {
            0 => ControlBlock::AddChannelRequest {
                channel: channel(g),
                encoding: enc,
                handshake: bytes,
            },
            1 => ControlBlock::AddChannelResponse {
                channel: channel(g),
                rejected: bool::arbitrary(g),
                encoding: enc,
                handshake: bytes,
            },
            2 => ControlBlock::FlowControl {
                channel: channel(g),
                quota: number(g),
            },
            3 => ControlBlock::DropChannel {
                channel: channel(g),
                reason: bool::arbitrary(g).then(|| DropReason {
                    code: u16::arbitrary(g),
                    message: String::arbitrary(g),
                }),
            },
            _ => ControlBlock::NewChannelSlot {
                slots: number(g),
                quota: number(g),
                fallback: bool::arbitrary(g),
            },
        })
    }
}

#[test]
fn control_blocks_round_trip() {
    fn prop(blocks: Vec<Block>) -> bool {
        let blocks: Vec<ControlBlock> = blocks.into_iter().map(|b| b.0).collect();
        let payload = ws_mux::unit::encode_control(&blocks).unwrap();
        MuxUnit::decode(payload) == Ok(MuxUnit::Control(blocks))
    }
    QuickCheck::new()
        .tests(500)
        .quickcheck(prop as fn(Vec<Block>) -> bool);
}

#[test]
fn encapsulated_frames_round_trip() {
    fn prop(ch: u32, fin: bool, rsv: u8, op: u8, payload: Vec<u8>) -> bool {
        let ch = (ch & MAX_CHANNEL_ID).max(1);
        let frame = Frame {
            fin,
            rsv: RsvBits::from_header_byte(rsv),
            opcode: OpCode::from_u8(op),
            payload: Bytes::from(payload),
        };
        let p = ws_mux::unit::encode_frame(ch, &frame).unwrap();
        p.len() == wire::channel_id_len(ch) + 1 + frame.payload.len()
            && MuxUnit::decode(p) == Ok(MuxUnit::Frame { channel: ch, frame })
    }
    QuickCheck::new()
        .tests(500)
        .quickcheck(prop as fn(u32, bool, u8, u8, Vec<u8>) -> bool);
}

#[test]
fn numbers_and_ids_round_trip_minimally() {
    fn prop(n: u64, id: u32) -> bool {
        let n = n & MAX_NUMBER;
        let id = id & MAX_CHANNEL_ID;
        let mut b = BytesMut::new();
        wire::encode_number(n, &mut b).unwrap();
        let want_len = if n <= 125 {
            1
        } else if n <= 0xffff {
            3
        } else {
            9
        };
        let mut c = BytesMut::new();
        wire::encode_channel_id(id, &mut c).unwrap();
        b.len() == want_len
            && wire::decode_number(&b) == Ok((n, want_len))
            && wire::decode_channel_id(&c) == Ok((id, c.len()))
            && c.len() == wire::channel_id_len(id)
    }
    QuickCheck::new()
        .tests(1000)
        .quickcheck(prop as fn(u64, u32) -> bool);
}

#[test]
fn arbitrary_bytes_never_panic_and_map_to_physical_codes() {
    fn prop(bytes: Vec<u8>) -> bool {
        match MuxUnit::decode(Bytes::from(bytes)) {
            Ok(_) => true,
            Err(e) => ws_mux::drop_code::is_physical(e.code),
        }
    }
    QuickCheck::new()
        .tests(2000)
        .quickcheck(prop as fn(Vec<u8>) -> bool);
}

fn fresh(role_server: bool) -> MuxSession {
    let agreement = MuxAgreement {
        token: "mux".into(),
        quota: Some(100),
    };
    let h = Headers::new().with("Host", "h");
    if role_server {
        MuxSession::server(
            MuxConfig::default(),
            ServerNegotiator::new().with(Chain),
            &agreement,
            &h,
            ExtensionStack::default(),
        )
    } else {
        let ext: Vec<Arc<dyn ClientExtensionFactory>> = vec![Arc::new(Chain)];
        MuxSession::client(
            MuxConfig::default(),
            ext,
            &agreement,
            &h,
            &h,
            ExtensionStack::default(),
        )
    }
}

/// Arbitrary messages into either role: no panic; an error is either a
/// physical failure (then exactly one DropChannel(0) comes out) or none.
#[test]
fn sessions_survive_arbitrary_input() {
    fn prop(server: bool, msgs: Vec<Vec<u8>>) -> bool {
        let mut s = fresh(server);
        if !server {
            let _ = s.receive_physical(Bytes::from_static(b"\x00\x80\x05\x7e\x01\x00"));
            let _ = s.open_channel(ChannelRequest::new("/"));
        }
        for m in msgs {
            // Bias towards the control channel and channels 1-3.
            let mut m = m;
            if let Some(b) = m.first_mut() {
                *b %= 4;
            }
            match s.receive_physical(Bytes::from(m)) {
                Ok(()) => {}
                Err(e) => {
                    if !e.fails_physical() {
                        return false;
                    }
                    let mut n = 0;
                    while let Some(p) = s.poll_transmit() {
                        n += 1;
                        if p.first() != Some(&0) {
                            return false;
                        }
                    }
                    return n <= 1 && s.is_failed();
                }
            }
            while s.poll_event().is_some() {}
            while s.poll_transmit().is_some() {}
        }
        true
    }
    QuickCheck::new()
        .tests(2000)
        .quickcheck(prop as fn(bool, Vec<Vec<u8>>) -> bool);
}

/// Random channels, random quotas and frame limits, random fragmentation by
/// the application, random interleaving of sends and of transmissions,
/// some channels with the stateful `x-chain` extension and some plain:
/// every message arrives complete and in order on its channel, both ways.
#[test]
fn random_interleavings_arrive_complete_and_in_order() {
    fn prop(seed: u64) -> bool {
        let mut rng = Rng(seed | 1);
        let cfg = |rng: &mut Rng| {
            MuxConfig::default()
                .with_receive_window(2 + rng.below(300))
                .with_slot_quota(2 + rng.below(300))
                .with_max_frame_payload(1 + rng.below(120) as usize)
                .with_max_send_buffer(usize::MAX)
        };
        let (ccfg, scfg) = (cfg(&mut rng), cfg(&mut rng));
        let client_ext: Vec<Arc<dyn ClientExtensionFactory>> = vec![Arc::new(Chain)];
        let mut p = pair(
            ccfg,
            scfg,
            client_ext,
            ServerNegotiator::new().with(Chain),
            None,
        );
        p.run();
        let n = 1 + rng.below(5) as usize;
        let mut ids = vec![1];
        for i in 0..n {
            let plain = rng.below(2) == 0;
            let id = p
                .client
                .open_channel(ChannelRequest {
                    plain,
                    ..ChannelRequest::new(format!("/{i}"))
                })
                .unwrap();
            ids.push(id);
        }
        p.run();
        // Per channel and direction: the messages still to send (as
        // application frames) and the messages sent so far.
        type Plan = Vec<Vec<(bool, Vec<u8>)>>; // per message: frames (is_first, bytes)
        let mut plans: Vec<[Plan; 2]> = Vec::new();
        let mut sent: Vec<[Vec<Vec<u8>>; 2]> = Vec::new();
        for _ in &ids {
            let mut pair_plans: [Plan; 2] = [Vec::new(), Vec::new()];
            let mut pair_sent: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
            for dir in 0..2 {
                for _ in 0..rng.below(4) {
                    let len = rng.below(700) as usize;
                    let body = rng.bytes(len);
                    let parts = 1 + rng.below(4) as usize;
                    let mut frames = Vec::new();
                    for k in 0..parts {
                        frames.push((
                            k == 0,
                            body[len * k / parts..len * (k + 1) / parts].to_vec(),
                        ));
                    }
                    pair_plans[dir].push(frames);
                    pair_sent[dir].push(body);
                }
                pair_plans[dir].reverse();
            }
            plans.push(pair_plans);
            sent.push(pair_sent);
        }
        // Each side keeps a cursor into its current message's frames.
        let mut cursor: Vec<[usize; 2]> = vec![[0, 0]; ids.len()];
        let mut guard = 0;
        loop {
            guard += 1;
            if guard > 100_000 {
                return false;
            }
            let pending: Vec<(usize, usize)> = (0..ids.len())
                .flat_map(|c| (0..2).map(move |d| (c, d)))
                .filter(|(c, d)| !plans[*c][*d].is_empty())
                .collect();
            if pending.is_empty() {
                break;
            }
            let (c, d) = pending[rng.below(pending.len() as u64) as usize];
            let msg = plans[c][d].last().unwrap().clone();
            let k = cursor[c][d];
            let (first, bytes) = &msg[k];
            let fin = k + 1 == msg.len();
            let op = if *first {
                OpCode::Binary
            } else {
                OpCode::Continuation
            };
            let s = if d == 0 { &mut p.client } else { &mut p.server };
            s.send_frame(ids[c], Frame::new(fin, op, bytes.clone()))
                .unwrap();
            if rng.below(5) == 0 {
                let n = rng.below(126) as usize;
                s.send_message(ids[c], OpCode::Ping, rng.bytes(n)).unwrap();
            }
            if fin {
                plans[c][d].pop();
                cursor[c][d] = 0;
            } else {
                cursor[c][d] += 1;
            }
            p.step(rng.below(4) as usize);
        }
        // Both ends close every channel while data may still wait for
        // quota: Close must not overtake it.
        for id in &ids {
            p.client.close_channel(*id, 1000, "c").unwrap();
            p.server.close_channel(*id, 1001, "s").unwrap();
        }
        p.run();
        for id in &ids {
            for evs in [&p.cev, &p.sev] {
                if !evs.contains(&ws_mux::Event::ChannelClosed { channel: *id }) {
                    eprintln!("seed {seed}: channel {id} not closed");
                    return false;
                }
            }
        }
        if p.client.channels().len() + p.server.channels().len() != 0 {
            return false;
        }
        for (k, id) in ids.iter().enumerate() {
            let (to_server, _) = messages(&p.server_frames(*id));
            let (to_client, _) = messages(&p.client_frames(*id));
            let a: Vec<Vec<u8>> = to_server.into_iter().map(|(_, b)| b).collect();
            let b: Vec<Vec<u8>> = to_client.into_iter().map(|(_, b)| b).collect();
            if a != sent[k][0] || b != sent[k][1] {
                eprintln!("seed {seed}: channel {id} differs");
                return false;
            }
        }
        // Nothing was dropped.
        !p.cev
            .iter()
            .chain(p.sev.iter())
            .any(|e| matches!(e, ws_mux::Event::ChannelDropped { .. }))
    }
    QuickCheck::new()
        .tests(150)
        .quickcheck(prop as fn(u64) -> bool);
}
