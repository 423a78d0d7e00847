//! A browser-style view of a connection: `open`, `message`, `error` and
//! `close` as distinct events.

use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use tungstenite::Message;

use crate::error::Error;
use crate::stream::WebSocketStream;

/// One event of a connection, in the order a browser fires them.
#[derive(Debug)]
pub enum Event {
    /// The connection is open (always the first event).
    Open {
        /// The negotiated subprotocol.
        protocol: Option<String>,
        /// The negotiated extensions (the response header value).
        extensions: Option<String>,
    },
    /// A text or binary message. Pings and pongs are answered and not
    /// reported, as in a browser.
    Message(Message),
    /// The connection failed (always followed by `Close`).
    Error(Error),
    /// The connection is closed (always the last event).
    Close {
        /// The close code: the peer's, ours when we failed the connection,
        /// 1005 when the close frame had none, 1006 when there was no
        /// closing handshake.
        code: u16,
        /// The close reason.
        reason: String,
        /// Whether the closing handshake completed.
        was_clean: bool,
    },
}

/// A [`WebSocketStream`] as a stream of [`Event`]s. It still sends
/// (`Sink<Message>`) and derefs to the stream for `ready_state()`,
/// `buffered_amount()`, `protocol()` and `extensions()`.
///
/// ```no_run
/// # async fn run() -> Result<(), wsx::Error> {
/// use futures_util::StreamExt;
/// use wsx::Event;
/// let (ws, _) = wsx::connect("ws://127.0.0.1:9998/").await?;
/// let mut events = wsx::Events::new(ws);
/// while let Some(ev) = events.next().await {
///     match ev {
///         Event::Open { extensions, .. } => println!("open, extensions {extensions:?}"),
///         Event::Message(m) => println!("message {m}"),
///         Event::Error(e) => eprintln!("error {e}"),
///         Event::Close { code, .. } => println!("closed with {code}"),
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Events<S> {
    ws: WebSocketStream<S>,
    opened: bool,
    close: Option<(u16, String)>,
    pending_close: Option<Event>,
    done: bool,
}

impl<S> Events<S> {
    /// Wrap an open connection.
    pub fn new(ws: WebSocketStream<S>) -> Self {
        Events {
            ws,
            opened: false,
            close: None,
            pending_close: None,
            done: false,
        }
    }

    /// The connection back.
    pub fn into_inner(self) -> WebSocketStream<S> {
        self.ws
    }
}

impl<S> Deref for Events<S> {
    type Target = WebSocketStream<S>;
    fn deref(&self) -> &Self::Target {
        &self.ws
    }
}

impl<S> DerefMut for Events<S> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.ws
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for Events<S> {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let this = &mut *self;
        if !this.opened {
            this.opened = true;
            return Poll::Ready(Some(Event::Open {
                protocol: this.ws.protocol().map(str::to_owned),
                extensions: this.ws.extensions().map(str::to_owned),
            }));
        }
        if let Some(ev) = this.pending_close.take() {
            this.done = true;
            return Poll::Ready(Some(ev));
        }
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match ready!(Pin::new(&mut this.ws).poll_next(cx)) {
                Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => {
                    return Poll::Ready(Some(Event::Message(m)))
                }
                Some(Ok(Message::Close(frame))) => {
                    this.close = Some(match frame {
                        Some(f) => (u16::from(f.code), f.reason.to_string()),
                        None => (1005, String::new()),
                    });
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    let code = e.close_code().map_or(1006, u16::from);
                    this.pending_close = Some(Event::Close {
                        code,
                        reason: e.to_string(),
                        was_clean: false,
                    });
                    return Poll::Ready(Some(Event::Error(e)));
                }
                None => {
                    this.done = true;
                    let (code, reason, was_clean) = match this.close.take() {
                        Some((c, r)) => (c, r, true),
                        None => (1006, String::new(), false),
                    };
                    return Poll::Ready(Some(Event::Close {
                        code,
                        reason,
                        was_clean,
                    }));
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for Events<S> {
    type Error = Error;
    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.ws).poll_ready(cx)
    }
    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        Pin::new(&mut self.ws).start_send(item)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.ws).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.ws).poll_close(cx)
    }
}
