//! Frame codec vectors through the sans-I/O receiver and sender.

#![allow(clippy::field_reassign_with_default)]

use bytes::{Bytes, BytesMut};
use tungstenite::Message;
use ws_deflate::{DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{
    ClientNegotiator, Frame, OpCode, RecvStack, RsvBits, SendStack, ServerNegotiator,
};
use wsx::proto::outbuf::OutBuf;
use wsx::proto::recv::{Read, Receiver};
use wsx::proto::send::{encode_raw, Sender};
use wsx::proto::Role;
use wsx::ProtocolError;

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn server() -> Receiver {
    Receiver::new(Role::Server, RecvStack::default(), 1 << 20, 1 << 20)
}
fn client() -> Receiver {
    Receiver::new(Role::Client, RecvStack::default(), 1 << 20, 1 << 20)
}

fn masked(fin: bool, op: OpCode, payload: &[u8]) -> BytesMut {
    encode_raw(
        &Frame::new(fin, op, Bytes::copy_from_slice(payload)),
        Some(MASK),
    )
}

fn read_all(r: &mut Receiver, bytes: &[u8]) -> Result<Vec<Message>, ProtocolError> {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    loop {
        match r.read(&mut buf)? {
            Read::Message(m) => out.push(m),
            Read::NeedMore(_) => return Ok(out),
        }
    }
}

fn fails(r: &mut Receiver, bytes: &[u8]) -> (ProtocolError, u16) {
    let e = read_all(r, bytes).unwrap_err();
    let code = u16::from(e.close_code());
    (e, code)
}

#[test]
fn rfc6455_5_7_masked_and_unmasked_hello() {
    let msgs = read_all(
        &mut server(),
        &[
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ],
    )
    .unwrap();
    assert_eq!(msgs, vec![Message::text("Hello")]);
    let msgs = read_all(&mut client(), &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]).unwrap();
    assert_eq!(msgs, vec![Message::text("Hello")]);
    // Fragmented "Hel" + "lo".
    let msgs = read_all(
        &mut client(),
        &[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f],
    )
    .unwrap();
    assert_eq!(msgs, vec![Message::text("Hello")]);
    // Unmasked ping, then masked pong answer as a server would read it.
    let msgs = read_all(&mut client(), &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]).unwrap();
    assert_eq!(msgs, vec![Message::Ping(Bytes::from_static(b"Hello"))]);
    let msgs = read_all(
        &mut server(),
        &[
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ],
    )
    .unwrap();
    assert_eq!(msgs, vec![Message::Pong(Bytes::from_static(b"Hello"))]);
    // 256 bytes and 64 KiB binary in single unmasked frames.
    for len in [256usize, 65536] {
        let mut raw = encode_raw(&Frame::new(true, OpCode::Binary, vec![7u8; len]), None).to_vec();
        assert_eq!(raw[1], if len == 256 { 126 } else { 127 });
        let msgs = read_all(&mut client(), &raw).unwrap();
        assert_eq!(msgs, vec![Message::binary(vec![7u8; len])]);
        raw.truncate(raw.len() - 1);
        assert!(
            read_all(&mut client(), &raw).unwrap().is_empty(),
            "incomplete frame yields nothing"
        );
    }
}

#[test]
fn byte_at_a_time_delivery() {
    let mut wire = masked(false, OpCode::Text, "κό".as_bytes()).to_vec();
    wire.extend_from_slice(&masked(true, OpCode::Ping, b"p"));
    wire.extend_from_slice(&masked(true, OpCode::Continuation, "σμε".as_bytes()));
    let mut r = server();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for b in wire {
        buf.extend_from_slice(&[b]);
        while let Read::Message(m) = r.read(&mut buf).unwrap() {
            got.push(m);
        }
    }
    assert_eq!(
        got,
        vec![
            Message::Ping(Bytes::from_static(b"p")),
            Message::text("κόσμε")
        ]
    );
    assert!(buf.is_empty());
}

