//! Plausible update times: an update's `ts_ms` must fall in a window around the time its
//! entry reached Redis (the millisecond part of its stream id, so a backlog read hours
//! later is judged by when it was written, not by when it is read).
//!
//! One `ts_ms` far in the future would become the tracker's "now" and age every real update
//! out of its windows (the year-3000 probe of issue 13 left `avgCorrelationScore` at 0 for
//! good). Such an update is dead-lettered (`timestamp_out_of_window`). A value that fits the
//! window once read as seconds, microseconds or nanoseconds is dead-lettered too, with its
//! own reason (`timestamp_unit`): converting it would hide a producer bug, and seconds lose
//! the precision the tracker's co-occurrence window (100 ms by default) needs.

/// The accepted window around receipt time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeWindow {
    /// How far before receipt an update's time may be, ms (`PAIRWARM_TIMESTAMP_MAX_AGE`;
    /// 0: no bound, for backfills of recorded data).
    pub max_age_ms: u64,
    /// How far after receipt, ms (`PAIRWARM_TIMESTAMP_MAX_AHEAD`: producers' clocks drift).
    pub max_ahead_ms: u64,
}

/// Why an update's time was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// The value fits the window in another unit.
    #[error(
        "ts_ms {ts_ms} looks like {unit} since the Unix epoch, not milliseconds (the entry reached Redis at {received_ms} ms); send milliseconds"
    )]
    Unit {
        /// The value given.
        ts_ms: u64,
        /// The unit it fits.
        unit: &'static str,
        /// Receipt time, ms since the epoch.
        received_ms: u64,
    },
    /// The value is outside the window in every unit.
    #[error(
        "ts_ms {ts_ms} is outside the accepted window around the entry's arrival in Redis at {received_ms} ms ({max_age_ms} ms before to {max_ahead_ms} ms after)"
    )]
    OutOfWindow {
        /// The value given.
        ts_ms: u64,
        /// Receipt time, ms since the epoch.
        received_ms: u64,
        /// Accepted age, ms.
        max_age_ms: u64,
        /// Accepted lead, ms.
        max_ahead_ms: u64,
    },
}

impl TimestampError {
    /// The dead-letter `reason` label.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unit { .. } => "timestamp_unit",
            Self::OutOfWindow { .. } => "timestamp_out_of_window",
        }
    }
}

impl TimeWindow {
    /// Whether `ts_ms` is within the window around `received_ms`.
    pub fn contains(&self, ts_ms: u64, received_ms: u64) -> bool {
        let oldest = match self.max_age_ms {
            0 => 0,
            age => received_ms.saturating_sub(age),
        };
        ts_ms >= oldest && ts_ms <= received_ms.saturating_add(self.max_ahead_ms)
    }

    /// Accepts `ts_ms` if it is within the window around `received_ms`.
    ///
    /// # Errors
    /// [`TimestampError::Unit`] when it would be within the window as seconds,
    /// microseconds or nanoseconds; [`TimestampError::OutOfWindow`] otherwise.
    pub fn check(&self, ts_ms: u64, received_ms: u64) -> Result<(), TimestampError> {
        if self.contains(ts_ms, received_ms) {
            return Ok(());
        }
        let readings = [
            ("seconds", ts_ms.checked_mul(1000)),
            ("microseconds", Some(ts_ms / 1000)),
            ("nanoseconds", Some(ts_ms / 1_000_000)),
        ];
        for (unit, as_ms) in readings {
            if as_ms.is_some_and(|ms| self.contains(ms, received_ms)) {
                return Err(TimestampError::Unit {
                    ts_ms,
                    unit,
                    received_ms,
                });
            }
        }
        Err(TimestampError::OutOfWindow {
            ts_ms,
            received_ms,
            max_age_ms: self.max_age_ms,
            max_ahead_ms: self.max_ahead_ms,
        })
    }
}

/// The millisecond part of a stream entry id (`<ms>-<seq>`): when the entry reached Redis.
pub fn received_ms(id: &str) -> Option<u64> {
    id.split_once('-').map_or(id, |(ms, _)| ms).parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_790_000_000_000;
    const WINDOW: TimeWindow = TimeWindow {
        max_age_ms: 3_600_000,
        max_ahead_ms: 300_000,
    };

    #[test]
    fn the_window_and_the_units() {
        assert_eq!(WINDOW.check(NOW, NOW), Ok(()));
        assert_eq!(WINDOW.check(NOW - 3_600_000, NOW), Ok(()));
        assert_eq!(WINDOW.check(NOW + 300_000, NOW), Ok(()));
        let year_3000 = 32_503_680_000_000;
        let e = WINDOW.check(year_3000, NOW).unwrap_err();
        assert_eq!(e.reason(), "timestamp_out_of_window");
        assert!(e.to_string().contains("32503680000000"), "{e}");
        assert_eq!(
            WINDOW.check(NOW + 300_001, NOW).unwrap_err().reason(),
            "timestamp_out_of_window"
        );
        assert_eq!(
            WINDOW.check(NOW - 3_600_001, NOW).unwrap_err().reason(),
            "timestamp_out_of_window"
        );
        assert_eq!(
            WINDOW.check(0, NOW).unwrap_err().reason(),
            "timestamp_out_of_window"
        );
        for (value, unit) in [
            (NOW / 1000, "seconds"),
            (NOW * 1000, "microseconds"),
            (NOW * 1_000_000, "nanoseconds"),
        ] {
            match WINDOW.check(value, NOW) {
                Err(TimestampError::Unit { unit: u, .. }) => assert_eq!(u, unit),
                other => panic!("{value}: {other:?}"),
            }
        }
        assert_eq!(
            WINDOW.check(u64::MAX, NOW).unwrap_err().reason(),
            "timestamp_out_of_window"
        );
        let backfill = TimeWindow {
            max_age_ms: 0,
            ..WINDOW
        };
        assert_eq!(backfill.check(NOW - 86_400_000 * 365, NOW), Ok(()));
        assert!(backfill.check(NOW + 300_001, NOW).is_err());
    }

    #[test]
    fn receipt_time_is_the_ids_milliseconds() {
        assert_eq!(received_ms("1790000000000-7"), Some(1_790_000_000_000));
        assert_eq!(received_ms("1790000000000"), Some(1_790_000_000_000));
        assert_eq!(received_ms("x-1"), None);
    }
}
