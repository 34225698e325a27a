//! The unified scheduling engine (design §10.1): pure and in memory. Habits first, in
//! dependency order, then a user's tasks by priority and deadline; urgent tasks may bump
//! lower-priority habit events of their day, which are then rebuilt around the task.
//!
//! Deliberate differences from the original: real timezone arithmetic (`chrono-tz`, DST gaps
//! moved forward, overlaps take the first instant); obstacles merged before gaps are computed;
//! the workspace's hour settings honoured; future unlocked events that the scheduler does not
//! own (manual or Microsoft events) are obstacles; starts inside a slot are rounded up to a
//! quarter hour, never down into an obstacle. The output depends only on the inputs.

mod habits;
pub mod recurrence;
mod tasks;
pub mod timeline;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use shared::hours::WeekHours;
use shared::time::local_to_utc;
use uuid::Uuid;

use self::recurrence::Recurrence;
use self::timeline::{Timeline, round_quarter};

/// `low | normal | high | critical` (null is normal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Critical,
}

impl Priority {
    /// The base score: 1 to 4.
    pub fn score(self) -> f64 {
        match self {
            Priority::Low => 1.0,
            Priority::Normal => 2.0,
            Priority::High => 3.0,
            Priority::Critical => 4.0,
        }
    }

    /// The label of an effective score.
    pub fn of_score(score: f64) -> Self {
        if score >= 4.5 {
            Priority::Critical
        } else if score >= 3.1 {
            Priority::High
        } else if score >= 1.6 {
            Priority::Normal
        } else {
            Priority::Low
        }
    }
}

/// Which hour settings an item is scheduled in (`calendar_hours`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HourType {
    Work,
    Meeting,
    #[default]
    Personal,
}

impl HourType {
    /// The colour of an item without its own.
    pub fn color(self) -> &'static str {
        match self {
            HourType::Work => "BLUE",
            HourType::Meeting => "CYAN",
            HourType::Personal => "GREEN",
        }
    }
}

/// `morning | afternoon | evening | night`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePreference {
    Morning,
    Afternoon,
    Evening,
    Night,
}

impl TimePreference {
    /// The local-minute range `[start, end)` slots are filtered by.
    pub fn range(self) -> (i64, i64) {
        match self {
            TimePreference::Morning => (5 * 60, 12 * 60),
            TimePreference::Afternoon => (12 * 60, 17 * 60),
            TimePreference::Evening => (17 * 60, 21 * 60),
            TimePreference::Night => (21 * 60, 24 * 60),
        }
    }

    /// The centre deviations are measured from, in local minutes.
    pub fn centre(self) -> i64 {
        match self {
            TimePreference::Morning => 8 * 60 + 30,
            TimePreference::Afternoon => 14 * 60 + 30,
            TimePreference::Evening => 19 * 60,
            TimePreference::Night => 22 * 60 + 30,
        }
    }

    /// Where a start is tried first, then second, in local minutes.
    pub fn anchors(self) -> [i64; 2] {
        match self {
            TimePreference::Morning => [9 * 60, 6 * 60],
            TimePreference::Afternoon => [14 * 60, 12 * 60],
            TimePreference::Evening => [18 * 60, 17 * 60],
            TimePreference::Night => [22 * 60, 21 * 60],
        }
    }
}

/// `after`: the habit follows its dependency on the same day; `before`: it precedes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DependencyType {
    After,
    Before,
}

/// One auto-scheduled habit.
#[derive(Debug, Clone, PartialEq)]
pub struct Habit {
    pub id: Uuid,
    pub name: String,
    pub color: Option<String>,
    pub hour_type: HourType,
    pub priority: Priority,
    pub duration_minutes: i64,
    pub min_duration_minutes: Option<i64>,
    pub max_duration_minutes: Option<i64>,
    pub ideal_time: Option<NaiveTime>,
    pub time_preference: Option<TimePreference>,
    pub recurrence: Recurrence,
    pub is_splittable: bool,
    pub min_instances: Option<i64>,
    pub ideal_instances: Option<i64>,
    pub max_instances: Option<i64>,
    pub dependency: Option<(Uuid, DependencyType)>,
}

