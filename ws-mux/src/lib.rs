//! # ws-mux
//!
//! The WebSocket multiplexing extension
//! (draft-ietf-hybi-websocket-multiplexing), sans-I/O, on `ws-ext-core`:
//! physical messages in, physical messages and events out. No sockets, no
//! runtime, no threads.
//!
//! - [`negotiate`]: the `mux` token (configurable; mod_pywebsocket used
//!   `mux_DO_NOT_USE`), the `quota` parameter, which extensions go to
//!   channel 1 and which to the physical connection, and the forbidden
//!   combinations.
//! - [`MuxSession`]: one per physical connection and role — channels,
//!   control blocks, flow control, drops and failures.
//! - The wire: [`wire`] (channel IDs, numbers), [`control`] (the five
//!   control blocks), [`unit`](mod@unit) (encapsulated frames), [`handshake`]
//!   (encapsulated handshakes, delta encoding), [`drop_code`].
//!
//! ## Which draft
//! The layouts follow the last draft (-11) as the three implementations that
//! tracked it agree on them (mod_pywebsocket -06/-07, Jetty -08, Chromium
//! -09); where the revisions are unverified this crate follows
//! mod_pywebsocket 0.7.9, the one peer that still runs. The choices:
//! per-message quota cost of one octet (-07); DropChannel without the old
//! `M` flag; drop code 3009 for bad fragmentation; a fixed delta base (see
//! [`handshake`]); channel IDs accepted in non-minimal form, numbers only in
//! minimal form; `Connection: Upgrade` kept in encapsulated handshakes.
//!
//! ## Flow control
//! Each channel has a send quota (what we may send) and a receive quota
//! (what the peer may send). A frame costs its payload plus one octet when
//! its opcode is not continuation ([`quota::cost`]). Frames wait in the
//! channel's queue until the quota allows and are split when it is short;
//! the receive quota is granted back as events are consumed, so what a peer
//! can make us buffer is bounded by the receive window per channel.
//!
//! ## Wiring it into an engine (one task per physical connection)
//! ```ignore
//! // Server handshake: split the offer at `mux`.
//! let n = ws_mux::negotiate_server(ext_lines, &physical_neg, &MuxServerFactory::new(token), &channel_neg)?;
//! // answer with n.response_header; run n.physical on the physical frames.
//! let Some(agreement) = &n.mux else { /* plain connection */ };
//! let mut mux = MuxSession::server(cfg, channel_neg.clone(), agreement, &request_headers, n.channel1);
//! loop {
//!     while let Some(p) = mux.poll_transmit() { ws.send(Message::Binary(p)).await?; }
//!     let r = tokio::select! {
//!         m = ws.next() => match m {
//!             Some(Ok(Message::Binary(b))) => mux.receive_physical(b),
//!             Some(Ok(Message::Text(_))) => Err(mux.receive_physical_text()),
//!             _ => break,                       // physical close / error
//!         },
//!         Some(cmd) = from_handles.recv() => cmd.apply(&mut mux), // send_message, close_channel…
//!     };
//!     if let Err(e) = r {
//!         if e.fails_physical() {                // flush DropChannel(0), then close 1011
//!             while let Some(p) = mux.poll_transmit() { ws.send(Message::Binary(p)).await?; }
//!             ws.close(e.close_code()).await?; break;
//!         }                                      // else: a usage error, report it to the handle
//!     }
//!     while let Some(ev) = mux.poll_event() { route(ev) } // Frame → handle of ev.channel, …
//! }
//! ```
//! The client is the same with [`client_offer_header`] / [`finish_client`]
//! and [`MuxSession::client`]. Backpressure: a handle waits while
//! [`MuxSession::queued_bytes`] is high ([`MuxError::SendBufferFull`]) and
//! retries on [`Event::QuotaAvailable`].
//!
//! ## Example: a client and a server session in memory
//! ```
//! use bytes::Bytes;
//! use ws_ext_core::{ExtensionStack, OpCode, ServerNegotiator};
//! use ws_mux::{ChannelRequest, Event, Headers, MuxAgreement, MuxConfig, MuxSession};
//!
//! let agreement = MuxAgreement { token: "mux".into(), quota: Some(8192) };
//! let request = Headers::new().with("Host", "example.com").with("Sec-WebSocket-Extensions", "mux; quota=8192");
//! let mut server = MuxSession::server(MuxConfig::default(), ServerNegotiator::new(), &agreement, &request, ExtensionStack::default());
//! let mut client = MuxSession::client(MuxConfig::default(), vec![], &agreement, &request, &Headers::new(), ExtensionStack::default());
//!
//! fn pump(from: &mut MuxSession, to: &mut MuxSession) {
//!     while let Some(p) = from.poll_transmit() { to.receive_physical(p).unwrap(); }
//! }
//! pump(&mut server, &mut client); // FlowControl(1) + NewChannelSlot
//! let ch = client.open_channel(ChannelRequest::new("/echo")).unwrap();
//! pump(&mut client, &mut server);
//! // Server: accept every channel the client asks for.
//! while let Some(e) = server.poll_event() {
//!     if let Event::ChannelOpenRequested { channel, .. } = e {
//!         server.accept_channel(channel, None, Headers::new()).unwrap();
//!     }
//! }
//! pump(&mut server, &mut client);
//! while let Some(e) = client.poll_event() { if let Event::ChannelOpened { .. } = e { break } }
//! client.send_message(ch, OpCode::Text, "Hello").unwrap();
//! pump(&mut client, &mut server);
//! let got = std::iter::from_fn(|| server.poll_event()).find_map(|e| match e {
//!     Event::Frame { channel, frame } => Some((channel, frame.payload)),
//!     _ => None,
//! });
//! assert_eq!(got, Some((ch, Bytes::from_static(b"Hello"))));
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod config;
pub mod control;
pub mod drop_code;
pub mod error;
pub mod event;
pub mod handshake;
pub mod incoming;
pub mod negotiate;
pub mod outgoing;
pub mod quota;
pub mod session;
pub mod unit;
pub mod wire;

/// A logical channel ID (1 ..= 2^29 − 1; 0 is the control channel).
pub type ChannelId = u32;

pub use config::MuxConfig;
pub use control::{ControlBlock, DropReason, HandshakeEncoding};
pub use error::{MuxError, WireError, PHYSICAL_FAILURE_CLOSE_CODE};
pub use event::Event;
pub use handshake::{HandshakeRequest, HandshakeResponse, Headers};
pub use negotiate::{
    client_offer_header, find_agreement, finish_client, negotiate_server, MuxAgreement,
    MuxClientFactory, MuxExtension, MuxNegotiation, MuxServerFactory, DEFAULT_TOKEN,
    PYWEBSOCKET_TOKEN,
};
pub use session::{ChannelRequest, MuxSession, Role};
pub use unit::MuxUnit;
