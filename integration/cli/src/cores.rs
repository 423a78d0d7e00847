//! Thread per core for `wsx serve`: N threads, each running a
//! single-threaded tokio runtime, and every accepted connection handed to
//! one of them (round-robin) for its whole life.
//!
//! Why not tokio's work-stealing runtime: a connection's state (its
//! compressor tables and window, its decompressor's window, its buffers)
//! is over 100 KiB, and with work stealing a connection's task runs on
//! whichever thread picked up its wake-up, so that state moves between the
//! cores' caches, and parked threads are woken to steal. Measured with
//! `benches/side-by-side.sh` (2 cores, 20 connections of chat JSON, Node
//! client): 2–7% less server CPU per compressed message than the
//! work-stealing runtime with two threads, ~12% less per uncompressed one
//! (schedstat; `benches/RESULTS.md`). The cost: no stealing, so one busy
//! connection cannot spread over two cores; the
//! round-robin keeps the count of connections per core even. (actix-web
//! serves the same way.)

use std::future::Future;
use std::io;
use std::thread;

use tokio::sync::mpsc;
use tracing::warn;

/// Work for a core: run on its thread, inside its runtime.
type Job = Box<dyn FnOnce() + Send>;

/// The per-core runtimes.
pub struct Cores {
    queues: Vec<mpsc::UnboundedSender<Job>>,
    next: usize,
}

impl Cores {
    /// Start `n` (≥ 1) threads, each with its own runtime.
    pub fn start(n: usize) -> io::Result<Self> {
        let mut queues = Vec::with_capacity(n);
        for i in 0..n.max(1) {
            let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            thread::Builder::new()
                .name(format!("wsx-core-{i}"))
                .spawn(move || {
                    rt.block_on(async move {
                        while let Some(job) = rx.recv().await {
                            job();
                        }
                    });
                })?;
            queues.push(tx);
        }
        Ok(Self { queues, next: 0 })
    }

    /// How many cores.
    pub fn len(&self) -> usize {
        self.queues.len()
    }

    /// Run `make()` on the next core and spawn the future it returns there
    /// (`make` runs inside that core's runtime: a socket it registers
    /// belongs to that core).
    pub fn spawn<F, Fut>(&mut self, make: F)
    where
        F: FnOnce() -> Option<Fut> + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let k = self.next % self.queues.len();
        self.next = self.next.wrapping_add(1);
        let job: Job = Box::new(move || {
            if let Some(fut) = make() {
                tokio::spawn(fut);
            }
        });
        if self.queues[k].send(job).is_err() {
            warn!(core = k, "a core's runtime has stopped; connection dropped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_go_round_robin_and_stay_on_their_thread() {
        let mut cores = Cores::start(2).expect("runtimes start");
        assert_eq!(cores.len(), 2);
        let (tx, rx) = std::sync::mpsc::channel();
        for k in 0..6 {
            let tx = tx.clone();
            cores.spawn(move || {
                // `make` runs on the core's thread, inside its runtime...
                let made_on = thread::current().name().map(str::to_owned);
                assert!(tokio::runtime::Handle::try_current().is_ok());
                Some(async move {
                    // ...and the future after an await point is still there.
                    tokio::task::yield_now().await;
                    let ran_on = thread::current().name().map(str::to_owned);
                    let _ = tx.send((k, made_on, ran_on));
                })
            });
        }
        drop(tx);
        let mut seen: Vec<_> = rx.iter().collect();
        seen.sort();
        assert_eq!(seen.len(), 6);
        for (k, made_on, ran_on) in seen {
            let want = format!("wsx-core-{}", k % 2);
            assert_eq!(made_on.as_deref(), Some(want.as_str()), "job {k}");
            assert_eq!(ran_on.as_deref(), Some(want.as_str()), "job {k}");
        }
    }
}
