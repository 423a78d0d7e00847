//! quickcheck properties of the header grammar and the stack.

use bytes::Bytes;
use quickcheck::{quickcheck, Arbitrary, Gen, TestResult};
use ws_ext_core::header::{format, parse, parse_str};
use ws_ext_core::{
    ClientExtensionFactory, ClientNegotiator, Decoder, Encoder, Extension, ExtensionElement,
    ExtensionError, ExtensionParam, Frame, NegotiationError, OpCode, RsvBits, ServerContext,
    ServerExtensionFactory, ServerNegotiator,
};

const TCHARS: &[u8] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~";

fn token(g: &mut Gen) -> String {
    let n = 1 + usize::arbitrary(g) % 12;
    (0..n)
        .map(|_| *g.choose(TCHARS).unwrap_or(&b'a') as char)
        .collect()
}

#[derive(Debug, Clone)]
struct List(Vec<ExtensionElement>);

impl Arbitrary for List {
    fn arbitrary(g: &mut Gen) -> Self {
        let n = 1 + usize::arbitrary(g) % 5;
        List(
            (0..n)
                .map(|_| {
                    let mut e = ExtensionElement::new(token(g));
                    for _ in 0..usize::arbitrary(g) % 4 {
                        let name = token(g);
                        e.params.push(match u8::arbitrary(g) % 3 {
                            0 => ExtensionParam::flag(name),
                            _ => ExtensionParam::with_value(name, token(g)),
                        });
                    }
                    e
                })
                .collect(),
        )
    }
}

quickcheck! {
    fn format_then_parse_is_identity(l: List) -> bool {
        parse_str(&format(&l.0)).ok() == Some(l.0)
    }

    fn split_across_lines_is_the_same_list(l: List, cut: usize) -> bool {
        let cut = cut % l.0.len();
        let a = format(&l.0[..cut]);
        let b = format(&l.0[cut..]);
        let lines: Vec<&[u8]> = [a.as_bytes(), b.as_bytes()].into_iter().filter(|s| !s.is_empty()).collect();
        parse(lines).ok() == Some(l.0)
    }

    fn parse_never_panics(data: Vec<u8>, more: Vec<u8>) -> bool {
        let _ = parse([&data[..], &more[..]]);
        true
    }

    fn parse_never_panics_on_near_valid(l: List, pos: usize, byte: u8) -> bool {
        let mut s = format(&l.0).into_bytes();
        let pos = pos % s.len();
        s[pos] = byte;
        match parse([&s[..]]) {
            Ok(list) => !list.is_empty(),
            Err(e) => e.offset <= s.len(),
        }
    }
}

/// Toy transforms, each invertible frame by frame and none commuting with the others.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Toy {
    /// XOR with a key stream that advances through the whole message.
    XorStream(u8),
    /// Reverse the bytes of each frame.
    Reverse,
    /// Add a constant to every byte.
    Add(u8),
}

impl Toy {
    fn name(self) -> String {
        match self {
            Toy::XorStream(_) => "x-xorstream".into(),
            Toy::Reverse => "x-reverse".into(),
            Toy::Add(_) => "x-add".into(),
        }
    }
    fn element(self) -> ExtensionElement {
        let e = ExtensionElement::new(self.name());
        match self {
            Toy::XorStream(k) | Toy::Add(k) => {
                e.param(ExtensionParam::with_value("k", k.to_string()))
            }
            Toy::Reverse => e,
        }
    }
    fn from_element(el: &ExtensionElement) -> Option<Toy> {
        let k = || el.params.first()?.value.as_deref()?.parse::<u8>().ok();
        match el.name.as_str() {
            "x-xorstream" => Some(Toy::XorStream(k()?)),
            "x-add" => Some(Toy::Add(k()?)),
            "x-reverse" => Some(Toy::Reverse),
            _ => None,
        }
    }
}

struct ToyHalf {
    toy: Toy,
    pos: u8,
    encode: bool,
}

impl ToyHalf {
    fn run(&mut self, mut f: Frame) -> Frame {
        if f.opcode.is_control() {
            return f;
        }
        if f.is_message_start() {
            self.pos = 0;
        }
        let mut v = f.payload.to_vec();
        match self.toy {
            Toy::XorStream(k) => {
                for b in &mut v {
                    *b ^= k.wrapping_add(self.pos);
                    self.pos = self.pos.wrapping_add(1);
                }
            }
            Toy::Reverse => v.reverse(),
            Toy::Add(k) => {
                for b in &mut v {
                    *b = if self.encode {
                        b.wrapping_add(k)
                    } else {
                        b.wrapping_sub(k)
                    };
                }
            }
        }
        f.payload = v.into();
        f
    }
}

impl Encoder for ToyHalf {
    fn encode(&mut self, f: Frame) -> Result<Frame, ExtensionError> {
        Ok(self.run(f))
    }
}
impl Decoder for ToyHalf {
    fn decode(&mut self, f: Frame, _: usize) -> Result<Frame, ExtensionError> {
        Ok(self.run(f))
    }
}

struct ToyExt(Toy);
impl Extension for ToyExt {
    fn name(&self) -> &str {
        match self.0 {
            Toy::XorStream(_) => "x-xorstream",
            Toy::Reverse => "x-reverse",
            Toy::Add(_) => "x-add",
        }
    }
    fn rsv_bits(&self) -> RsvBits {
        RsvBits::NONE
    }
    fn response(&self) -> ExtensionElement {
        self.0.element()
    }
    fn split(self: Box<Self>) -> (Box<dyn Encoder>, Box<dyn Decoder>) {
        let t = self.0;
        (
            Box::new(ToyHalf {
                toy: t,
                pos: 0,
                encode: true,
            }),
            Box::new(ToyHalf {
                toy: t,
                pos: 0,
                encode: false,
            }),
        )
    }
}