#[test]
fn framing_faults_are_1002() {
    let cases: Vec<(Receiver, Vec<u8>, ProtocolError)> = vec![
        (
            server(),
            vec![0x81, 0x01, b'a'],
            ProtocolError::UnmaskedFrame,
        ),
        (
            client(),
            masked(true, OpCode::Text, b"a").to_vec(),
            ProtocolError::MaskedFrame,
        ),
        (
            server(),
            masked(true, OpCode::Reserved(3), b"").to_vec(),
            ProtocolError::ReservedOpcode(3),
        ),
        (
            server(),
            masked(true, OpCode::Reserved(0xB), b"").to_vec(),
            ProtocolError::ReservedOpcode(0xB),
        ),
        (
            server(),
            masked(true, OpCode::Continuation, b"a").to_vec(),
            ProtocolError::UnexpectedContinuation,
        ),
        (
            server(),
            [
                masked(false, OpCode::Text, b"a"),
                masked(true, OpCode::Text, b"b"),
            ]
            .concat(),
            ProtocolError::ExpectedContinuation,
        ),
        (
            server(),
            masked(false, OpCode::Ping, b"").to_vec(),
            ProtocolError::FragmentedControl,
        ),
        (
            server(),
            masked(true, OpCode::Ping, &[0; 126]).to_vec(),
            ProtocolError::ControlTooLong(126),
        ),
        (
            client(),
            vec![0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1],
            ProtocolError::LengthTooLarge,
        ),
        (
            server(),
            masked(true, OpCode::Close, &[3]).to_vec(),
            ProtocolError::CloseTooShort,
        ),
    ];
    for (mut r, wire, want) in cases {
        let (e, code) = fails(&mut r, &wire);
        assert_eq!(e, want);
        assert_eq!(code, 1002, "{e}");
    }
    // RSV bits with no extension negotiated.
    let mut f = Frame::new(true, OpCode::Text, Bytes::from_static(b"a"));
    f.rsv = RsvBits::RSV1;
    let (e, code) = fails(&mut server(), &encode_raw(&f, Some(MASK)));
    assert!(matches!(e, ProtocolError::Extension(_)), "{e:?}");
    assert_eq!(code, 1002);
}

#[test]
fn close_codes_validated() {
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535,
    ] {
        let (e, c) = fails(
            &mut server(),
            &masked(true, OpCode::Close, &code.to_be_bytes()),
        );
        assert_eq!((e, c), (ProtocolError::InvalidCloseCode(code), 1002));
    }
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
    ] {
        let msgs = read_all(
            &mut server(),
            &masked(true, OpCode::Close, &code.to_be_bytes()),
        )
        .unwrap();
        match &msgs[..] {
            [Message::Close(Some(f))] => assert_eq!(u16::from(f.code), code),
            other => panic!("{other:?}"),
        }
    }
    let mut bad_reason = 1000u16.to_be_bytes().to_vec();
    bad_reason.extend_from_slice(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited");
    assert_eq!(
        fails(&mut server(), &masked(true, OpCode::Close, &bad_reason)).1,
        1007
    );
    let msgs = read_all(&mut server(), &masked(true, OpCode::Close, b"")).unwrap();
    assert_eq!(msgs, vec![Message::Close(None)]);
}

