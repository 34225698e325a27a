//! Reading a workspace's scheduling inputs from Postgres and applying the engine's result in
//! one transaction (reference §7.2, §7.4).
//!
//! Applying reuses the scheduler's own future unlocked events (found through
//! `habit_calendar_events` / `task_calendar_events`) and moves them, inserts what is new with
//! its link row, and deletes the rest. Locked and past events are never written. Fixes over the
//! original: one transaction (a failure leaves the previous schedule as it was); link rows are
//! written with their real unique keys; unchanged events are not rewritten; orphans are also
//! removed when the new schedule is empty; locked and past task chunks count towards the task.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use shared::encryption::{MasterKey, WorkspaceKey, workspace_key};
use shared::error::{Classify, JobError};
use shared::hours::WeekHours;
use shared::time::local_to_utc;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::engine::recurrence::{Frequency, MonthlyType, Recurrence};
use crate::engine::{
    DependencyType, Existing, Habit, HourSettings, HourType, Inputs, LockedInstances, Output,
    Priority, Source, Task, TimePreference,
};

/// What one run did; stored in the run's `result` and the scheduling metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub timezone: String,
    pub window_days: u32,
    pub habits: usize,
    pub tasks: usize,
    pub events_total: usize,
    pub events_created: usize,
    pub events_updated: usize,
    pub events_unchanged: usize,
    pub events_deleted: usize,
    pub bumped_habits: usize,
    pub warnings: usize,
    pub status: &'static str,
}

