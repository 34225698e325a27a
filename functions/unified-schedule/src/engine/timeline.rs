//! The occupied time of a workspace and the free slots it leaves inside hour settings.
//!
//! Obstacles (locked, past and foreign events) are merged once, so nested or overlapping
//! obstacles never produce a bogus gap (a deliberate fix over the original, which paired
//! neighbours by start time). Events placed in this run are kept apart because tasks may
//! bump habit events out again.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use shared::hours::WeekHours;

/// A free interval and how many minutes it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Slot {
    pub fn minutes(&self) -> i64 {
        (self.end - self.start).num_minutes()
    }
}

/// Occupied time: merged obstacles plus this run's placements (by start, disjoint).
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    obstacles: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    placed: BTreeMap<DateTime<Utc>, (DateTime<Utc>, usize)>,
}

impl Timeline {
    /// A timeline with these obstacles (any order, may overlap).
    pub fn new(mut obstacles: Vec<(DateTime<Utc>, DateTime<Utc>)>) -> Self {
        obstacles.retain(|(s, e)| s < e);
        obstacles.sort();
        let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::with_capacity(obstacles.len());
        for (start, end) in obstacles {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        Timeline {
            obstacles: merged,
            placed: BTreeMap::new(),
        }
    }

    /// Whether `[start, end)` overlaps anything occupied.
    pub fn conflicts(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        // The last obstacle starting before `end` is the only one that can reach `start`.
        let i = self.obstacles.partition_point(|(s, _)| *s < end);
        if i > 0 && self.obstacles[i - 1].1 > start {
            return true;
        }
        self.placed
            .range(..end)
            .next_back()
            .is_some_and(|(_, (e, _))| *e > start)
    }

    /// Records a placement; `key` identifies it for [`Timeline::remove`].
    pub fn occupy(&mut self, start: DateTime<Utc>, end: DateTime<Utc>, key: usize) {
        self.placed.insert(start, (end, key));
    }

    /// Frees a placement.
    pub fn remove(&mut self, start: DateTime<Utc>) {
        self.placed.remove(&start);
    }

    /// Busy intervals overlapping `[from, to)`, merged, in order.
    fn busy_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let first = self.obstacles.partition_point(|(_, e)| *e <= from);
        let mut busy: Vec<_> = self.obstacles[first..]
            .iter()
            .take_while(|(s, _)| *s < to)
            .copied()
            .collect();
        if let Some((_, (end, _))) = self.placed.range(..from).next_back()
            && *end > from
        {
            busy.push((from, *end));
        }
        busy.extend(self.placed.range(from..to).map(|(s, (e, _))| (*s, *e)));
        busy.sort();
        let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::with_capacity(busy.len());
        for (s, e) in busy {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        merged
    }

    /// Free slots of local `date` inside `hours`, at least `min_minutes` long, not before
    /// `earliest`, in order.
    pub fn free_slots(
        &self,
        hours: &WeekHours,
        date: NaiveDate,
        tz: Tz,
        min_minutes: i64,
        earliest: DateTime<Utc>,
    ) -> Vec<Slot> {
        let mut slots = Vec::new();
        for (block_start, block_end) in hours.blocks_on(date, tz) {
            let start = block_start.max(earliest);
            if start >= block_end {
                continue;
            }
            let mut cursor = start;
            for (busy_start, busy_end) in self.busy_between(start, block_end) {
                if busy_start > cursor {
                    slots.push(Slot {
                        start: cursor,
                        end: busy_start.min(block_end),
                    });
                }
                cursor = cursor.max(busy_end);
            }
            if cursor < block_end {
                slots.push(Slot {
                    start: cursor,
                    end: block_end,
                });
            }
        }
        slots.retain(|s| s.minutes() >= min_minutes.max(1));
        slots
    }
}

const QUARTER: i64 = 15 * 60;

/// Rounds to the nearest quarter hour (halves up).
pub fn round_quarter(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp();
    let rem = secs.rem_euclid(QUARTER);
    let down = secs - rem;
    let rounded = if rem * 2 >= QUARTER {
        down + QUARTER
    } else {
        down
    };
    DateTime::from_timestamp(rounded, 0).unwrap_or(t)
}

/// `minutes` rounded to a multiple of 15, at least 15.
pub fn round15(minutes: f64) -> i64 {
    ((minutes / 15.0).round() as i64 * 15).max(15)
}

/// `minutes` rounded up to a multiple of 15, at least 15.
pub fn ceil15(minutes: f64) -> i64 {
    ((minutes / 15.0).ceil() as i64 * 15).max(15)
}

/// Minutes as a duration.
pub fn mins(minutes: i64) -> Duration {
    Duration::minutes(minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn nested_obstacles_leave_no_bogus_gap() {
        // A long obstacle with a short one inside: the original's neighbour pairing saw a gap
        // after the short one.
        let timeline = Timeline::new(vec![
            (t("2026-12-01T09:00:00Z"), t("2026-12-01T12:00:00Z")),
            (t("2026-12-01T10:00:00Z"), t("2026-12-01T10:30:00Z")),
        ]);
        let hours = WeekHours::every_day("08:00", "13:00");
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let slots = timeline.free_slots(&hours, day, Tz::UTC, 15, t("2026-11-30T00:00:00Z"));
        assert_eq!(
            slots,
            vec![
                Slot {
                    start: t("2026-12-01T08:00:00Z"),
                    end: t("2026-12-01T09:00:00Z")
                },
                Slot {
                    start: t("2026-12-01T12:00:00Z"),
                    end: t("2026-12-01T13:00:00Z")
                },
            ]
        );
        assert!(timeline.conflicts(t("2026-12-01T11:00:00Z"), t("2026-12-01T11:15:00Z")));
        assert!(!timeline.conflicts(t("2026-12-01T12:00:00Z"), t("2026-12-01T12:15:00Z")));
    }

    #[test]
    fn placements_block_and_can_be_removed() {
        let mut timeline = Timeline::new(Vec::new());
        timeline.occupy(t("2026-12-01T09:00:00Z"), t("2026-12-01T10:00:00Z"), 0);
        assert!(timeline.conflicts(t("2026-12-01T09:30:00Z"), t("2026-12-01T09:45:00Z")));
        timeline.remove(t("2026-12-01T09:00:00Z"));
        assert!(!timeline.conflicts(t("2026-12-01T09:30:00Z"), t("2026-12-01T09:45:00Z")));
    }

    #[test]
    fn quarter_rounding() {
        assert_eq!(
            round_quarter(t("2026-12-01T09:07:29Z")),
            t("2026-12-01T09:00:00Z")
        );
        assert_eq!(
            round_quarter(t("2026-12-01T09:07:30Z")),
            t("2026-12-01T09:15:00Z")
        );
        assert_eq!(round15(50.0), 45);
        assert_eq!(round15(3.0), 15);
    }
}