/// 1012 (service restart), 1013 (try again later) and 1014 (bad gateway)
/// from the IANA registry: sent and received in both roles, as Node `ws`,
/// Python `websockets` and browsers do.
#[test]
fn registered_codes_1012_to_1014_in_both_roles() {
    for code in [1012u16, 1013, 1014] {
        for (sender_role, mut receiver) in [(Role::Server, client()), (Role::Client, server())] {
            let mut tx = Sender::new(sender_role, SendStack::default());
            let mut out = OutBuf::new();
            let close = Message::Close(Some(wsx::CloseFrame {
                code: wsx::CloseCode::from(code),
                reason: "restarting".into(),
            }));
            tx.encode_message(close, &mut out).unwrap();
            let mut wire = Vec::new();
            while !out.is_empty() {
                let n = out.first_slice().len();
                wire.extend_from_slice(out.first_slice());
                out.advance(n);
            }
            match &read_all(&mut receiver, &wire).unwrap()[..] {
                [Message::Close(Some(f))] => {
                    assert_eq!(u16::from(f.code), code);
                    assert_eq!(f.reason.as_str(), "restarting");
                }
                other => panic!("{code} from {sender_role:?}: {other:?}"),
            }
        }
    }
}

#[test]
fn invalid_utf8_fails_fast_and_is_1007() {
    // The first fragment is already invalid: fail before the message ends.
    let mut r = server();
    let (e, code) = fails(
        &mut r,
        &masked(
            false,
            OpCode::Text,
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80",
        ),
    );
    assert_eq!((e, code), (ProtocolError::InvalidUtf8, 1007));
    // Truncated sequence at the end of a message.
    let (_, code) = fails(&mut server(), &masked(true, OpCode::Text, b"ok\xe2\x82"));
    assert_eq!(code, 1007);
    // A valid sequence split across fragments is fine.
    let wire = [
        masked(false, OpCode::Text, b"\xe2\x82"),
        masked(true, OpCode::Continuation, b"\xac"),
    ]
    .concat();
    assert_eq!(
        read_all(&mut server(), &wire).unwrap(),
        vec![Message::text("€")]
    );
    // Binary is never validated.
    assert_eq!(
        read_all(&mut server(), &masked(true, OpCode::Binary, b"\xff")).unwrap(),
        vec![Message::binary(vec![0xff])]
    );
}

#[test]
fn size_limits_are_1009_before_buffering() {
    let mut r = Receiver::new(Role::Server, RecvStack::default(), 100, 150);
    // The header alone is enough to refuse a too-big frame.
    let wire = masked(true, OpCode::Binary, &[0; 101]);
    let (e, code) = fails(&mut r, &wire[..8]);
    assert_eq!(code, 1009);
    assert!(matches!(
        e,
        ProtocolError::FrameTooBig {
            size: 101,
            limit: 100
        }
    ));
    // Fragments adding up past the message limit.
    let mut r = Receiver::new(Role::Server, RecvStack::default(), 100, 150);
    let wire = [
        masked(false, OpCode::Binary, &[0; 100]),
        masked(true, OpCode::Continuation, &[0; 51]),
    ]
    .concat();
    let (e, code) = fails(&mut r, &wire);
    assert_eq!(
        (e, code),
        (ProtocolError::MessageTooBig { limit: 150 }, 1009)
    );
    // Exactly at the limit passes.
    let mut r = Receiver::new(Role::Server, RecvStack::default(), 100, 150);
    let wire = [
        masked(false, OpCode::Binary, &[0; 100]),
        masked(true, OpCode::Continuation, &[0; 50]),
    ]
    .concat();
    assert_eq!(read_all(&mut r, &wire).unwrap().len(), 1);
}

fn deflate_pair() -> ((SendStack, RecvStack), (SendStack, RecvStack)) {
    let client =
        ClientNegotiator::new().with(PerMessageDeflateClient::new(DeflateConfig::default()));
    let server =
        ServerNegotiator::new().with(PerMessageDeflateServer::new(DeflateConfig::default()));
    let offer = client.offer_header().unwrap();
    let s = server.negotiate([offer.as_bytes()]).unwrap();
    let c = client
        .finish([s.response_header().unwrap().as_bytes()])
        .unwrap();
    (c.split(), s.split())
}