struct ToyServer(&'static str);
impl ServerExtensionFactory for ToyServer {
    fn handles(&self, n: &str) -> bool {
        n == self.0
    }
    fn accept(
        &self,
        offer: &ExtensionElement,
        _: &ServerContext<'_>,
    ) -> Result<Option<Box<dyn Extension>>, NegotiationError> {
        Ok(Toy::from_element(offer).map(|t| Box::new(ToyExt(t)) as Box<dyn Extension>))
    }
}
struct ToyClient(Toy);
impl ClientExtensionFactory for ToyClient {
    fn handles(&self, n: &str) -> bool {
        n == self.0.name()
    }
    fn offers(&self) -> Vec<ExtensionElement> {
        vec![self.0.element()]
    }
    fn accept(&self, r: &ExtensionElement) -> Result<Box<dyn Extension>, NegotiationError> {
        Toy::from_element(r)
            .map(|t| Box::new(ToyExt(t)) as Box<dyn Extension>)
            .ok_or_else(|| NegotiationError::rejected(r.name.clone(), "bad params"))
    }
}

#[derive(Debug, Clone)]
struct Case {
    toys: Vec<Toy>,
    /// Messages, each as its fragments; the bool is text (else binary).
    messages: Vec<(bool, Vec<Vec<u8>>)>,
}

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Self {
        let mut toys: Vec<Toy> = Vec::new();
        for _ in 0..usize::arbitrary(g) % 4 {
            let t = match u8::arbitrary(g) % 3 {
                0 => Toy::XorStream(u8::arbitrary(g)),
                1 => Toy::Reverse,
                _ => Toy::Add(u8::arbitrary(g)),
            };
            if !toys.iter().any(|x| x.name() == t.name()) {
                toys.push(t);
            }
        }
        let messages = (0..1 + usize::arbitrary(g) % 5)
            .map(|_| {
                let frags = 1 + usize::arbitrary(g) % 4;
                (
                    bool::arbitrary(g),
                    (0..frags).map(|_| Vec::<u8>::arbitrary(g)).collect(),
                )
            })
            .collect();
        Case { toys, messages }
    }
}

fn stacks(toys: &[Toy]) -> (ws_ext_core::ExtensionStack, ws_ext_core::ExtensionStack) {
    let mut client = ClientNegotiator::new();
    let mut server = ServerNegotiator::new();
    for t in toys {
        client.push(std::sync::Arc::new(ToyClient(*t)));
    }
    for name in ["x-xorstream", "x-reverse", "x-add"] {
        server.push(std::sync::Arc::new(ToyServer(name)));
    }
    let offer = client.offer_header().unwrap_or_default();
    let lines: Vec<&[u8]> = if offer.is_empty() {
        vec![]
    } else {
        vec![offer.as_bytes()]
    };
    let s = server.negotiate(lines).expect("server");
    let resp = s.response_header().unwrap_or_default();
    let lines: Vec<&[u8]> = if resp.is_empty() {
        vec![]
    } else {
        vec![resp.as_bytes()]
    };
    let c = client.finish(lines).expect("client");
    (c, s)
}

quickcheck! {
    fn stack_round_trips_fragmented_messages(case: Case) -> TestResult {
        let (client, server) = stacks(&case.toys);
        if client.names() != case.toys.iter().map(|t| t.name()).collect::<Vec<_>>() {
            return TestResult::error("negotiation lost an extension or reordered it");
        }
        let (mut send, _) = client.split();
        let (_, mut recv) = server.split();
        for (text, frags) in &case.messages {
            let mut got = Vec::new();
            for (i, frag) in frags.iter().enumerate() {
                let op = match (i, text) { (0, true) => OpCode::Text, (0, false) => OpCode::Binary, _ => OpCode::Continuation };
                let f = Frame::new(i + 1 == frags.len(), op, Bytes::from(frag.clone()));
                let wire = send.encode(f.clone()).expect("encode");
                let back = recv.decode(wire, usize::MAX).expect("decode");
                if back.opcode != f.opcode || back.fin != f.fin {
                    return TestResult::failed();
                }
                got.extend_from_slice(&back.payload);
            }
            if got != frags.concat() {
                return TestResult::failed();
            }
        }
        TestResult::passed()
    }
}

#[test]
fn send_order_is_response_order() {
    // reverse then add vs add then reverse give the same bytes for a
    // constant add, so use xorstream, whose key depends on position.
    let data = b"abcdef".to_vec();
    let f = || Frame::new(true, OpCode::Binary, Bytes::from(data.clone()));
    let (c1, _) = stacks(&[Toy::XorStream(1), Toy::Reverse]);
    let (c2, _) = stacks(&[Toy::Reverse, Toy::XorStream(1)]);
    let a = c1.split().0.encode(f()).unwrap().payload;
    let b = c2.split().0.encode(f()).unwrap().payload;
    assert_ne!(a, b);
    // xorstream(1) first: byte i ^ (1+i), then reversed.
    let mut expect: Vec<u8> = data
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ (1 + i as u8))
        .collect();
    expect.reverse();
    assert_eq!(&a[..], &expect[..]);
}
