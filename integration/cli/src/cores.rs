//! Thread per core for `wsx serve`: N threads, each running a
//! single-threaded tokio runtime, and every accepted connection handed to
//! one of them for its whole life: the one with the fewest open
//! connections (ties in turn), so the counts stay even as connections come
//! and go.
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
//! connection cannot spread over two cores, and even counts of connections
//! are not even loads. (actix-web serves the same way.)

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread;

use pin_project_lite::pin_project;

use tokio::sync::mpsc;
use tracing::warn;

/// Work for a core: run on its thread, inside its runtime.
type Job = Box<dyn FnOnce() + Send>;

/// The per-core runtimes.
pub struct Cores {
    cores: Vec<Core>,
    /// Where the search for the least busy core starts (ties go in turn).
    next: usize,
}

/// One runtime: its job queue and how many connections it has open.
struct Core {
    queue: mpsc::UnboundedSender<Job>,
    open: Arc<AtomicUsize>,
}

/// Counts one open connection of a core until dropped (when its future
/// ends, or with the job if it never ran).
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

pin_project! {
    /// A connection's future with its [`Open`] count, polled in place.
    /// (An `async move { let _open = open; fut.await }` would hold the
    /// future twice, as captured and as awaited: 1.7 KiB more per plain
    /// connection, measured.)
    struct Counted<F> {
        #[pin]
        fut: F,
        open: Open,
    }
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().fut.poll(cx)
    }
}

impl Cores {
    /// Start `n` (≥ 1) threads, each with its own runtime.
    pub fn start(n: usize) -> io::Result<Self> {
        let mut cores = Vec::with_capacity(n);
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
            cores.push(Core {
                queue: tx,
                open: Arc::new(AtomicUsize::new(0)),
            });
        }
        Ok(Self { cores, next: 0 })
    }

    /// How many cores.
    pub fn len(&self) -> usize {
        self.cores.len()
    }

    /// The core with the fewest open connections; among equals, the first
    /// from `next` on.
    fn least_busy(&self) -> usize {
        let n = self.cores.len();
        (0..n)
            .map(|i| (self.next + i) % n)
            .min_by_key(|&k| self.cores[k].open.load(Relaxed))
            .unwrap_or(0)
    }

    /// Run `make()` on the core with the fewest open connections and spawn
    /// the future it returns there (`make` runs inside that core's
    /// runtime: a socket it registers belongs to that core). The
    /// connection counts as open on that core until the future ends.
    pub fn spawn<F, Fut>(&mut self, make: F)
    where
        F: FnOnce() -> Option<Fut> + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let k = self.least_busy();
        self.next = k + 1;
        let core = &self.cores[k];
        core.open.fetch_add(1, Relaxed);
        let open = Open(Arc::clone(&core.open));
        let job: Job = Box::new(move || {
            if let Some(fut) = make() {
                tokio::spawn(Counted { fut, open });
            }
        });
        if core.queue.send(job).is_err() {
            warn!(core = k, "a core's runtime has stopped; connection dropped");
        }
    }

    /// Open connections per core.
    #[cfg(test)]
    fn open(&self) -> Vec<usize> {
        self.cores.iter().map(|c| c.open.load(Relaxed)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::watch;

    /// Spawn job `k`: it records where it was made and where it ran, then
    /// stays open until `end` lists it.
    fn job(
        cores: &mut Cores,
        k: usize,
        mut end: watch::Receiver<Vec<usize>>,
        seen: std::sync::mpsc::Sender<(usize, Option<String>, Option<String>)>,
    ) {
        cores.spawn(move || {
            // `make` runs on the core's thread, inside its runtime...
            let made_on = thread::current().name().map(str::to_owned);
            assert!(tokio::runtime::Handle::try_current().is_ok());
            Some(async move {
                // ...and the future after an await point is still there.
                tokio::task::yield_now().await;
                let ran_on = thread::current().name().map(str::to_owned);
                let _ = seen.send((k, made_on, ran_on));
                let _ = end.wait_for(|ended| ended.contains(&k)).await;
            })
        });
    }

    /// Wait (a bounded time) until the open counts are `want`.
    fn wait_open(cores: &Cores, want: &[usize]) {
        for _ in 0..500 {
            if cores.open() == want {
                return;
            }
            thread::sleep(std::time::Duration::from_millis(2));
        }
        assert_eq!(cores.open(), want);
    }

    #[test]
    fn connections_go_to_the_least_busy_core_and_stay_on_its_thread() {
        let mut cores = Cores::start(2).expect("runtimes start");
        assert_eq!(cores.len(), 2);
        let (end, ended) = watch::channel(Vec::new());
        let (tx, rx) = std::sync::mpsc::channel();
        // Four at once: two per core, in turn.
        for k in 0..4 {
            job(&mut cores, k, ended.clone(), tx.clone());
        }
        wait_open(&cores, &[2, 2]);
        // Both of core 1's connections end: the next two go to core 1,
        // not in turn.
        end.send_replace(vec![1, 3]);
        wait_open(&cores, &[2, 0]);
        for k in 4..6 {
            job(&mut cores, k, ended.clone(), tx.clone());
        }
        wait_open(&cores, &[2, 2]);
        end.send_replace((0..6).collect());
        wait_open(&cores, &[0, 0]);
        drop(tx);
        let mut seen: Vec<_> = rx.iter().collect();
        seen.sort();
        assert_eq!(seen.len(), 6);
        for (k, made_on, ran_on) in seen {
            let core = if k < 4 { k % 2 } else { 1 };
            let want = format!("wsx-core-{core}");
            assert_eq!(made_on.as_deref(), Some(want.as_str()), "job {k}");
            assert_eq!(ran_on.as_deref(), Some(want.as_str()), "job {k}");
        }
    }

    #[test]
    fn a_job_that_makes_nothing_is_not_counted_open() {
        let mut cores = Cores::start(1).expect("runtime starts");
        cores.spawn(|| None::<std::future::Ready<()>>);
        wait_open(&cores, &[0]);
    }
}
