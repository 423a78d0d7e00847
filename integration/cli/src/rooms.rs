//! `wsx serve --broadcast`: one [`Broadcast`] room per path. Every text or
//! binary message received on a path is sent, unchanged, to every
//! connection open on that path, the sender included; each connection
//! drains its own bounded queue ([`wsx::broadcast::serve_member`]), so a slow reader never
//! delays the room. Connections with context takeover are served from
//! the room's cohorts (`--broadcast-cohorts`).

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Mutex, MutexGuard};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tracing::debug;
use wsx::broadcast::{serve_member_with, BroadcastConfig, MemberEnd, Overflow, Subscription};
use wsx::{Broadcast, WebSocketStream};

use crate::args::ServeArgs;
use crate::stats::ConnStats;

/// The rooms of a broadcasting server, by path.
#[derive(Debug)]
pub struct Rooms {
    config: BroadcastConfig,
    rooms: Mutex<HashMap<String, Broadcast>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Rooms {
    /// The rooms for `--broadcast`, or `None` (echo).
    pub fn from_args(args: &ServeArgs) -> Result<Option<Rooms>, String> {
        if !args.broadcast {
            return Ok(None);
        }
        let overflow = match args.broadcast_overflow.as_str() {
            "drop-oldest" => Overflow::DropOldest,
            "close-1008" => Overflow::close(1008).ok_or("1008")?,
            "close-1013" => Overflow::close(1013).ok_or("1013")?,
            other => return Err(format!("--broadcast-overflow {other}: unknown policy")),
        };
        let config = BroadcastConfig::default()
            .with_queue_capacity(args.broadcast_queue as usize)
            .with_overflow(overflow)
            .with_cohorts(args.broadcast_cohorts > 0)
            .with_max_cohorts(args.broadcast_cohorts as usize);
        Ok(Some(Rooms {
            config,
            rooms: Mutex::new(HashMap::new()),
        }))
    }

    /// Join the room of `path` (created on first use).
    pub fn join(&self, path: &str) -> Joined {
        let mut rooms = lock(&self.rooms);
        let room = rooms
            .entry(path.to_owned())
            .or_insert_with(|| Broadcast::new(self.config.clone()))
            .clone();
        // Under the map lock, so `leave` cannot remove a room being joined.
        let sub = room.subscribe();
        Joined {
            room,
            sub,
            path: path.to_owned(),
        }
    }

    /// A member left: drop its subscription and forget the room once empty.
    pub fn leave(&self, joined: Joined) {
        let Joined { room, sub, path } = joined;
        drop(sub);
        drop(room);
        let mut rooms = lock(&self.rooms);
        if rooms.get(&path).is_some_and(|r| r.is_empty()) {
            rooms.remove(&path);
            debug!(path, "room empty: removed");
        }
    }

    /// Let the cohort compressors of the rooms where nothing was sent for
    /// `after` hibernate ([`Broadcast::hibernate_if_idle`]); how many.
    pub fn hibernate_idle(&self, after: std::time::Duration) -> usize {
        let rooms: Vec<Broadcast> = lock(&self.rooms).values().cloned().collect();
        rooms.iter().map(|r| r.hibernate_if_idle(after)).sum()
    }

    /// How many rooms are open.
    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.rooms).len()
    }
}

/// A connection's membership of its path's room, taken before its 101 is
/// sent ([`Rooms::join`]), given back with [`Rooms::leave`].
pub struct Joined {
    room: Broadcast,
    sub: Subscription,
    path: String,
}

/// Run one connection as a member of its path's room until it closes,
/// the room closes it for overflow, or the server shuts down (1001).
pub async fn member<S>(
    ws: &mut WebSocketStream<S>,
    rooms: &Rooms,
    mut joined: Joined,
    mut stop: watch::Receiver<bool>,
    stats: &ConnStats,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    debug!(path = %joined.path, members = joined.room.len(), "joined");
    let room = joined.room.clone();
    let end = tokio::select! {
        end = serve_member_with(ws, &mut joined.sub, |m| {
            stats.payload_in.fetch_add(m.len() as u64, Relaxed);
            room.send_message(m);
        }, |m, _| {
            stats.payload_out.fetch_add(m.message().len() as u64, Relaxed);
        }) => Some(end),
        _ = stop.wait_for(|v| *v) => None,
    };
    let path = joined.path.clone();
    rooms.leave(joined);
    match end {
        Some(Ok(MemberEnd::Overflowed { code, sent })) => {
            debug!(path, %code, sent, "too slow: closed");
        }
        Some(Ok(_)) => {}
        Some(Err(e)) => debug!(error = %e, "connection ended with an error"),
        None => crate::echo::close_for_shutdown(ws).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_are_per_path_and_forgotten_when_empty() {
        let rooms = Rooms {
            config: BroadcastConfig::default(),
            rooms: Mutex::new(HashMap::new()),
        };
        let a = rooms.join("/a");
        let b = rooms.join("/b");
        let a2 = rooms.join("/a");
        assert_eq!(rooms.len(), 2);
        assert_eq!(a.room.len(), 2);
        assert_eq!(a2.room.send_message(wsx::Message::text("x")).queued, 2);
        // A member joined (before its 101) gets what is sent from then on.
        assert!(a.sub.queued() == 1 && a2.sub.queued() == 1 && b.sub.queued() == 0);
        rooms.leave(a);
        assert_eq!(rooms.len(), 2, "one member left on /a");
        rooms.leave(a2);
        rooms.leave(b);
        assert_eq!(rooms.len(), 0);
    }
}
