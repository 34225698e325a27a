//! Phase 1: habits, in dependency order, one occurrence (local date) at a time.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use shared::time::{ceil_quarter, local_to_utc};
use uuid::Uuid;

use super::timeline::{Slot, ceil15, mins, round15};
use super::{DependencyType, Habit, LockedInstances, Planned, Run, Source, Warning};

/// Minutes since local midnight of `t`.
pub(super) fn local_minutes(t: DateTime<Utc>, tz: Tz) -> i64 {
    let local = t.with_timezone(&tz);
    i64::from(local.hour() * 60 + local.minute())
}

/// The comparator of the ready queue: habits with an ideal time first, then with a time
/// preference, then higher priority; name and id keep it total.
fn compare(a: &Habit, b: &Habit) -> Ordering {
    b.ideal_time
        .is_some()
        .cmp(&a.ideal_time.is_some())
        .then(
            b.time_preference
                .is_some()
                .cmp(&a.time_preference.is_some()),
        )
        .then(b.priority.cmp(&a.priority))
        .then(a.name.cmp(&b.name))
        .then(a.id.cmp(&b.id))
}

/// The habits' scheduling order: a topological order of their dependencies (Kahn's algorithm,
/// the ready set ordered by [`compare`]); with a cycle, the plain comparator order.
pub(super) fn order(habits: &[Habit]) -> Vec<usize> {
    let index: HashMap<Uuid, usize> = habits.iter().enumerate().map(|(i, h)| (h.id, i)).collect();
    let mut incoming = vec![0usize; habits.len()];
    let mut outgoing: Vec<Vec<usize>> = vec![Vec::new(); habits.len()];
    for (i, habit) in habits.iter().enumerate() {
        let Some((dep, kind)) = habit.dependency else {
            continue;
        };
        let Some(&d) = index.get(&dep) else { continue };
        if d == i {
            continue;
        }
        let (from, to) = match kind {
            DependencyType::After => (d, i),
            DependencyType::Before => (i, d),
        };
        outgoing[from].push(to);
        incoming[to] += 1;
    }
    let by_comparator = |a: &usize, b: &usize| compare(&habits[*a], &habits[*b]);
    let mut ready: Vec<usize> = (0..habits.len()).filter(|&i| incoming[i] == 0).collect();
    let mut out = Vec::with_capacity(habits.len());
    while !ready.is_empty() {
        ready.sort_by(by_comparator);
        let next = ready.remove(0);
        out.push(next);
        for &to in &outgoing[next] {
            incoming[to] -= 1;
            if incoming[to] == 0 {
                ready.push(to);
            }
        }
    }
    if out.len() < habits.len() {
        out = (0..habits.len()).collect();
        out.sort_by(by_comparator);
    }
    out
}

/// The habits that must end before `habit` starts on the same day.
fn prerequisites<'a>(habit: &'a Habit, all: &'a [Habit]) -> impl Iterator<Item = Uuid> + 'a {
    let after = habit
        .dependency
        .filter(|(_, kind)| *kind == DependencyType::After)
        .map(|(dep, _)| dep);
    let before = all.iter().filter_map(move |other| match other.dependency {
        Some((dep, DependencyType::Before)) if dep == habit.id && other.id != habit.id => {
            Some(other.id)
        }
        _ => None,
    });
    after.into_iter().chain(before)
}

/// Instance and duration targets of one occurrence.
struct Targets {
    min_instances: i64,
    ideal_instances: i64,
    max_instances: i64,
    total: i64,
    min_instance: i64,
    max_instance: i64,
    preferred: i64,
}

