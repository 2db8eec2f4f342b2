//! The one clock that time-dependent decisions read: when the detective measures, when a
//! proposal is made and routed, when an approval lapses, when an action runs and what it
//! recovered. Production uses the system clock; a test pins it (or steps it) and hands the
//! same `Clock` to the application it spawns, so the app's own workers and the test's direct
//! calls agree on "now" instead of racing a fixed epoch against the wall clock.
//!
//! Security clocks (sessions, API keys, log-in limits, webhook signatures) and calls to the
//! clouds stay on the wall clock: they answer to the real world, not to a simulated one.

use chrono::{DateTime, Duration, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Stored in place of a pinned time: read the system clock.
const SYSTEM: i64 = i64::MIN;

/// A cheap handle; clones share one time.
#[derive(Debug, Clone)]
pub struct Clock {
    /// Microseconds since the epoch when pinned, else [`SYSTEM`].
    pinned_micros: Arc<AtomicI64>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl Clock {
    /// The wall clock.
    pub fn system() -> Clock {
        Clock { pinned_micros: Arc::new(AtomicI64::new(SYSTEM)) }
    }

    /// A clock standing at `at` until it is set or advanced.
    pub fn fixed(at: DateTime<Utc>) -> Clock {
        let clock = Clock::system();
        clock.set(at);
        clock
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self.pinned_micros.load(Ordering::SeqCst) {
            SYSTEM => Utc::now(),
            micros => DateTime::from_timestamp_micros(micros).unwrap_or_else(Utc::now),
        }
    }

    /// Pins every holder of this clock to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        self.pinned_micros.store(at.timestamp_micros(), Ordering::SeqCst);
    }

    /// Moves a pinned clock on by `by` (a system clock is pinned at now + `by`).
    pub fn advance(&self, by: Duration) {
        self.set(self.now() + by);
    }

    /// Back to the wall clock.
    pub fn release(&self) {
        self.pinned_micros.store(SYSTEM, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_pinned_clock_is_shared_by_its_clones_and_steps_exactly() {
        let at = Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap();
        let clock = Clock::fixed(at);
        let other = clock.clone();
        assert_eq!(other.now(), at);
        clock.advance(Duration::seconds(1));
        assert_eq!(other.now(), Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap());
        other.release();
        assert!((clock.now() - Utc::now()).num_seconds().abs() < 5);
    }
}
