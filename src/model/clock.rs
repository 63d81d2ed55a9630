//! The time AWA's offers are measured against: the system's, moved by an offset that tests
//! set, so that an offer's timeout is tested by moving the clock rather than by waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use time::OffsetDateTime;

/// The system clock plus an offset (zero unless a test moved it). Clones share the offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_millis: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> OffsetDateTime {
        let offset = self.offset_millis.load(Ordering::Relaxed);
        OffsetDateTime::now_utc() + time::Duration::milliseconds(offset)
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_millis.fetch_add(millis, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advanced_clock_is_ahead_by_what_it_was_moved_and_clones_follow() {
        let clock = Clock::default();
        let copy = clock.clone();
        clock.advance(Duration::from_secs(3600));
        let ahead = copy.now() - OffsetDateTime::now_utc();
        assert!(ahead >= time::Duration::seconds(3599), "{ahead}");
        assert!(ahead <= time::Duration::seconds(3601), "{ahead}");
    }
}
