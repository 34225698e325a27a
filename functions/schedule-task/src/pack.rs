//! The legacy auto-schedule's packing, pure and in memory (design §10.2), with its two fixes:
//! locked and in-progress events are obstacles, and working hours are the workspace's own, in
//! its timezone.
//!
//! Each movable event becomes a task whose duration is its length and whose deadline is its
//! current end. Tasks are taken by urgency (score 500 plus a deadline bonus), then earlier
//! deadline, then longer duration, and each goes to the first quarter-hour-aligned gap in the
//! working hours from the next quarter hour on that fits it and ends by its deadline, else to
//! the first gap that fits at all.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use shared::hours::WeekHours;
use shared::time::ceil_quarter;
use uuid::Uuid;

/// How many local days of working hours are searched for a gap.
pub const HORIZON_DAYS: i64 = 60;

/// A half-open time interval `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// An unlocked future event the scheduler may move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Movable {
    pub id: Uuid,
    pub at: Interval,
}

/// Where an event goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub id: Uuid,
    pub at: Interval,
    /// No gap before its deadline (its current end) had room.
    pub after_deadline: bool,
}

/// The result: a placement per movable event, and the events left where they are because no
/// gap in the horizon fits them (they then count as obstacles for the others).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub placements: Vec<Placement>,
    pub kept: Vec<Uuid>,
}

/// Everything the packing reads.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub now: DateTime<Utc>,
    pub tz: Tz,
    pub work_hours: &'a WeekHours,
    pub movable: &'a [Movable],
    pub obstacles: &'a [Interval],
}

/// Plans every movable event.
pub fn plan(inputs: &Inputs<'_>) -> Plan {
    let earliest = ceil_quarter(inputs.now);
    let windows = working_windows(inputs.work_hours, inputs.tz, earliest);
    let mut kept: Vec<Movable> = Vec::new();
    // An event that fits nowhere stays put and becomes an obstacle; the others are planned
    // again around it. Each round keeps at least one more event, so this ends.
    loop {
        let fixed: Vec<Interval> = inputs
            .obstacles
            .iter()
            .copied()
            .chain(kept.iter().map(|m| m.at))
            .collect();
        let todo: Vec<Movable> = inputs
            .movable
            .iter()
            .filter(|m| !kept.iter().any(|k| k.id == m.id))
            .copied()
            .collect();
        let (placements, unplaced) = place_all(&todo, &fixed, &windows, inputs.now);
        if unplaced.is_empty() {
            let mut kept: Vec<Uuid> = kept.iter().map(|m| m.id).collect();
            kept.sort();
            return Plan { placements, kept };
        }
        kept.extend(unplaced);
    }
}

/// Working-hour blocks of every local day from `earliest` to the horizon, clipped to start no
/// earlier than `earliest`.
fn working_windows(hours: &WeekHours, tz: Tz, earliest: DateTime<Utc>) -> Vec<Interval> {
    let first_day = earliest.with_timezone(&tz).date_naive();
    let mut windows: Vec<Interval> = first_day
        .iter_days()
        .take(usize::try_from(HORIZON_DAYS).unwrap_or(0) + 1)
        .flat_map(|day| hours.blocks_on(day, tz))
        .filter_map(|(start, end)| {
            let start = ceil_quarter(start.max(earliest));
            (start < end).then_some(Interval { start, end })
        })
        .collect();
    windows.sort();
    windows
}

/// The urgency score of the original: 500 for priority `normal` plus a deadline bonus.
fn score(deadline: DateTime<Utc>, now: DateTime<Utc>) -> i32 {
    let hours_left = (deadline - now).num_minutes() as f64 / 60.0;
    let bonus = if hours_left < 0.0 {
        2000
    } else if hours_left < 24.0 {
        1500
    } else if hours_left < 72.0 {
        1000
    } else if hours_left < 168.0 {
        500
    } else {
        100
    };
    500 + bonus
}

