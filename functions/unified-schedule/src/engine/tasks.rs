//! Phase 2: a user's tasks, by effective priority, deadline and age. Urgent tasks may bump
//! lower-priority habit events of a day; the bumped occurrences are rebuilt around the task.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use chrono::{DateTime, Days, NaiveDate, Utc};
use shared::time::ceil_quarter;
use uuid::Uuid;

use super::timeline::{Slot, mins};
use super::{Habit, Output, Planned, Priority, Run, Source, Task, Warning, habits};

/// Deadline urgency: 0 without a deadline, 3 when overdue, else `3·e^(−hours left / 48)`.
pub(super) fn urgency(task: &Task, now: DateTime<Utc>) -> f64 {
    let Some(deadline) = task.deadline else {
        return 0.0;
    };
    let hours = (deadline - now).num_seconds() as f64 / 3600.0;
    if hours <= 0.0 {
        return 3.0;
    }
    ((3.0 * (-hours / 48.0).exp()) * 1000.0).round() / 1000.0
}

fn effective(task: &Task, now: DateTime<Utc>) -> f64 {
    task.priority.score() + urgency(task, now)
}

/// Places every user task (after the habits); returns how many habit events were bumped.
pub(super) fn schedule_all(run: &mut Run<'_>, habit_order: &[usize], output: &mut Output) -> usize {
    let inputs = run.inputs;
    let now = inputs.now;
    let mut tasks: Vec<&Task> = inputs
        .tasks
        .iter()
        .filter(|t| t.total_minutes > 0)
        .collect();
    tasks.sort_by(|a, b| {
        effective(b, now)
            .partial_cmp(&effective(a, now))
            .unwrap_or(Ordering::Equal)
            .then_with(|| match (a.deadline, b.deadline) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            })
            .then(a.created_at.cmp(&b.created_at))
            .then(a.id.cmp(&b.id))
    });
    let mut bumped_total = 0;
    for task in tasks {
        bumped_total += place_user_task(run, task, habit_order, output);
    }
    bumped_total
}