/// One task of the user, with their scheduling settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: Uuid,
    pub name: String,
    pub priority: Priority,
    pub total_minutes: i64,
    pub is_splittable: bool,
    pub min_split_minutes: Option<i64>,
    pub max_split_minutes: Option<i64>,
    pub hour_type: HourType,
    pub start_date: Option<DateTime<Utc>>,
    pub deadline: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// An event already in the calendar. Everything but the scheduler's own movable events is an
/// obstacle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Existing {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Unlocked, in the future, and linked to a habit or task: the scheduler may replace it.
    pub movable: bool,
}

/// Locked instances of a habit on one date: they count towards its quota and anchor
/// dependencies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockedInstances {
    pub count: i64,
    pub minutes: i64,
    pub intervals: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

/// The three weeks of hour settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourSettings {
    pub work: WeekHours,
    pub meeting: WeekHours,
    pub personal: WeekHours,
}

impl Default for HourSettings {
    /// The original's default for a missing type: 07:00–23:00 every day.
    fn default() -> Self {
        let day = WeekHours::every_day("07:00", "23:00");
        HourSettings {
            work: day.clone(),
            meeting: day.clone(),
            personal: day,
        }
    }
}

impl HourSettings {
    pub fn of(&self, hour_type: HourType) -> &WeekHours {
        match hour_type {
            HourType::Work => &self.work,
            HourType::Meeting => &self.meeting,
            HourType::Personal => &self.personal,
        }
    }
}

/// Everything the engine reads.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub habits: Vec<Habit>,
    pub tasks: Vec<Task>,
    pub existing: Vec<Existing>,
    pub hours: HourSettings,
    /// Active skips: `(habit, local date)`.
    pub skips: HashSet<(Uuid, NaiveDate)>,
    pub locked: HashMap<(Uuid, NaiveDate), LockedInstances>,
    pub tz: Tz,
    pub now: DateTime<Utc>,
    pub window_days: u32,
}

/// What a placed event is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    Habit {
        habit_id: Uuid,
        occurrence_date: NaiveDate,
    },
    Task {
        task_id: Uuid,
    },
}

/// One event the engine placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Planned {
    pub source: Source,
    pub title: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub color: String,
    pub hour_type: HourType,
}

impl Serialize for HourType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            HourType::Work => "work_hours",
            HourType::Meeting => "meeting_hours",
            HourType::Personal => "personal_hours",
        })
    }
}

/// Something the engine could not do as asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub source_id: Uuid,
    pub message: String,
}

/// Totals of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub total_events: usize,
    pub habits_scheduled: usize,
    pub tasks_scheduled: usize,
    pub bumped_habits: usize,
    pub partially_scheduled_tasks: usize,
    pub unscheduled_tasks: usize,
}

/// The engine's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Output {
    /// Sorted by start.
    pub events: Vec<Planned>,
    pub habit_warnings: Vec<Warning>,
    pub task_warnings: Vec<Warning>,
    pub summary: Summary,
}

/// The working state of one run.
struct Run<'a> {
    inputs: &'a Inputs,
    timeline: Timeline,
    /// Placed events by key (the timeline's key); `None` once bumped.
    events: Vec<Option<Planned>>,
    /// Keys of the placed events of each habit occurrence.
    by_occurrence: HashMap<(Uuid, NaiveDate), Vec<usize>>,
    /// Keys of the placed habit events starting on each local date (what a task may bump).
    habits_by_day: HashMap<NaiveDate, Vec<usize>>,
    /// Dependency anchors: ends of placed and locked instances per (habit, date).
    anchors: HashMap<(Uuid, NaiveDate), Vec<DateTime<Utc>>>,
    /// No start before this: the next quarter hour at least ~7 minutes away.
    earliest: DateTime<Utc>,
    range_end: DateTime<Utc>,
    today: NaiveDate,
}