fn place_all(
    todo: &[Movable],
    fixed: &[Interval],
    windows: &[Interval],
    now: DateTime<Utc>,
) -> (Vec<Placement>, Vec<Movable>) {
    let mut order: Vec<&Movable> = todo.iter().collect();
    order.sort_by(|a, b| {
        score(b.at.end, now)
            .cmp(&score(a.at.end, now))
            .then(a.at.end.cmp(&b.at.end))
            .then((b.at.end - b.at.start).cmp(&(a.at.end - a.at.start)))
            .then(a.id.cmp(&b.id))
    });
    let mut occupied = Timeline::new(fixed);
    let mut placements = Vec::with_capacity(order.len());
    let mut unplaced = Vec::new();
    for event in order {
        let duration = (event.at.end - event.at.start).max(Duration::zero());
        let by_deadline = occupied.first_fit(windows, duration, Some(event.at.end));
        let found = by_deadline.map(|start| (start, false)).or_else(|| {
            occupied
                .first_fit(windows, duration, None)
                .map(|start| (start, true))
        });
        match found {
            Some((start, after_deadline)) => {
                let at = Interval {
                    start,
                    end: start + duration,
                };
                occupied.insert(at);
                placements.push(Placement {
                    id: event.id,
                    at,
                    after_deadline,
                });
            }
            None => unplaced.push(*event),
        }
    }
    (placements, unplaced)
}

/// Occupied time, kept sorted and merged so that gaps are the spaces between neighbours.
#[derive(Debug)]
struct Timeline(Vec<Interval>);

impl Timeline {
    fn new(intervals: &[Interval]) -> Self {
        let mut timeline = Timeline(
            intervals
                .iter()
                .copied()
                .filter(|i| i.start < i.end)
                .collect(),
        );
        timeline.merge();
        timeline
    }

    fn merge(&mut self) {
        self.0.sort();
        let mut merged: Vec<Interval> = Vec::with_capacity(self.0.len());
        for next in self.0.drain(..) {
            match merged.last_mut() {
                Some(last) if next.start <= last.end => last.end = last.end.max(next.end),
                _ => merged.push(next),
            }
        }
        self.0 = merged;
    }

    fn insert(&mut self, interval: Interval) {
        if interval.start < interval.end {
            self.0.push(interval);
            self.merge();
        }
    }