fn targets(habit: &Habit) -> Targets {
    let total = round15(habit.duration_minutes.max(15) as f64);
    if !habit.is_splittable {
        // The original's shortest piece is half the duration, at least 15 minutes, rounded
        // *up* to a quarter: a 45-minute habit may shrink to 30 minutes, never to 15.
        let min_instance = match habit.min_duration_minutes {
            Some(min) => round15(min.max(15).min(total) as f64),
            None => ceil15((total as f64 / 2.0).max(15.0)).min(total),
        };
        let max = habit
            .max_duration_minutes
            .unwrap_or_else(|| ((total as f64) * 1.5).ceil().min(180.0) as i64)
            .max(min_instance);
        return Targets {
            min_instances: 1,
            ideal_instances: 1,
            max_instances: 1,
            total,
            min_instance,
            max_instance: round15(max as f64),
            preferred: total,
        };
    }
    let min_instances = habit.min_instances.unwrap_or(1).max(1);
    let max_instances = habit
        .max_instances
        .unwrap_or(min_instances)
        .max(min_instances);
    let ideal_instances = habit
        .ideal_instances
        .unwrap_or(min_instances)
        .clamp(min_instances, max_instances);
    let min_instance = round15(total.min(habit.min_duration_minutes.unwrap_or(15).max(15)) as f64);
    let max_instance =
        round15(total.min(min_instance.max(habit.max_duration_minutes.unwrap_or(total))) as f64);
    let preferred = round15(total as f64 / ideal_instances as f64)
        .clamp(min_instance, max_instance.max(min_instance));
    Targets {
        min_instances,
        ideal_instances,
        max_instances,
        total,
        min_instance,
        max_instance,
        preferred,
    }
}

/// How far a local start is from what the habit asks for, in minutes.
fn deviation(habit: &Habit, start_minutes: i64) -> Option<i64> {
    if let Some(ideal) = habit.ideal_time {
        let ideal = i64::from(ideal.hour() * 60 + ideal.minute());
        let d = (start_minutes - ideal).abs();
        return Some(d.min(24 * 60 - d));
    }
    habit
        .time_preference
        .map(|pref| (start_minutes - pref.centre()).abs())
}

/// The local minute a habit aims for, if any.
fn target_minute(habit: &Habit) -> Option<i64> {
    habit
        .ideal_time
        .map(|t| i64::from(t.hour() * 60 + t.minute()))
        .or(habit.time_preference.map(|p| p.centre()))
}

/// Orders slots by how close their feasible start window comes to the habit's target; with a
/// time preference, slots overlapping its range come first (when there are any).
fn by_preference(habit: &Habit, slots: Vec<Slot>, duration: i64, tz: Tz) -> Vec<Slot> {
    let Some(target) = target_minute(habit) else {
        return slots;
    };
    let window = |slot: &Slot| {
        let start = local_minutes(slot.start, tz);
        (start, start.max(start + slot.minutes() - duration))
    };
    let mut slots = slots;
    if let Some(pref) = habit.time_preference
        && habit.ideal_time.is_none()
    {
        let (lo, hi) = pref.range();
        let overlapping: Vec<Slot> = slots
            .iter()
            .filter(|s| {
                let (a, b) = window(s);
                a < hi && b >= lo
            })
            .copied()
            .collect();
        if !overlapping.is_empty() {
            slots = overlapping;
        }
    }
    let distance = |slot: &Slot| {
        let (a, b) = window(slot);
        if (a..=b).contains(&target) {
            0
        } else {
            (a - target).abs().min((b - target).abs())
        }
    };
    slots.sort_by_key(distance);
    slots
}

/// Where a habit instance of `duration` starts inside `slot`: as near its ideal time as the
/// slot allows; else its preference's anchors or local noon, whichever first fits; else the
/// end of the slot nearest to noon.
fn ideal_start(habit: &Habit, slot: &Slot, duration: i64, tz: Tz) -> DateTime<Utc> {
    let latest = slot.end - mins(duration);
    if latest < slot.start {
        return slot.start;
    }
    let date = slot.start.with_timezone(&tz).date_naive();
    // Real wall-clock conversion: on a DST day, minutes since midnight are not local times.
    let at = |minute: i64| {
        let time = NaiveTime::from_hms_opt((minute / 60) as u32 % 24, (minute % 60) as u32, 0)
            .unwrap_or(NaiveTime::MIN);
        ceil_quarter(local_to_utc(tz, date.and_time(time)))
    };
    let fits = |t: DateTime<Utc>| t >= slot.start && t <= latest;
    if let Some(ideal) = habit.ideal_time {
        // As close to the ideal time as the slot allows.
        let wanted = at(i64::from(ideal.hour() * 60 + ideal.minute()));
        return wanted.clamp(slot.start, latest);
    }
    if let Some(pref) = habit.time_preference
        && let Some(anchor) = pref.anchors().into_iter().map(at).find(|t| fits(*t))
    {
        return anchor;
    }
    let noon = at(12 * 60);
    if fits(noon) {
        noon
    } else if noon < slot.start {
        slot.start
    } else {
        latest
    }
}