fn place_user_task(
    run: &mut Run<'_>,
    task: &Task,
    habit_order: &[usize],
    output: &mut Output,
) -> usize {
    let inputs = run.inputs;
    let now = inputs.now;
    let tz = inputs.tz;
    let total = task.total_minutes;
    let mut remaining = total;
    let (min, max) = if task.is_splittable {
        let min = task.min_split_minutes.unwrap_or(30).max(15);
        (min, task.max_split_minutes.unwrap_or(120).max(min))
    } else {
        (total, total)
    };
    let urgency = urgency(task, now);
    let score = effective(task, now);
    let label = Priority::of_score(score);
    let hard_deadline = task.deadline.filter(|d| *d > now);
    let may_bump = label == Priority::Critical || urgency > 0.0;
    let bump_first = urgency >= 2.0 || label == Priority::Critical;
    let hours = inputs.hours.of(task.hour_type);
    let mut after_deadline = false;
    let mut bumped = 0;

    for offset in 0..u64::from(inputs.window_days) {
        if remaining <= 0 {
            break;
        }
        let Some(date) = run.today.checked_add_days(Days::new(offset)) else {
            break;
        };
        let midnight = run.midnight(date);
        if hard_deadline.is_some_and(|d| midnight >= d) {
            break;
        }
        let next_midnight = run.midnight(date.succ_opt().unwrap_or(date));
        if task.start_date.is_some_and(|s| next_midnight <= s) {
            continue;
        }
        let earliest = task
            .start_date
            .map_or(run.earliest, |s| run.earliest.max(ceil_quarter(s)));
        let piece = remaining.min(min);
        let slots_now = |run: &Run<'_>| -> Vec<Slot> {
            let mut slots = run.timeline.free_slots(hours, date, tz, piece, earliest);
            if let Some(deadline) = hard_deadline {
                for slot in &mut slots {
                    slot.end = slot.end.min(deadline);
                }
                slots.retain(|s| s.minutes() >= piece);
            }
            slots
        };
        let mut slots = slots_now(run);
        let mut bumped_today: BTreeSet<(usize, Uuid, NaiveDate)> = BTreeSet::new();
        if may_bump && (bump_first || slots.is_empty()) {
            let until = hard_deadline.unwrap_or(run.range_end);
            bumped_today = bump(run, date, until, label);
            if !bumped_today.is_empty() {
                slots = slots_now(run);
            }
        }
        let mut cursor = earliest;
        loop {
            if remaining <= 0 {
                break;
            }
            let piece = remaining.min(min);
            let wanted = remaining.min(max);
            let candidates: Vec<usize> = (0..slots.len())
                .filter(|&i| slots[i].start >= cursor)
                .collect();
            let pick = candidates
                .iter()
                .find(|&&i| slots[i].minutes() >= wanted)
                .or_else(|| candidates.iter().find(|&&i| slots[i].minutes() >= piece))
                .copied();
            let Some(i) = pick else { break };
            let slot = slots.remove(i);
            let start = ceil_quarter(slot.start);
            let room = (slot.end - start).num_minutes();
            let duration = if remaining <= min {
                remaining
            } else {
                wanted.max(min)
            }
            .min(room);
            if duration <= 0 || (duration < min && duration < remaining) {
                continue;
            }
            let end = start + mins(duration);
            if run.timeline.conflicts(start, end) {
                continue;
            }
            if hard_deadline.is_some_and(|d| end > d) {
                after_deadline = true;
                continue;
            }
            run.place(Planned {
                source: Source::Task { task_id: task.id },
                title: task.name.clone(),
                start,
                end,
                color: task.hour_type.color().to_owned(),
                hour_type: task.hour_type,
            });
            remaining -= duration;
            if (slot.end - end).num_minutes() >= min.min(remaining.max(1)) {
                slots.push(Slot {
                    start: end,
                    end: slot.end,
                });
                slots.sort_by_key(|s| s.start);
            }
            cursor = end;
        }
        if !bumped_today.is_empty() {
            bumped += bumped_today.len();
            rebuild(run, &bumped_today, habit_order, &mut output.habit_warnings);
        }
    }

    let scheduled = total - remaining.max(0);
    if scheduled == 0 {
        output.summary.unscheduled_tasks += 1;
        output.task_warnings.push(Warning {
            source_id: task.id,
            message: format!("{}: no available slots for {total} minutes", task.name),
        });
    } else if remaining > 0 {
        output.summary.partially_scheduled_tasks += 1;
        output.task_warnings.push(Warning {
            source_id: task.id,
            message: format!(
                "{}: {remaining} of {total} minutes ({}%) could not be scheduled{}",
                task.name,
                remaining * 100 / total,
                if after_deadline {
                    " before its deadline"
                } else {
                    ""
                }
            ),
        });
    }
    bumped
}

/// Removes this run's habit events on local `date` that start before `until` and whose
/// habit's priority is lower than `label`. Returns them as (key, habit, occurrence date).
fn bump(
    run: &mut Run<'_>,
    date: NaiveDate,
    until: DateTime<Utc>,
    label: Priority,
) -> BTreeSet<(usize, Uuid, NaiveDate)> {
    let inputs = run.inputs;
    let priority_of = |id: Uuid| {
        inputs
            .habits
            .iter()
            .find(|h| h.id == id)
            .map(|h| h.priority)
    };
    let victims: Vec<(usize, Uuid, NaiveDate)> = run
        .habits_by_day
        .get(&date)
        .into_iter()
        .flatten()
        .filter_map(|&key| {
            let event = run.events[key].as_ref()?;
            let Source::Habit {
                habit_id,
                occurrence_date,
            } = event.source
            else {
                return None;
            };
            let lower = priority_of(habit_id).is_some_and(|p| p < label);
            (lower && event.start < until && event.start >= inputs.now).then_some((
                key,
                habit_id,
                occurrence_date,
            ))
        })
        .collect();
    for (key, _, _) in &victims {
        run.unplace(*key);
    }
    victims.into_iter().collect()
}

/// Schedules the bumped habit occurrences again, in habit order, around what the task took.
fn rebuild(
    run: &mut Run<'_>,
    bumped: &BTreeSet<(usize, Uuid, NaiveDate)>,
    habit_order: &[usize],
    warnings: &mut Vec<Warning>,
) {
    let inputs = run.inputs;
    for &index in habit_order {
        let habit: &Habit = &inputs.habits[index];
        let dates: BTreeSet<NaiveDate> = bumped
            .iter()
            .filter(|(_, id, _)| *id == habit.id)
            .map(|(_, _, date)| *date)
            .collect();
        for date in dates {
            habits::schedule_occurrence(run, habit, date, true, warnings);
        }
    }
}
