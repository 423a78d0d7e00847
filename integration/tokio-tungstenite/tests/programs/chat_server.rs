//! The chat server of tokio-tungstenite's examples: every text or binary
//! message is broadcast to the other peers, through one channel per peer
//! and the split halves of each stream.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures_util::{future, SinkExt, StreamExt, TryStreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio_tungstenite::tungstenite::protocol::Message;

type Tx = UnboundedSender<Message>;
pub type PeerMap = Arc<Mutex<HashMap<SocketAddr, Tx>>>;

pub async fn run(listener: TcpListener, state: PeerMap) {
    while let Ok((stream, addr)) = listener.accept().await {
        tokio::spawn(handle_connection(state.clone(), stream, addr));
    }
}

async fn handle_connection(peer_map: PeerMap, raw_stream: TcpStream, addr: SocketAddr) {
    let ws_stream = match tokio_tungstenite::accept_async(raw_stream).await {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("{addr}: handshake failed: {e}");
            return;
        }
    };
    let (tx, mut rx) = unbounded_channel();
    peer_map.lock().unwrap().insert(addr, tx);

    let (mut outgoing, incoming) = ws_stream.split();

    let broadcast_incoming = incoming
        .try_filter(|msg| future::ready(msg.is_text() || msg.is_binary()))
        .try_for_each(|msg| {
            let peers = peer_map.lock().unwrap();
            for (_, recp) in peers.iter().filter(|(peer_addr, _)| peer_addr != &&addr) {
                let _ = recp.send(msg.clone());
            }
            future::ok(())
        });

    let receive_from_others = async move {
        while let Some(msg) = rx.recv().await {
            outgoing.send(msg).await?;
        }
        Ok::<(), tokio_tungstenite::tungstenite::Error>(())
    };

    tokio::select! {
        r = broadcast_incoming => { let _ = r; }
        r = receive_from_others => { let _ = r; }
    }
    peer_map.lock().unwrap().remove(&addr);
}
