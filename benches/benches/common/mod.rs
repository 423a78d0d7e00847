//! What the criterion targets share.

use std::time::Duration;

use criterion::Criterion;

/// Short runs: the machine has 2 cores and is often shared.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
}
