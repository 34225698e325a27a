//! Reading a workspace's scheduling inputs from Postgres (design §10.1): the workspace and its
//! zone, hour settings, habits, the user's tasks, the calendar, skips and locked instances.
//! Locked and past task chunks count towards their task.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use shared::db::Tx;
use shared::error::{Classify, JobError};
use shared::hours::WeekHours;
use shared::time::{InvalidTimezone, local_to_utc, workspace_zone};
use uuid::Uuid;

use crate::engine::recurrence::{Frequency, MonthlyType, Recurrence};
use crate::engine::{
    DependencyType, Existing, Habit, HourSettings, HourType, Inputs, LockedInstances, Priority,
    Task, TimePreference,
};

/// Loads the inputs of `ws_id` for a window of `window_days` days from `now`.
///
/// # Errors
/// Permanent when the workspace does not exist, its timezone is `auto`/unset without a user or
/// invalid, or its hour settings are unreadable; retryable when the database fails.
pub async fn load(
    conn: &mut Tx,
    ws_id: Uuid,
    user_id: Option<Uuid>,
    window_days: u32,
    now: DateTime<Utc>,
) -> Result<Inputs, JobError> {
    let workspace: Option<(Option<String>, Option<bool>)> =
        sqlx::query_as("SELECT timezone, deleted FROM public.workspaces WHERE id = $1")
            .bind(ws_id)
            .fetch_optional(&mut *conn)
            .await
            .retryable("reading the workspace")?;
    let Some((timezone, deleted)) = workspace else {
        return Err(JobError::permanent(format!(
            "workspace {ws_id} does not exist"
        )));
    };
    if deleted == Some(true) {
        return Err(JobError::permanent(format!("workspace {ws_id} is deleted")));
    }
    let tz = zone(timezone.as_deref(), user_id, ws_id)?;
    let today = now.with_timezone(&tz).date_naive();
    let last = today
        .checked_add_days(Days::new(u64::from(window_days)))
        .unwrap_or(today);
    let range_end = local_to_utc(tz, last.and_time(NaiveTime::MIN));
    let start_of_today = local_to_utc(tz, today.and_time(NaiveTime::MIN));

    Ok(Inputs {
        hours: hour_settings(conn, ws_id).await?,
        habits: habits(conn, ws_id).await?,
        tasks: match user_id {
            Some(user) => tasks(conn, ws_id, user, now).await?,
            None => Vec::new(),
        },
        existing: existing(conn, ws_id, now, range_end).await?,
        skips: skips(conn, ws_id, today, last).await?,
        locked: locked_instances(conn, ws_id, start_of_today, range_end).await?,
        tz,
        now,
        window_days,
    })
}

/// The zone to schedule in. Stricter than [`workspace_zone`], the rule `schedule-task` uses
/// (`auto`/unset read as UTC): placing habits at the wrong hours of every day is worse than not
/// placing them, so here `auto`/unset is read as UTC only when the message names a user, the
/// case where the original took the caller's browser zone (design §10.1).
fn zone(column: Option<&str>, user_id: Option<Uuid>, ws_id: Uuid) -> Result<Tz, JobError> {
    match column.map(str::trim) {
        None | Some("") | Some("auto") if user_id.is_none() => Err(JobError::permanent(format!(
            "workspace {ws_id} has timezone `auto`: background scheduling needs a fixed IANA \
             zone in workspaces.timezone (or a user_id in the message)"
        ))),
        column => workspace_zone(column).map_err(|InvalidTimezone(name)| {
            JobError::permanent(format!(
                "workspace {ws_id} has timezone {name:?}, which is not an IANA zone"
            ))
        }),
    }
}

async fn hour_settings(conn: &mut Tx, ws_id: Uuid) -> Result<HourSettings, JobError> {
    let rows: Vec<(String, serde_json::Value)> = sqlx::query_as(
        "SELECT type::text, data FROM public.workspace_calendar_hour_settings WHERE ws_id = $1",
    )
    .bind(ws_id)
    .fetch_all(&mut *conn)
    .await
    .retryable("reading hour settings")?;
    let mut hours = HourSettings::default();
    for (kind, data) in rows {
        let week = WeekHours::from_json(data).permanent(&format!(
            "reading the {kind} hour settings of workspace {ws_id}"
        ))?;
        match kind.as_str() {
            "WORK" => hours.work = week,
            "MEETING" => hours.meeting = week,
            _ => hours.personal = week,
        }
    }
    Ok(hours)
}

fn priority(value: Option<&str>) -> Priority {
    match value {
        Some("low") => Priority::Low,
        Some("high") => Priority::High,
        Some("critical") => Priority::Critical,
        _ => Priority::Normal,
    }
}

fn hour_type(value: Option<&str>) -> HourType {
    match value {
        Some("work_hours") => HourType::Work,
        Some("meeting_hours") => HourType::Meeting,
        _ => HourType::Personal,
    }
}