#[test]
fn sender_to_receiver_through_deflate_with_interleaved_control() {
    let ((c_send, _), (_, s_recv)) = deflate_pair();
    let mut tx = Sender::new(Role::Client, c_send);
    let mut rx = Receiver::new(Role::Server, s_recv, 1 << 20, 1 << 20);
    let mut out = OutBuf::new();
    let text = "compress me ".repeat(100);
    tx.encode_message(Message::text(text.clone()), &mut out)
        .unwrap();
    tx.encode_message(Message::Ping(Bytes::from_static(b"x")), &mut out)
        .unwrap();
    tx.encode_message(Message::binary(vec![1u8; 5000]), &mut out)
        .unwrap();
    assert!(
        out.len() < text.len(),
        "compressed on the wire: {}",
        out.len()
    );
    let mut wire = BytesMut::new();
    while !out.is_empty() {
        let s = out.first_slice().to_vec();
        wire.extend_from_slice(&s);
        out.advance(s.len());
    }
    assert_ne!(wire[0] & 0x40, 0, "RSV1 set on the compressed frame");
    let msgs = read_all(&mut rx, &wire).unwrap();
    assert_eq!(
        msgs,
        vec![
            Message::text(text),
            Message::Ping(Bytes::from_static(b"x")),
            Message::binary(vec![1u8; 5000])
        ]
    );
}

#[test]
fn inflate_stops_at_the_message_budget() {
    let ((c_send, _), (_, s_recv)) = deflate_pair();
    let mut tx = Sender::new(Role::Client, c_send);
    let mut rx = Receiver::new(Role::Server, s_recv, 1 << 20, 10_000);
    let mut out = OutBuf::new();
    tx.encode_message(Message::binary(vec![0u8; 100_000]), &mut out)
        .unwrap();
    let wire = out.first_slice().to_vec();
    assert!(wire.len() < 1000);
    assert_eq!(fails(&mut rx, &wire).1, 1009);
}

#[test]
fn sender_refuses_what_cannot_be_sent() {
    let mut tx = Sender::new(Role::Server, SendStack::default());
    let mut out = OutBuf::new();
    assert!(tx
        .encode_message(Message::Ping(Bytes::from(vec![0; 126])), &mut out)
        .is_err());
    let bad = Message::Close(Some(wsx::CloseFrame {
        code: wsx::CloseCode::from(1005),
        reason: "".into(),
    }));
    assert!(tx.encode_message(bad, &mut out).is_err());
    assert!(out.is_empty());
    // A server frame is unmasked; large payloads are queued without a copy.
    tx.encode_message(Message::binary(vec![9u8; 100_000]), &mut out)
        .unwrap();
    assert_eq!(out.len(), 100_010);
    assert_eq!(&out.first_slice()[..2], &[0x82, 127]);
}

#[test]
fn early_utf8_fails_before_the_frame_is_complete() {
    let payload =
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64";
    let wire = masked(true, OpCode::Text, payload);
    // Header (6 bytes) plus the first 14 payload bytes: already invalid.
    let mut r = server();
    r.set_early_utf8(true);
    let mut buf = BytesMut::from(&wire[..20]);
    assert_eq!(r.read(&mut buf).unwrap_err(), ProtocolError::InvalidUtf8);
    // Without early validation the same prefix just waits for more.
    let mut r = server();
    let mut buf = BytesMut::from(&wire[..20]);
    assert!(matches!(r.read(&mut buf).unwrap(), Read::NeedMore(_)));
    // A valid frame delivered in odd pieces with early validation is intact.
    let text = "κόσμε€𝄞 text ".repeat(30);
    let wire = [
        masked(false, OpCode::Text, &text.as_bytes()[..101]),
        masked(true, OpCode::Continuation, &text.as_bytes()[101..]),
    ]
    .concat();
    let mut r = server();
    r.set_early_utf8(true);
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for chunk in wire.chunks(7) {
        buf.extend_from_slice(chunk);
        while let Read::Message(m) = r.read(&mut buf).unwrap() {
            got.push(m);
        }
    }
    assert_eq!(got, vec![Message::text(text)]);
}