/// Loads the inputs of `ws_id` for a window of `window_days` days from `now`.
///
/// # Errors
/// Permanent when the workspace does not exist, its timezone is `auto`/unset without a user or
/// invalid, or its hour settings are unreadable; retryable when the database fails.
pub async fn load(
    conn: &mut PgConnection,
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

fn zone(column: Option<&str>, user_id: Option<Uuid>, ws_id: Uuid) -> Result<Tz, JobError> {
    match column.map(str::trim) {
        None | Some("") | Some("auto") => match user_id {
            // The original takes the caller's browser zone here; a queued message has none.
            Some(_) => Ok(Tz::UTC),
            None => Err(JobError::permanent(format!(
                "workspace {ws_id} has timezone `auto`: background scheduling needs a fixed IANA \
                 zone in workspaces.timezone (or a user_id in the message)"
            ))),
        },
        Some(name) => name.parse::<Tz>().map_err(|_| {
            JobError::permanent(format!(
                "workspace {ws_id} has timezone {name:?}, which is not an IANA zone"
            ))
        }),
    }
}

async fn hour_settings(conn: &mut PgConnection, ws_id: Uuid) -> Result<HourSettings, JobError> {
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

async fn habits(conn: &mut PgConnection, ws_id: Uuid) -> Result<Vec<Habit>, JobError> {
    let rows: Vec<HabitRow> = sqlx::query_as(
        "SELECT id, name, color, calendar_hours::text, priority::text, duration_minutes,
                min_duration_minutes, max_duration_minutes, ideal_time, time_preference,
                frequency::text, recurrence_interval, days_of_week, monthly_type, day_of_month,
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
    conn: &mut PgConnection,
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

async fn existing(
    conn: &mut PgConnection,
    ws_id: Uuid,
    now: DateTime<Utc>,
    range_end: DateTime<Utc>,
) -> Result<Vec<Existing>, JobError> {
    let rows: Vec<(DateTime<Utc>, DateTime<Utc>, bool)> = sqlx::query_as(
        "SELECT e.start_at, e.end_at,
                (NOT e.locked AND e.start_at >= $2
                 AND (EXISTS (SELECT 1 FROM public.habit_calendar_events h WHERE h.event_id = e.id)
                      OR EXISTS (SELECT 1 FROM public.task_calendar_events t WHERE t.event_id = e.id)))
         FROM public.workspace_calendar_events e
         WHERE e.ws_id = $1 AND e.end_at > $2 AND e.start_at < $3",
    )
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
    conn: &mut PgConnection,
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
    conn: &mut PgConnection,
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

/// A scheduler-owned event that may be reused.
#[derive(Debug, sqlx::FromRow)]
struct Owned {
    id: Uuid,
    habit_id: Option<Uuid>,
    occurrence_date: Option<NaiveDate>,
    task_id: Option<Uuid>,
    title: String,
    start_at: DateTime<Utc>,
    end_at: DateTime<Utc>,
    color: Option<String>,
    is_encrypted: bool,
}

/// Applies `output` for `ws_id` on the transaction `conn`, with titles encrypted by `key`.
///
/// # Errors
/// Retryable when a statement fails (the caller's transaction then rolls back).
pub async fn apply(
    conn: &mut PgConnection,
    ws_id: Uuid,
    inputs: &Inputs,
    output: &Output,
    key: Option<&WorkspaceKey>,
) -> Result<Applied, JobError> {
    let now = inputs.now;
    let owned: Vec<Owned> = sqlx::query_as(
        "SELECT e.id, h.habit_id, h.occurrence_date, t.task_id, e.title, e.start_at, e.end_at,
                e.color, e.is_encrypted
         FROM public.workspace_calendar_events e
         LEFT JOIN public.habit_calendar_events h ON h.event_id = e.id
         LEFT JOIN public.task_calendar_events t ON t.event_id = e.id
         WHERE e.ws_id = $1 AND NOT e.locked AND e.start_at >= $2
           AND (h.event_id IS NOT NULL OR t.event_id IS NOT NULL)
         ORDER BY e.start_at, e.id
         FOR UPDATE OF e",
    )
    .bind(ws_id)
    .bind(now)
    .fetch_all(&mut *conn)
    .await
    .retryable("reading the scheduler's events")?;

    let mut candidates: HashMap<Source, Vec<usize>> = HashMap::new();
    for (i, row) in owned.iter().enumerate() {
        let source = match (row.habit_id, row.occurrence_date, row.task_id) {
            (Some(habit_id), Some(occurrence_date), _) => Source::Habit {
                habit_id,
                occurrence_date,
            },
            (_, _, Some(task_id)) => Source::Task { task_id },
            _ => continue,
        };
        candidates.entry(source).or_default().push(i);
    }
    let mut used = vec![false; owned.len()];
    let mut applied = Applied {
        timezone: inputs.tz.name().to_owned(),
        window_days: inputs.window_days,
        ..Applied::default()
    };
    let (
        mut upd_id,
        mut upd_title,
        mut upd_start,
        mut upd_end,
        mut upd_color,
        mut upd_enc,
        mut upd_minutes,
    ) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let (mut new_id, mut new_title, mut new_start, mut new_end, mut new_color) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut habit_link, mut task_link) = (Vec::new(), Vec::new());
    let encrypt = |title: &str| -> Result<String, JobError> {
        match key {
            Some(key) => key.encrypt(title).permanent("encrypting an event title"),
            None => Ok(title.to_owned()),
        }
    };

    for event in &output.events {
        let minutes = i32::try_from((event.end - event.start).num_minutes()).unwrap_or(i32::MAX);
        let reuse = candidates
            .get_mut(&event.source)
            .and_then(|list| list.iter().position(|&i| !used[i]).map(|p| list.remove(p)));
        if let Some(i) = reuse {
            used[i] = true;
            let row = &owned[i];
            let stored_title = if row.is_encrypted {
                key.and_then(|k| k.decrypt(&row.title).ok())
            } else {
                Some(row.title.clone())
            };
            let same = row.start_at == event.start
                && row.end_at == event.end
                && row.color.as_deref() == Some(event.color.as_str())
                && stored_title.as_deref() == Some(event.title.as_str())
                && row.is_encrypted == key.is_some();
            if same {
                applied.events_unchanged += 1;
                continue;
            }
            upd_id.push(row.id);
            upd_title.push(encrypt(&event.title)?);
            upd_start.push(event.start);
            upd_end.push(event.end);
            upd_color.push(event.color.clone());
            upd_enc.push(key.is_some());
            upd_minutes.push(minutes);
            applied.events_updated += 1;
        } else {
            let id = Uuid::new_v4();
            new_id.push(id);
            new_title.push(encrypt(&event.title)?);
            new_start.push(event.start);
            new_end.push(event.end);
            new_color.push(event.color.clone());
            match event.source {
                Source::Habit {
                    habit_id,
                    occurrence_date,
                } => habit_link.push((id, habit_id, occurrence_date)),
                Source::Task { task_id } => task_link.push((id, task_id, minutes)),
            }
            applied.events_created += 1;
        }
    }

    if !upd_id.is_empty() {
        sqlx::query(
            "UPDATE public.workspace_calendar_events e
             SET title = u.title, start_at = u.start_at, end_at = u.end_at, color = u.color,
                 is_encrypted = u.is_encrypted
             FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[],
                         $5::text[], $6::boolean[])
                  AS u(id, title, start_at, end_at, color, is_encrypted)
             WHERE e.id = u.id",
        )
        .bind(&upd_id)
        .bind(&upd_title)
        .bind(&upd_start)
        .bind(&upd_end)
        .bind(&upd_color)
        .bind(&upd_enc)
        .execute(&mut *conn)
        .await
        .retryable("moving the scheduler's events")?;
        sqlx::query(
            "UPDATE public.task_calendar_events t SET scheduled_minutes = u.minutes, updated_at = now()
             FROM UNNEST($1::uuid[], $2::int[]) AS u(id, minutes) WHERE t.event_id = u.id",
        )
        .bind(&upd_id)
        .bind(&upd_minutes)
        .execute(&mut *conn)
        .await
        .retryable("updating scheduled minutes")?;
    }
    if !new_id.is_empty() {
        sqlx::query(
            "INSERT INTO public.workspace_calendar_events
                 (id, ws_id, title, description, start_at, end_at, color, locked, is_encrypted)
             SELECT u.id, $1, u.title, '', u.start_at, u.end_at, u.color, false, $7
             FROM UNNEST($2::uuid[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[])
                  AS u(id, title, start_at, end_at, color)",
        )
        .bind(ws_id)
        .bind(&new_id)
        .bind(&new_title)
        .bind(&new_start)
        .bind(&new_end)
        .bind(&new_color)
        .bind(key.is_some())
        .execute(&mut *conn)
        .await
        .retryable("inserting the new events")?;
    }
    if !habit_link.is_empty() {
        let (ids, habits, dates): (Vec<Uuid>, Vec<Uuid>, Vec<NaiveDate>) = habit_link
            .iter()
            .copied()
            .fold((vec![], vec![], vec![]), |mut acc, (e, h, d)| {
                acc.0.push(e);
                acc.1.push(h);
                acc.2.push(d);
                acc
            });
        sqlx::query(
            "INSERT INTO public.habit_calendar_events (event_id, habit_id, occurrence_date)
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::date[])
             ON CONFLICT (habit_id, event_id) DO NOTHING",
        )
        .bind(&ids)
        .bind(&habits)
        .bind(&dates)
        .execute(&mut *conn)
        .await
        .retryable("linking the new habit events")?;
    }
    if !task_link.is_empty() {
        let (ids, tasks, minutes): (Vec<Uuid>, Vec<Uuid>, Vec<i32>) = task_link
            .iter()
            .copied()
            .fold((vec![], vec![], vec![]), |mut acc, (e, t, m)| {
                acc.0.push(e);
                acc.1.push(t);
                acc.2.push(m);
                acc
            });
        sqlx::query(
            "INSERT INTO public.task_calendar_events (event_id, task_id, scheduled_minutes, completed)
             SELECT e, t, m, false FROM UNNEST($1::uuid[], $2::uuid[], $3::int[]) AS u(e, t, m)
             ON CONFLICT (task_id, event_id) DO NOTHING",
        )
        .bind(&ids)
        .bind(&tasks)
        .bind(&minutes)
        .execute(&mut *conn)
        .await
        .retryable("linking the new task events")?;
    }
    // An instance is scheduled for a date again: a skip of that date no longer applies.
    let occurrences: Vec<(Uuid, NaiveDate)> = output
        .events
        .iter()
        .filter_map(|e| match e.source {
            Source::Habit {
                habit_id,
                occurrence_date,
            } => Some((habit_id, occurrence_date)),
            Source::Task { .. } => None,
        })
        .collect();
    if !occurrences.is_empty() {
        let (habits, dates): (Vec<Uuid>, Vec<NaiveDate>) = occurrences.into_iter().unzip();
        sqlx::query(
            "UPDATE public.habit_skipped_occurrences s SET revoked_at = now(), updated_at = now()
             FROM UNNEST($2::uuid[], $3::date[]) AS u(habit_id, occurrence_date)
             WHERE s.ws_id = $1 AND s.habit_id = u.habit_id
               AND s.occurrence_date = u.occurrence_date AND s.revoked_at IS NULL",
        )
        .bind(ws_id)
        .bind(&habits)
        .bind(&dates)
        .execute(&mut *conn)
        .await
        .retryable("revoking skips")?;
    }
    let orphans: Vec<Uuid> = owned
        .iter()
        .zip(&used)
        .filter(|(_, used)| !**used)
        .map(|(row, _)| row.id)
        .collect();
    if !orphans.is_empty() {
        // Link rows go with their events (ON DELETE CASCADE).
        let deleted = sqlx::query(
            "DELETE FROM public.workspace_calendar_events WHERE id = ANY($1) AND NOT locked",
        )
        .bind(&orphans)
        .execute(&mut *conn)
        .await
        .retryable("deleting orphaned events")?;
        applied.events_deleted = usize::try_from(deleted.rows_affected()).unwrap_or(usize::MAX);
    }

    applied.events_total = output.events.len();
    applied.habits = output.summary.habits_scheduled;
    applied.tasks = output.summary.tasks_scheduled;
    applied.bumped_habits = output.summary.bumped_habits;
    applied.warnings = output.habit_warnings.len() + output.task_warnings.len();
    applied.status = match (applied.warnings, applied.events_total) {
        (0, _) => "success",
        (_, 0) => "failed",
        _ => "partial",
    };
    let message = format!(
        "{} events ({} created, {} moved, {} unchanged, {} deleted), {} warnings",
        applied.events_total,
        applied.events_created,
        applied.events_updated,
        applied.events_unchanged,
        applied.events_deleted,
        applied.warnings
    );
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    sqlx::query("SELECT private.upsert_scheduling_metadata($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(ws_id)
        .bind(applied.status)
        .bind(message)
        .bind(count(applied.habits))
        .bind(count(applied.tasks))
        .bind(count(applied.events_total))
        .bind(count(applied.bumped_habits))
        .bind(i32::try_from(inputs.window_days).unwrap_or(30))
        .execute(&mut *conn)
        .await
        .retryable("recording the scheduling metadata")?;
    Ok(applied)
}

/// Loads, schedules and applies for `ws_id` in one transaction.
///
/// # Errors
/// See [`load`] and [`apply`].
pub async fn schedule(
    pool: &PgPool,
    master: Option<&MasterKey>,
    ws_id: Uuid,
    user_id: Option<Uuid>,
    window_days: u32,
    now: DateTime<Utc>,
) -> Result<Applied, JobError> {
    let key = workspace_key(pool, master, ws_id).await?;
    let mut tx = pool.begin().await.retryable("opening a transaction")?;
    let inputs = load(&mut tx, ws_id, user_id, window_days, now).await?;
    let output = crate::engine::generate(&inputs);
    let applied = apply(&mut tx, ws_id, &inputs, &output, key.as_ref()).await?;
    tx.commit().await.retryable("committing the schedule")?;
    Ok(applied)
}
