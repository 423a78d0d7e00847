//! Frame codec throughput, uncompressed, wsx's engine against tungstenite
//! 0.30 on the same bytes.
//!
//! - `send`: a server encodes binary messages (unmasked frames) and writes
//!   them to an in-memory sink (tungstenite: `WebSocket::send` into a
//!   `Write`; wsx: `Sender::encode_message` into its write queue, then the
//!   queue's slices copied to the sink as a socket write would).
//! - `recv`: a server reads masked client frames from an in-memory source
//!   in 128 KiB reads (tungstenite: `WebSocket::read`; wsx: `Receiver::read`
//!   over a `BytesMut` filled from the source), unmasking them.
//!
//! `cargo bench -p benches --bench codec`.

mod common;

use std::io::{self, Write};

use benches::corpus::{self, Kind};
use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use tungstenite::protocol::{Role as TRole, WebSocket};
use ws_ext_core::ExtensionStack;
use wsx::proto::outbuf::OutBuf;
use wsx::proto::recv::{Read, Receiver};
use wsx::proto::send::Sender;
use wsx::proto::Role;
use wsx::Message;

const CHUNK: usize = 128 << 10;

/// An in-memory socket: reads come from `input` (then `WouldBlock`), writes
/// go to `output`.
struct Mem {
    input: Bytes,
    pos: usize,
    output: Vec<u8>,
}

impl io::Read for Mem {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.input.len() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.input.len() - self.pos).min(CHUNK);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for Mem {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn mem(input: Bytes) -> Mem {
    Mem {
        input,
        pos: 0,
        output: Vec::with_capacity(4 << 20),
    }
}

fn drain(out: &mut OutBuf, sink: &mut Vec<u8>) {
    while !out.is_empty() {
        let s = out.first_slice();
        let n = s.len();
        sink.extend_from_slice(s);
        out.advance(n);
    }
}

fn codec(c: &mut Criterion) {
    for size in [64usize, 1024, 16 << 10, 1 << 20] {
        let msgs: Vec<Message> = corpus::batch(Kind::Binary, size, 256 << 10, 4096, 3)
            .into_iter()
            .map(|m| Message::Binary(Bytes::from(m)))
            .collect();
        let total = msgs.len() * size;
        let id = format!("binary/{size}");

        let mut g = c.benchmark_group("codec/send");
        g.throughput(Throughput::Bytes(total as u64));
        let mut ws = WebSocket::from_raw_socket(mem(Bytes::new()), TRole::Server, None);
        g.bench_function(BenchmarkId::new("tungstenite", &id), |b| {
            b.iter(|| {
                for m in &msgs {
                    ws.send(m.clone()).expect("send");
                }
                ws.get_mut().output.clear();
            })
        });
        let (tx, _) = ExtensionStack::default().split();
        let mut sender = Sender::new(Role::Server, tx);
        let mut out = OutBuf::new();
        let mut sink = Vec::with_capacity(4 << 20);
        g.bench_function(BenchmarkId::new("wsx", &id), |b| {
            b.iter(|| {
                for m in &msgs {
                    sender.encode_message(m.clone(), &mut out).expect("encode");
                    drain(&mut out, &mut sink);
                }
                sink.clear();
            })
        });
        g.finish();

        // Masked client frames, as a server receives them.
        let (tx, _) = ExtensionStack::default().split();
        let mut client = Sender::new(Role::Client, tx);
        let mut out = OutBuf::new();
        let mut wire = Vec::new();
        for m in &msgs {
            client.encode_message(m.clone(), &mut out).expect("encode");
            drain(&mut out, &mut wire);
        }
        let wire = Bytes::from(wire);
        let mut g = c.benchmark_group("codec/recv");
        g.throughput(Throughput::Bytes(total as u64));
        g.bench_function(BenchmarkId::new("tungstenite", &id), |b| {
            b.iter_batched(
                || WebSocket::from_raw_socket(mem(wire.clone()), TRole::Server, None),
                |mut ws| {
                    let mut n = 0;
                    loop {
                        match ws.read() {
                            Ok(m) => {
                                std::hint::black_box(m);
                                n += 1;
                            }
                            Err(tungstenite::Error::Io(e))
                                if e.kind() == io::ErrorKind::WouldBlock =>
                            {
                                break
                            }
                            Err(e) => panic!("tungstenite read: {e}"),
                        }
                    }
                    assert_eq!(n, msgs.len());
                },
                BatchSize::PerIteration,
            )
        });
        g.bench_function(BenchmarkId::new("wsx", &id), |b| {
            b.iter_batched(
                || {
                    let (_, rx) = ExtensionStack::default().split();
                    (
                        Receiver::new(Role::Server, rx, 64 << 20, 64 << 20),
                        mem(wire.clone()),
                        BytesMut::with_capacity(CHUNK),
                    )
                },
                |(mut r, mut src, mut buf)| {
                    let mut n = 0;
                    loop {
                        match r.read(&mut buf).expect("read") {
                            Read::Message(m) => {
                                std::hint::black_box(m);
                                n += 1;
                            }
                            Read::NeedMore(_) => {
                                // One copy from the source, as a read into
                                // the buffer's spare capacity would do.
                                let k = CHUNK.min(src.input.len() - src.pos);
                                if k == 0 {
                                    break;
                                }
                                buf.extend_from_slice(&src.input[src.pos..src.pos + k]);
                                src.pos += k;
                            }
                        }
                    }
                    assert_eq!(n, msgs.len());
                },
                BatchSize::PerIteration,
            )
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = codec
}
criterion_main!(benches);
