//! A pool of idle compressors and decompressors shared by every connection
//! a factory creates. Where an agreement resets a direction per message, the
//! codec takes state from the pool at the start of a message and gives it
//! back (reset) at the end, so an idle connection holds none.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::backend::{Deflater, DeflaterParams, Inflater};

/// Idle compression state shared between connections. Cheap to clone (an
/// `Arc`); bounded by its capacity per kind of state.
#[derive(Clone, Debug, Default)]
pub struct DeflatePool {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    capacity: usize,
    deflaters: Mutex<Vec<Deflater>>,
    inflaters: Mutex<Vec<Inflater>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves only a Vec of idle
    // states behind, which is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl DeflatePool {
    /// A pool keeping at most `capacity` idle compressors and as many idle
    /// decompressors. 0 keeps none.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                capacity,
                deflaters: Mutex::new(Vec::new()),
                inflaters: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The process-wide pool with this capacity. Factories built with
    /// `new` / `try_new` use it, so the idle state of every connection in
    /// the process is shared whichever factory (or configuration value)
    /// accepted it: a program that builds its configuration per connection
    /// (`wsx::accept` does) still gets its quiet connections' state back.
    /// States are matched by their settings when taken, so factories with
    /// different policies can share one pool. Give a factory its own with
    /// `with_pool(DeflatePool::new(n))`.
    pub fn shared(capacity: usize) -> Self {
        static SHARED: Mutex<Vec<DeflatePool>> = Mutex::new(Vec::new());
        let mut pools = lock(&SHARED);
        if let Some(p) = pools.iter().find(|p| p.inner.capacity == capacity) {
            return p.clone();
        }
        let p = DeflatePool::new(capacity);
        pools.push(p.clone());
        p
    }

    /// How many idle (compressors, decompressors) the pool holds.
    pub fn idle(&self) -> (usize, usize) {
        (
            lock(&self.inner.deflaters).len(),
            lock(&self.inner.inflaters).len(),
        )
    }

    /// An idle compressor with these settings, or a new one.
    pub(crate) fn take_deflater(&self, params: DeflaterParams) -> Deflater {
        let mut v = lock(&self.inner.deflaters);
        match v.iter().rposition(|d| d.params() == params) {
            Some(i) => v.swap_remove(i),
            None => {
                drop(v);
                Deflater::new(params)
            }
        }
    }

    /// Return a compressor; it is reset, and dropped if the pool is full.
    pub(crate) fn put_deflater(&self, mut d: Deflater) {
        if self.inner.capacity == 0 {
            return;
        }
        d.reset();
        let mut v = lock(&self.inner.deflaters);
        if v.len() < self.inner.capacity {
            v.push(d);
        }
    }

    /// An idle decompressor, or a new one.
    pub(crate) fn take_inflater(&self) -> Inflater {
        let popped = lock(&self.inner.inflaters).pop();
        popped.unwrap_or_default()
    }

    /// Return a decompressor; it is reset, and dropped if the pool is full.
    pub(crate) fn put_inflater(&self, mut i: Inflater) {
        if self.inner.capacity == 0 {
            return;
        }
        i.reset();
        let mut v = lock(&self.inner.inflaters);
        if v.len() < self.inner.capacity {
            v.push(i);
        }
    }
}