/// Schedules one occurrence of `habit` on local `date`. In `rebuild` mode (after a task bumped
/// it) shortfalls are not reported again.
pub(super) fn schedule_occurrence(
    run: &mut Run<'_>,
    habit: &Habit,
    date: NaiveDate,
    rebuild: bool,
    warnings: &mut Vec<Warning>,
) {
    if run.inputs.skips.contains(&(habit.id, date)) {
        return;
    }
    let inputs = run.inputs;
    let tz = inputs.tz;
    let t = targets(habit);
    let empty = LockedInstances::default();
    let locked = inputs.locked.get(&(habit.id, date)).unwrap_or(&empty);
    let (placed_count, placed_minutes) = run.placed_for(habit.id, date);
    let mut instances = locked.count + placed_count;
    let mut minutes = locked.minutes + placed_minutes;
    if minutes >= t.total {
        return;
    }
    let dependency_start = prerequisites(habit, &inputs.habits)
        .filter_map(|dep| run.anchors.get(&(dep, date)))
        .flatten()
        .max()
        .copied();
    let hours = inputs.hours.of(habit.hour_type);
    let mut placed_today = 0;
    let mut skipped: Option<String> = None;
    while instances < t.max_instances && minutes < t.total {
        let remaining = t.total - minutes;
        let below_ideal = instances < t.ideal_instances;
        let left = if below_ideal {
            t.ideal_instances - instances
        } else {
            1
        };
        let mut max_allowed = t.max_instance.min(remaining - t.min_instance * (left - 1));
        if max_allowed < t.min_instance {
            max_allowed = t.max_instance.min(remaining);
        }
        if max_allowed < t.min_instance {
            break;
        }
        let wish = if below_ideal {
            remaining as f64 / left as f64
        } else {
            t.preferred.min(remaining) as f64
        };
        let target = round15(wish).clamp(t.min_instance, max_allowed);
        let mut slots = run
            .timeline
            .free_slots(hours, date, tz, t.min_instance, run.earliest);
        if let Some(after) = dependency_start {
            slots.retain(|s| s.end > after);
            for slot in &mut slots {
                slot.start = slot.start.max(after);
            }
            slots.retain(|s| s.minutes() >= t.min_instance);
        }
        let slot = if target_minute(habit).is_some() {
            by_preference(habit, slots, target, tz)
                .into_iter()
                .find(|s| s.minutes() >= t.min_instance)
        } else {
            best_slot(&slots, t.preferred, t.min_instance, tz)
        };
        let Some(slot) = slot else { break };
        let duration = target
            .max(t.min_instance)
            .min(max_allowed.min(slot.minutes()));
        let mut start = ideal_start(habit, &slot, duration, tz);
        if let Some(after) = dependency_start {
            start = start.max(after);
        }
        start = ceil_quarter(start.clamp(slot.start, slot.end - mins(duration)));
        let end = start + mins(duration);
        if end > slot.end || start < slot.start {
            break;
        }
        let off_by = deviation(habit, local_minutes(start, tz));
        let tolerance = 4 * habit.max_duration_minutes.filter(|m| *m > 0).unwrap_or(
            if habit.duration_minutes > 0 {
                habit.duration_minutes
            } else {
                30
            },
        );
        if off_by.is_some_and(|d| d > tolerance) {
            skipped = Some(format!(
                "Skipping {} on {date}: no slot within {tolerance} minutes of its preferred time",
                habit.name
            ));
            break;
        }
        if run.timeline.conflicts(start, end) {
            break;
        }
        let occurrence_date = run.local_date(start);
        run.place(Planned {
            source: Source::Habit {
                habit_id: habit.id,
                occurrence_date: date,
            },
            title: habit.name.clone(),
            start,
            end,
            color: habit
                .color
                .clone()
                .unwrap_or_else(|| habit.hour_type.color().to_owned()),
            hour_type: habit.hour_type,
        });
        run.anchors
            .entry((habit.id, occurrence_date))
            .or_default()
            .push(end);
        instances += 1;
        minutes += duration;
        placed_today += 1;
        if let Some(d) = off_by.filter(|d| *d > 60) {
            warnings.push(Warning {
                source_id: habit.id,
                message: format!(
                    "{} on {date} starts {d} minutes from its preferred time",
                    habit.name
                ),
            });
        }
    }
    if rebuild {
        return;
    }
    if placed_today == 0
        && let Some(message) = skipped
    {
        warnings.push(Warning {
            source_id: habit.id,
            message,
        });
    } else if instances < t.min_instances || minutes < t.total {
        warnings.push(Warning {
            source_id: habit.id,
            message: format!(
                "{} on {date}: scheduled {minutes} of {} minutes in {instances} instance(s)",
                habit.name, t.total
            ),
        });
    }
}