#[derive(sqlx::FromRow)]
struct HabitRow {
    id: Uuid,
    name: String,
    color: Option<String>,
    calendar_hours: Option<String>,
    priority: Option<String>,
    duration_minutes: i32,
    min_duration_minutes: Option<i32>,
    max_duration_minutes: Option<i32>,
    ideal_time: Option<NaiveTime>,
    time_preference: Option<String>,
    frequency: String,
    recurrence_interval: Option<i32>,
    days_of_week: Option<Vec<i32>>,
    monthly_type: Option<String>,
    day_of_month: Option<i32>,
    week_of_month: Option<i32>,
    day_of_week_monthly: Option<i32>,
    start_date: NaiveDate,
    end_date: Option<NaiveDate>,
    is_splittable: bool,
    min_instances_per_day: Option<i32>,
    ideal_instances_per_day: Option<i32>,
    max_instances_per_day: Option<i32>,
    dependency_habit_id: Option<Uuid>,
    dependency_type: Option<String>,
}

async fn habits(conn: &mut Tx, ws_id: Uuid) -> Result<Vec<Habit>, JobError> {
    let rows: Vec<HabitRow> = sqlx::query_as(
        "SELECT id, name, color, calendar_hours::text, priority::text, duration_minutes,
                min_duration_minutes, max_duration_minutes, ideal_time, time_preference::text,
                frequency::text, recurrence_interval, days_of_week, monthly_type::text, day_of_month,
                week_of_month, day_of_week_monthly, start_date, end_date, is_splittable,
                min_instances_per_day, ideal_instances_per_day, max_instances_per_day,
                dependency_habit_id, dependency_type
         FROM public.workspace_habits
         WHERE ws_id = $1 AND is_active IS TRUE AND auto_schedule IS TRUE
           AND is_visible_in_calendar IS NOT FALSE AND deleted_at IS NULL
         ORDER BY id",
    )
    .bind(ws_id)
    .fetch_all(&mut *conn)
    .await
    .retryable("reading habits")?;
    let small = |v: Option<i32>| v.and_then(|v| u32::try_from(v).ok());
    Ok(rows
        .into_iter()
        .map(|r| Habit {
            id: r.id,
            name: r.name,
            color: r.color.filter(|c| !c.is_empty()),
            hour_type: hour_type(r.calendar_hours.as_deref()),
            priority: priority(r.priority.as_deref()),
            duration_minutes: i64::from(r.duration_minutes),
            min_duration_minutes: r.min_duration_minutes.map(i64::from),
            max_duration_minutes: r.max_duration_minutes.map(i64::from),
            ideal_time: r.ideal_time,
            time_preference: match r.time_preference.as_deref() {
                Some("morning") => Some(TimePreference::Morning),
                Some("afternoon") => Some(TimePreference::Afternoon),
                Some("evening") => Some(TimePreference::Evening),
                Some("night") => Some(TimePreference::Night),
                _ => None,
            },
            recurrence: Recurrence {
                frequency: match r.frequency.as_str() {
                    "weekly" => Frequency::Weekly,
                    "monthly" => Frequency::Monthly,
                    "yearly" => Frequency::Yearly,
                    "custom" => Frequency::Custom,
                    _ => Frequency::Daily,
                },
                interval: small(r.recurrence_interval).unwrap_or(1).max(1),
                days_of_week: r
                    .days_of_week
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|d| u32::try_from(d).ok())
                    .collect(),
                monthly_type: match r.monthly_type.as_deref() {
                    Some("day_of_week") => Some(MonthlyType::DayOfWeek),
                    Some("day_of_month") => Some(MonthlyType::DayOfMonth),
                    _ => None,
                },
                day_of_month: small(r.day_of_month),
                week_of_month: small(r.week_of_month),
                day_of_week_monthly: small(r.day_of_week_monthly),
                start_date: r.start_date,
                end_date: r.end_date,
            },
            is_splittable: r.is_splittable,
            min_instances: r.min_instances_per_day.map(i64::from),
            ideal_instances: r.ideal_instances_per_day.map(i64::from),
            max_instances: r.max_instances_per_day.map(i64::from),
            dependency: r.dependency_habit_id.map(|id| {
                let kind = if r.dependency_type.as_deref() == Some("before") {
                    DependencyType::Before
                } else {
                    DependencyType::After
                };
                (id, kind)
            }),
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: Uuid,
    name: String,
    priority: Option<String>,
    total_duration: f32,
    is_splittable: bool,
    min_split_duration_minutes: Option<f32>,
    max_split_duration_minutes: Option<f32>,
    calendar_hours: Option<String>,
    start_date: Option<DateTime<Utc>>,
    end_date: Option<DateTime<Utc>>,
    created_at: Option<DateTime<Utc>>,
    done_minutes: i64,
}

/// The user's open tasks in the workspace with auto-scheduling on, less the minutes already
/// covered by locked or past chunks.
async fn tasks(
    conn: &mut Tx,
    ws_id: Uuid,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<Task>, JobError> {
    let rows: Vec<TaskRow> = sqlx::query_as(
        "SELECT t.id, t.name, t.priority::text, s.total_duration, s.is_splittable,
                s.min_split_duration_minutes, s.max_split_duration_minutes,
                s.calendar_hours::text, t.start_date, t.end_date, t.created_at,
                coalesce((SELECT sum(extract(epoch FROM e.end_at - e.start_at))::bigint / 60
                          FROM public.task_calendar_events tc
                          JOIN public.workspace_calendar_events e ON e.id = tc.event_id
                          WHERE tc.task_id = t.id AND (e.locked OR e.start_at < $3)), 0) AS done_minutes
         FROM public.tasks t
         JOIN public.task_lists l ON l.id = t.list_id
         JOIN public.workspace_boards b ON b.id = l.board_id
         JOIN public.task_user_scheduling_settings s ON s.task_id = t.id AND s.user_id = $2
         WHERE b.ws_id = $1 AND b.deleted_at IS NULL AND l.deleted IS NOT TRUE
           AND t.deleted_at IS NULL AND t.completed IS NOT TRUE AND t.closed_at IS NULL
           AND s.auto_schedule AND s.total_duration > 0
         ORDER BY t.id",
    )
    .bind(ws_id)
    .bind(user_id)
    .bind(now)
    .fetch_all(&mut *conn)
    .await
    .retryable("reading the user's tasks")?;
    Ok(rows
        .into_iter()
        .map(|r| Task {
            id: r.id,
            name: r.name,
            priority: priority(r.priority.as_deref()),
            total_minutes: ((f64::from(r.total_duration) * 60.0).round() as i64 - r.done_minutes)
                .max(0),
            is_splittable: r.is_splittable,
            min_split_minutes: r.min_split_duration_minutes.map(|m| m.round() as i64),
            max_split_minutes: r.max_split_duration_minutes.map(|m| m.round() as i64),
            hour_type: hour_type(r.calendar_hours.as_deref()),
            start_date: r.start_date,
            deadline: r.end_date,
            created_at: r.created_at.unwrap_or(now),
        })
        .collect())
}

/// The workspace's events that end after `$2` (now) and start before `$3`, and whether each
/// is the scheduler's to move; synced events that take no time are not obstacles (design §6). Public for the calendar-reads benchmark (design §10.3).
pub const CALENDAR_SQL: &str = "SELECT e.start_at, e.end_at,
        (NOT e.locked AND e.start_at >= $2
         AND (EXISTS (SELECT 1 FROM public.habit_calendar_events h WHERE h.event_id = e.id)
              OR EXISTS (SELECT 1 FROM public.task_calendar_events t WHERE t.event_id = e.id)))
 FROM public.workspace_calendar_events e
 WHERE e.ws_id = $1 AND e.end_at > $2 AND e.start_at < $3
   AND coalesce(e.scheduling_metadata ->> 'busy', 'true') <> 'false'";

async fn existing(
    conn: &mut Tx,
    ws_id: Uuid,
    now: DateTime<Utc>,
    range_end: DateTime<Utc>,
) -> Result<Vec<Existing>, JobError> {
    let rows: Vec<(DateTime<Utc>, DateTime<Utc>, bool)> = sqlx::query_as(CALENDAR_SQL)
        .bind(ws_id)
        .bind(now)
        .bind(range_end)
        .fetch_all(&mut *conn)
        .await
        .retryable("reading the calendar")?;
    Ok(rows
        .into_iter()
        .map(|(start, end, movable)| Existing {
            start,
            end,
            movable,
        })
        .collect())
}

async fn skips(
    conn: &mut Tx,
    ws_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<HashSet<(Uuid, NaiveDate)>, JobError> {
    let rows: Vec<(Uuid, NaiveDate)> = sqlx::query_as(
        "SELECT habit_id, occurrence_date FROM public.habit_skipped_occurrences
         WHERE ws_id = $1 AND revoked_at IS NULL AND occurrence_date BETWEEN $2 AND $3",
    )
    .bind(ws_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await
    .retryable("reading skipped occurrences")?;
    Ok(rows.into_iter().collect())
}

async fn locked_instances(
    conn: &mut Tx,
    ws_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<HashMap<(Uuid, NaiveDate), LockedInstances>, JobError> {
    let rows: Vec<(Uuid, NaiveDate, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT h.habit_id, h.occurrence_date, e.start_at, e.end_at
         FROM public.habit_calendar_events h
         JOIN public.workspace_calendar_events e ON e.id = h.event_id
         WHERE e.ws_id = $1 AND e.locked AND e.start_at >= $2 AND e.start_at <= $3
         ORDER BY e.start_at",
    )
    .bind(ws_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await
    .retryable("reading locked habit instances")?;
    let mut out: HashMap<(Uuid, NaiveDate), LockedInstances> = HashMap::new();
    for (habit, date, start, end) in rows {
        let entry = out.entry((habit, date)).or_default();
        entry.count += 1;
        entry.minutes += (end - start).num_minutes();
        entry.intervals.push((start, end));
    }
    Ok(out)
}