    /// The first quarter-aligned start inside a window where `duration` fits between
    /// occupied intervals, ending by `latest_end` when given.
    fn first_fit(
        &self,
        windows: &[Interval],
        duration: Duration,
        latest_end: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        for window in windows {
            let mut cursor = window.start;
            let first = self.0.partition_point(|o| o.end <= cursor);
            for busy in self.0[first..].iter().take_while(|o| o.start < window.end) {
                if cursor + duration <= busy.start {
                    break;
                }
                cursor = cursor.max(ceil_quarter(busy.end));
            }
            let end = cursor + duration;
            if latest_end.is_some_and(|latest| end > latest) {
                // Every later gap ends later still.
                return None;
            }
            if end <= window.end {
                return Some(cursor);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn iv(start: &str, end: &str) -> Interval {
        Interval {
            start: t(start),
            end: t(end),
        }
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn placement_of(plan: &Plan, id: Uuid) -> Interval {
        plan.placements.iter().find(|p| p.id == id).unwrap().at
    }

    #[test]
    fn events_pack_from_the_next_quarter_hour_around_obstacles() {
        let hours = WeekHours::every_day("09:00", "17:00");
        let movable = [
            Movable {
                id: id(1),
                at: iv("2026-12-03T10:00:00Z", "2026-12-03T11:00:00Z"),
            },
            Movable {
                id: id(2),
                at: iv("2026-12-03T12:00:00Z", "2026-12-03T12:30:00Z"),
            },
        ];
        let obstacles = [iv("2026-12-01T09:20:00Z", "2026-12-01T10:05:00Z")];
        let plan = plan(&Inputs {
            now: t("2026-12-01T09:07:00Z"),
            tz: Tz::UTC,
            work_hours: &hours,
            movable: &movable,
            obstacles: &obstacles,
        });
        assert!(plan.kept.is_empty());
        // Both end on Dec 3 and score the same, so the earlier deadline goes first. Neither
        // fits 09:15-09:20, so both go after the obstacle, from 10:15 (10:05 rounded up).
        assert_eq!(
            placement_of(&plan, id(1)),
            iv("2026-12-01T10:15:00Z", "2026-12-01T11:15:00Z")
        );
        assert_eq!(
            placement_of(&plan, id(2)),
            iv("2026-12-01T11:15:00Z", "2026-12-01T11:45:00Z")
        );
    }

    #[test]
    fn urgent_events_go_first_and_hours_follow_the_zone() {
        let hours = WeekHours::every_day("09:00", "10:00");
        let berlin = chrono_tz::Europe::Berlin;
        let soon = Movable {
            id: id(9),
            at: iv("2026-12-01T20:00:00Z", "2026-12-01T21:00:00Z"),
        };
        let later = Movable {
            id: id(1),
            at: iv("2026-12-20T08:00:00Z", "2026-12-20T09:00:00Z"),
        };
        let plan = plan(&Inputs {
            now: t("2026-12-01T06:00:00Z"),
            tz: berlin,
            work_hours: &hours,
            movable: &[later, soon],
            obstacles: &[],
        });
        // 09:00 Berlin is 08:00Z in December.
        assert_eq!(
            placement_of(&plan, id(9)),
            iv("2026-12-01T08:00:00Z", "2026-12-01T09:00:00Z")
        );
        assert_eq!(
            placement_of(&plan, id(1)),
            iv("2026-12-02T08:00:00Z", "2026-12-02T09:00:00Z")
        );
    }

    #[test]
    fn an_event_that_fits_nowhere_stays_put_and_blocks_the_others() {
        let hours = WeekHours::every_day("09:00", "11:00");
        let huge = Movable {
            id: id(1),
            at: iv("2026-12-01T09:00:00Z", "2026-12-01T12:00:00Z"),
        };
        let small = Movable {
            id: id(2),
            at: iv("2026-12-05T09:00:00Z", "2026-12-05T10:00:00Z"),
        };
        let plan = plan(&Inputs {
            now: Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap(),
            tz: Tz::UTC,
            work_hours: &hours,
            movable: &[huge, small],
            obstacles: &[],
        });
        assert_eq!(plan.kept, vec![id(1)]);
        assert_eq!(
            placement_of(&plan, id(2)),
            iv("2026-12-02T09:00:00Z", "2026-12-02T10:00:00Z")
        );
    }

    #[test]
    fn an_event_that_cannot_meet_its_deadline_is_flagged() {
        let hours = WeekHours::every_day("09:00", "10:00");
        let blocked_today = [iv("2026-12-01T09:00:00Z", "2026-12-01T10:00:00Z")];
        let event = Movable {
            id: id(1),
            at: iv("2026-12-01T11:00:00Z", "2026-12-01T11:30:00Z"),
        };
        let plan = plan(&Inputs {
            now: t("2026-12-01T08:00:00Z"),
            tz: Tz::UTC,
            work_hours: &hours,
            movable: &[event],
            obstacles: &blocked_today,
        });
        assert_eq!(
            plan.placements,
            vec![Placement {
                id: id(1),
                at: iv("2026-12-02T09:00:00Z", "2026-12-02T09:30:00Z"),
                after_deadline: true,
            }]
        );
    }

    #[test]
    fn windows_skip_the_dst_gap_night() {
        // Night hours across the spring-forward night in Berlin: 02:00-03:00 does not exist.
        let hours = WeekHours::every_day("01:00", "04:00");
        let windows = working_windows(&hours, chrono_tz::Europe::Berlin, t("2026-03-28T12:00:00Z"));
        // 2026-03-29 01:00 CET = 00:00Z, 04:00 CEST = 02:00Z: two real hours.
        assert!(windows.contains(&iv("2026-03-29T00:00:00Z", "2026-03-29T02:00:00Z")));
    }
}