/// The slot a habit without a time wish prefers: room for the preferred length (+200) over
/// room for the minimum (+100), then closeness of its start to local noon.
fn best_slot(slots: &[Slot], preferred: i64, min: i64, tz: Tz) -> Option<Slot> {
    let score = |slot: &Slot| -> i64 {
        let fit = if slot.minutes() >= preferred {
            400
        } else if slot.minutes() >= min {
            200
        } else {
            0
        };
        // Doubled to stay in integers: 0.5 per hour from noon.
        fit - (local_minutes(slot.start, tz) / 60 - 12).abs()
    };
    let mut best: Option<(i64, Slot)> = None;
    for slot in slots.iter().filter(|s| s.minutes() >= min) {
        let s = score(slot);
        if best.is_none_or(|(b, _)| s > b) {
            best = Some((s, *slot));
        }
    }
    best.map(|(_, slot)| slot)
}

/// Titles of split habits: `name (i/n)` per (habit, date) in start order, counting the locked
/// instances of that day first.
pub(super) fn relabel(
    events: &mut [Planned],
    habits: &[Habit],
    locked: &HashMap<(Uuid, NaiveDate), LockedInstances>,
) {
    let split: HashMap<Uuid, &Habit> = habits
        .iter()
        .filter(|h| h.is_splittable)
        .map(|h| (h.id, h))
        .collect();
    let mut groups: BTreeMap<(Uuid, NaiveDate), Vec<usize>> = BTreeMap::new();
    for (i, event) in events.iter().enumerate() {
        if let Source::Habit {
            habit_id,
            occurrence_date,
        } = event.source
            && split.contains_key(&habit_id)
        {
            groups
                .entry((habit_id, occurrence_date))
                .or_default()
                .push(i);
        }
    }
    for ((habit_id, date), mut members) in groups {
        members.sort_by_key(|&i| events[i].start);
        let before = locked.get(&(habit_id, date)).map_or(0, |l| l.count);
        let total = before + members.len() as i64;
        if total <= 1 {
            continue;
        }
        for (k, &i) in members.iter().enumerate() {
            events[i].title = format!(
                "{} ({}/{total})",
                split[&habit_id].name,
                before + k as i64 + 1
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use uuid::Uuid;

    use super::*;
    use crate::engine::recurrence::Recurrence;
    use crate::engine::{HourType, Priority};

    fn habit(duration_minutes: i64, min_duration_minutes: Option<i64>) -> Habit {
        Habit {
            id: Uuid::nil(),
            name: "Read".to_owned(),
            color: None,
            hour_type: HourType::Personal,
            priority: Priority::Normal,
            duration_minutes,
            min_duration_minutes,
            max_duration_minutes: None,
            ideal_time: None,
            time_preference: None,
            recurrence: Recurrence::daily(NaiveDate::MIN),
            is_splittable: false,
            min_instances: None,
            ideal_instances: None,
            max_instances: None,
            dependency: None,
        }
    }

    #[test]
    fn a_whole_habits_shortest_piece_is_half_its_length_rounded_up_to_a_quarter() {
        for (duration, shortest) in [(15, 15), (30, 15), (45, 30), (60, 30), (75, 45), (90, 45)] {
            assert_eq!(
                targets(&habit(duration, None)).min_instance,
                shortest,
                "{duration}-minute habit"
            );
        }
        // An explicit minimum is kept (to the nearest quarter, within the duration).
        assert_eq!(targets(&habit(45, Some(15))).min_instance, 15);
        assert_eq!(targets(&habit(45, Some(120))).min_instance, 45);
    }
}