impl Run<'_> {
    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.inputs.tz).date_naive()
    }

    fn midnight(&self, date: NaiveDate) -> DateTime<Utc> {
        local_to_utc(self.inputs.tz, date.and_time(NaiveTime::MIN))
    }

    fn place(&mut self, event: Planned) -> usize {
        let key = self.events.len();
        self.timeline.occupy(event.start, event.end, key);
        if let Source::Habit {
            habit_id,
            occurrence_date,
        } = event.source
        {
            self.by_occurrence
                .entry((habit_id, occurrence_date))
                .or_default()
                .push(key);
            let day = self.local_date(event.start);
            self.habits_by_day.entry(day).or_default().push(key);
        }
        self.events.push(Some(event));
        key
    }

    /// Takes a placed event out again (a task bumped it).
    fn unplace(&mut self, key: usize) -> Option<Planned> {
        let event = self.events.get_mut(key)?.take()?;
        self.timeline.remove(event.start);
        Some(event)
    }

    /// Instances and minutes placed so far for a habit occurrence.
    fn placed_for(&self, habit_id: Uuid, date: NaiveDate) -> (i64, i64) {
        self.by_occurrence
            .get(&(habit_id, date))
            .into_iter()
            .flatten()
            .filter_map(|&k| self.events[k].as_ref())
            .fold((0, 0), |(n, m), e| {
                (n + 1, m + (e.end - e.start).num_minutes())
            })
    }
}

/// Schedules `inputs`.
pub fn generate(inputs: &Inputs) -> Output {
    let tz = inputs.tz;
    let now = inputs.now;
    let today = now.with_timezone(&tz).date_naive();
    let last_day = today
        .checked_add_days(Days::new(u64::from(inputs.window_days)))
        .unwrap_or(today);
    let obstacles = inputs
        .existing
        .iter()
        .filter(|e| !e.movable)
        .map(|e| (e.start, e.end))
        .collect();
    let mut anchors: HashMap<(Uuid, NaiveDate), Vec<DateTime<Utc>>> = HashMap::new();
    for (key, locked) in &inputs.locked {
        anchors
            .entry(*key)
            .or_default()
            .extend(locked.intervals.iter().map(|(_, end)| *end));
    }
    let mut run = Run {
        inputs,
        timeline: Timeline::new(obstacles),
        events: Vec::new(),
        by_occurrence: HashMap::new(),
        habits_by_day: HashMap::new(),
        anchors,
        earliest: round_quarter(now + chrono::Duration::minutes(14)),
        range_end: local_to_utc(tz, last_day.and_time(NaiveTime::MIN)),
        today,
    };

    let mut output = Output::default();
    let order = habits::order(&inputs.habits);
    for &index in &order {
        let habit = &inputs.habits[index];
        let last = run.local_date(run.range_end - chrono::Duration::milliseconds(1));
        for date in habit.recurrence.dates_between(today, last) {
            habits::schedule_occurrence(&mut run, habit, date, false, &mut output.habit_warnings);
        }
    }
    let bumped = tasks::schedule_all(&mut run, &order, &mut output);

    let mut events: Vec<Planned> = run.events.into_iter().flatten().collect();
    habits::relabel(&mut events, &inputs.habits, &inputs.locked);
    events.sort_by_key(|e| (e.start, e.source));
    output.summary.total_events = events.len();
    output.summary.habits_scheduled = events
        .iter()
        .filter(|e| matches!(e.source, Source::Habit { .. }))
        .count();
    let task_ids: BTreeMap<Uuid, ()> = events
        .iter()
        .filter_map(|e| match e.source {
            Source::Task { task_id } => Some((task_id, ())),
            Source::Habit { .. } => None,
        })
        .collect();
    output.summary.tasks_scheduled = task_ids.len();
    output.summary.bumped_habits = bumped;
    output.events = events;
    output
}

#[cfg(test)]
mod tests;
