//! Applying the engine's result to the calendar in the caller's transaction (design §10.1).
//!
//! [`diff`] decides, without I/O, what happens to every event: a stored scheduler-owned event
//! of the same habit occurrence or user task is kept as it is or moved, a new one is inserted,
//! and stored ones nobody claims are orphans. [`apply`] then runs one set-based statement per
//! kind of change. Fixes over the original: one transaction (a failure leaves the previous
//! schedule as it was); link rows are written with their real unique keys; unchanged events are
//! not rewritten; orphans are also removed when the new schedule is empty.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use shared::db::Tx;
use shared::encryption::WorkspaceKey;
use shared::error::{Classify, JobError};
use shared::limits;
use uuid::Uuid;

use crate::engine::{Inputs, Output, Planned, Source};

/// What one run did; stored in the run's result and the scheduling metadata.
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

/// A stored, future, unlocked event the scheduler owns (it has a habit or task link).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub id: Uuid,
    pub source: Source,
    /// The readable title; `None` when it is encrypted and cannot be decrypted here.
    pub title: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub color: Option<String>,
    pub is_encrypted: bool,
}

/// What applying a schedule changes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Diff<'a> {
    /// Stored events that already match their planned event.
    pub unchanged: usize,
    /// Stored events to rewrite: the stored id and its new placement.
    pub moves: Vec<(Uuid, &'a Planned)>,
    /// Planned events with no stored event to reuse.
    pub inserts: Vec<&'a Planned>,
    /// Stored events no planned event claims.
    pub orphans: Vec<Uuid>,
}

/// Pairs each planned event with the first unclaimed stored event of the same source (stored in
/// start order). `encrypt` says whether titles are now written encrypted: a stored event in the
/// other form is rewritten even when it matches.
pub fn diff<'a>(stored: &[Stored], planned: &'a [Planned], encrypt: bool) -> Diff<'a> {
    let mut unclaimed: HashMap<Source, Vec<&Stored>> = HashMap::new();
    for event in stored {
        unclaimed.entry(event.source).or_default().push(event);
    }
    for candidates in unclaimed.values_mut() {
        // Popped from the back: the earliest first.
        candidates.reverse();
    }
    let mut out = Diff::default();
    for event in planned {
        match unclaimed.get_mut(&event.source).and_then(Vec::pop) {
            Some(old) if matches(old, event, encrypt) => out.unchanged += 1,
            Some(old) => out.moves.push((old.id, event)),
            None => out.inserts.push(event),
        }
    }
    let mut orphans: Vec<&Stored> = unclaimed.into_values().flatten().collect();
    orphans.sort_by_key(|event| (event.start, event.id));
    out.orphans = orphans.into_iter().map(|event| event.id).collect();
    out
}

fn matches(old: &Stored, new: &Planned, encrypt: bool) -> bool {
    old.start == new.start
        && old.end == new.end
        && old.color.as_deref() == Some(new.color.as_str())
        && old.title.as_deref() == Some(written_title(new, encrypt))
        && old.is_encrypted == encrypt
}

/// The title `event` is stored with: its name cut to what the title column allows (for an
/// encrypted workspace, so the ciphertext fits). A task may be named with 1,024 characters, a
/// title holds 255 (design §5.1).
fn written_title(event: &Planned, encrypt: bool) -> &str {
    limits::EVENT_TITLE.clamp_plaintext(&event.title, encrypt)
}

/// Applies `output` for `ws_id` on the transaction `conn`, with titles encrypted by `key`.
///
/// # Errors
/// Retryable when a statement fails (the caller's transaction then rolls back); permanent when
/// a title cannot be encrypted.
pub async fn apply(
    conn: &mut Tx,
    ws_id: Uuid,
    inputs: &Inputs,
    output: &Output,
    key: Option<&WorkspaceKey>,
) -> Result<Applied, JobError> {
    let stored = stored_events(conn, ws_id, inputs.now, key).await?;
    let diff = diff(&stored, &output.events, key.is_some());
    let title = |event: &Planned| -> Result<String, JobError> {
        let title = written_title(event, key.is_some());
        match key {
            Some(key) => key.encrypt(title).permanent("encrypting an event title"),
            None => Ok(title.to_owned()),
        }
    };

    let moves = diff
        .moves
        .iter()
        .map(|(id, event)| Ok((*id, title(event)?, *event)))
        .collect::<Result<Vec<_>, JobError>>()?;
    move_events(conn, &moves, key.is_some()).await?;
    let inserts = diff
        .inserts
        .iter()
        .map(|event| Ok((Uuid::new_v4(), title(event)?, *event)))
        .collect::<Result<Vec<_>, JobError>>()?;
    insert_events(conn, ws_id, &inserts, key.is_some()).await?;
    link_habit_events(conn, &inserts).await?;
    link_task_events(conn, &inserts).await?;
    revoke_skips(conn, ws_id, &output.events).await?;
    let deleted = delete_orphans(conn, &diff.orphans).await?;

    let warnings = output.habit_warnings.len() + output.task_warnings.len();
    let applied = Applied {
        timezone: inputs.tz.name().to_owned(),
        window_days: inputs.window_days,
        habits: output.summary.habits_scheduled,
        tasks: output.summary.tasks_scheduled,
        events_total: output.events.len(),
        events_created: inserts.len(),
        events_updated: moves.len(),
        events_unchanged: diff.unchanged,
        events_deleted: deleted,
        bumped_habits: output.summary.bumped_habits,
        warnings,
        status: status(warnings, output.events.len()),
    };
    record_metadata(conn, ws_id, &applied).await?;
    Ok(applied)
}

/// `success` without warnings; `failed` when there are warnings and nothing was placed.
fn status(warnings: usize, events: usize) -> &'static str {
    match (warnings, events) {
        (0, _) => "success",
        (_, 0) => "failed",
        _ => "partial",
    }
}

/// A planned event with the id and (possibly encrypted) title it is written with.
type Row<'a> = (Uuid, String, &'a Planned);

/// The event columns of `rows`, one array each, for an `UNNEST`.
struct Columns<'a> {
    ids: Vec<Uuid>,
    titles: Vec<&'a str>,
    starts: Vec<DateTime<Utc>>,
    ends: Vec<DateTime<Utc>>,
    colors: Vec<&'a str>,
}

impl<'a> Columns<'a> {
    fn of(rows: &'a [Row<'_>]) -> Self {
        Columns {
            ids: rows.iter().map(|(id, _, _)| *id).collect(),
            titles: rows.iter().map(|(_, title, _)| title.as_str()).collect(),
            starts: rows.iter().map(|(_, _, e)| e.start).collect(),
            ends: rows.iter().map(|(_, _, e)| e.end).collect(),
            colors: rows.iter().map(|(_, _, e)| e.color.as_str()).collect(),
        }
    }
}

fn minutes(event: &Planned) -> i32 {
    i32::try_from((event.end - event.start).num_minutes()).unwrap_or(i32::MAX)
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The scheduler's own future, unlocked events of workspace `$1` from `$2` (now), locked for
/// the run. Public for the calendar-reads benchmark (design §10.3).
pub const OWNED_SQL: &str =
    "SELECT e.id, h.habit_id, h.occurrence_date, t.task_id, e.title, e.start_at, e.end_at,
        e.color, e.is_encrypted
 FROM public.workspace_calendar_events e
 LEFT JOIN public.habit_calendar_events h ON h.event_id = e.id
 LEFT JOIN public.task_calendar_events t ON t.event_id = e.id
 WHERE e.ws_id = $1 AND NOT e.locked AND e.start_at >= $2
   AND (h.event_id IS NOT NULL OR t.event_id IS NOT NULL)
 ORDER BY e.start_at, e.id
 FOR UPDATE OF e";

/// The scheduler's own future unlocked events, locked for the rest of the transaction.
async fn stored_events(
    conn: &mut Tx,
    ws_id: Uuid,
    now: DateTime<Utc>,
    key: Option<&WorkspaceKey>,
) -> Result<Vec<Stored>, JobError> {
    #[derive(sqlx::FromRow)]
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
    let rows: Vec<Owned> = sqlx::query_as(OWNED_SQL)
        .bind(ws_id)
        .bind(now)
        .fetch_all(&mut *conn)
        .await
        .retryable("reading the scheduler's events")?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let source = match (row.habit_id, row.occurrence_date, row.task_id) {
                (Some(habit_id), Some(occurrence_date), _) => Source::Habit {
                    habit_id,
                    occurrence_date,
                },
                (_, _, Some(task_id)) => Source::Task { task_id },
                _ => return None,
            };
            let title = if row.is_encrypted {
                key.and_then(|k| k.decrypt(&row.title).ok())
            } else {
                Some(row.title)
            };
            Some(Stored {
                id: row.id,
                source,
                title,
                start: row.start_at,
                end: row.end_at,
                color: row.color,
                is_encrypted: row.is_encrypted,
            })
        })
        .collect())
}

/// Rewrites moved events and their tasks' scheduled minutes.
async fn move_events(conn: &mut Tx, moves: &[Row<'_>], encrypted: bool) -> Result<(), JobError> {
    if moves.is_empty() {
        return Ok(());
    }
    let columns = Columns::of(moves);
    let minutes: Vec<i32> = moves.iter().map(|(_, _, e)| minutes(e)).collect();
    sqlx::query(
        "UPDATE public.workspace_calendar_events e
         SET title = u.title, start_at = u.start_at, end_at = u.end_at, color = u.color,
             is_encrypted = $6
         FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[])
              AS u(id, title, start_at, end_at, color)
         WHERE e.id = u.id",
    )
    .bind(&columns.ids)
    .bind(&columns.titles)
    .bind(&columns.starts)
    .bind(&columns.ends)
    .bind(&columns.colors)
    .bind(encrypted)
    .execute(&mut *conn)
    .await
    .retryable("moving the scheduler's events")?;
    sqlx::query(
        "UPDATE public.task_calendar_events t SET scheduled_minutes = u.minutes, updated_at = now()
         FROM UNNEST($1::uuid[], $2::int[]) AS u(id, minutes) WHERE t.event_id = u.id",
    )
    .bind(&columns.ids)
    .bind(&minutes)
    .execute(&mut *conn)
    .await
    .retryable("updating scheduled minutes")?;
    Ok(())
}

/// Inserts the new events (their links follow).
async fn insert_events(
    conn: &mut Tx,
    ws_id: Uuid,
    inserts: &[Row<'_>],
    encrypted: bool,
) -> Result<(), JobError> {
    if inserts.is_empty() {
        return Ok(());
    }
    let columns = Columns::of(inserts);
    sqlx::query(
        "INSERT INTO public.workspace_calendar_events
             (id, ws_id, title, description, start_at, end_at, color, locked, is_encrypted)
         SELECT u.id, $1, u.title, '', u.start_at, u.end_at, u.color, false, $7
         FROM UNNEST($2::uuid[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[])
              AS u(id, title, start_at, end_at, color)",
    )
    .bind(ws_id)
    .bind(&columns.ids)
    .bind(&columns.titles)
    .bind(&columns.starts)
    .bind(&columns.ends)
    .bind(&columns.colors)
    .bind(encrypted)
    .execute(&mut *conn)
    .await
    .retryable("inserting the new events")?;
    Ok(())
}

/// Links the new habit events to their habit occurrence.
async fn link_habit_events(conn: &mut Tx, inserts: &[Row<'_>]) -> Result<(), JobError> {
    let (mut ids, mut habits, mut dates) = (Vec::new(), Vec::new(), Vec::new());
    for (id, _, event) in inserts {
        if let Source::Habit {
            habit_id,
            occurrence_date,
        } = event.source
        {
            ids.push(*id);
            habits.push(habit_id);
            dates.push(occurrence_date);
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
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
    Ok(())
}

/// Links the new task events to their user task, with the minutes each one covers.
async fn link_task_events(conn: &mut Tx, inserts: &[Row<'_>]) -> Result<(), JobError> {
    let (mut ids, mut tasks, mut covered) = (Vec::new(), Vec::new(), Vec::new());
    for (id, _, event) in inserts {
        if let Source::Task { task_id } = event.source {
            ids.push(*id);
            tasks.push(task_id);
            covered.push(minutes(event));
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO public.task_calendar_events (event_id, task_id, scheduled_minutes, completed)
         SELECT e, t, m, false FROM UNNEST($1::uuid[], $2::uuid[], $3::int[]) AS u(e, t, m)
         ON CONFLICT (task_id, event_id) DO NOTHING",
    )
    .bind(&ids)
    .bind(&tasks)
    .bind(&covered)
    .execute(&mut *conn)
    .await
    .retryable("linking the new task events")?;
    Ok(())
}

/// An occurrence scheduled for a date again: a skip of that date no longer applies.
async fn revoke_skips(conn: &mut Tx, ws_id: Uuid, events: &[Planned]) -> Result<(), JobError> {
    let (habits, dates): (Vec<Uuid>, Vec<NaiveDate>) = events
        .iter()
        .filter_map(|e| match e.source {
            Source::Habit {
                habit_id,
                occurrence_date,
            } => Some((habit_id, occurrence_date)),
            Source::Task { .. } => None,
        })
        .unzip();
    if habits.is_empty() {
        return Ok(());
    }
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
    Ok(())
}

/// Deletes the orphans; their link rows go with them (ON DELETE CASCADE). Returns how many.
async fn delete_orphans(conn: &mut Tx, orphans: &[Uuid]) -> Result<usize, JobError> {
    if orphans.is_empty() {
        return Ok(0);
    }
    let deleted = sqlx::query(
        "DELETE FROM public.workspace_calendar_events WHERE id = ANY($1) AND NOT locked",
    )
    .bind(orphans)
    .execute(&mut *conn)
    .await
    .retryable("deleting orphaned events")?;
    Ok(usize::try_from(deleted.rows_affected()).unwrap_or(usize::MAX))
}

/// Records the run in `private.workspace_scheduling_metadata`, which the web app shows.
async fn record_metadata(conn: &mut Tx, ws_id: Uuid, applied: &Applied) -> Result<(), JobError> {
    let message = format!(
        "{} events ({} created, {} moved, {} unchanged, {} deleted), {} warnings",
        applied.events_total,
        applied.events_created,
        applied.events_updated,
        applied.events_unchanged,
        applied.events_deleted,
        applied.warnings
    );
    sqlx::query("SELECT private.upsert_scheduling_metadata($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(ws_id)
        .bind(applied.status)
        .bind(message)
        .bind(count(applied.habits))
        .bind(count(applied.tasks))
        .bind(count(applied.events_total))
        .bind(count(applied.bumped_habits))
        .bind(i32::try_from(applied.window_days).unwrap_or(30))
        .execute(&mut *conn)
        .await
        .retryable("recording the scheduling metadata")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::engine::HourType;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2031, 3, 3, hour, 0, 0).unwrap()
    }

    fn habit(n: u128, day: u32) -> Source {
        Source::Habit {
            habit_id: Uuid::from_u128(n),
            occurrence_date: NaiveDate::from_ymd_opt(2031, 3, day).unwrap(),
        }
    }

    fn planned(source: Source, title: &str, hour: u32) -> Planned {
        Planned {
            source,
            title: title.to_owned(),
            start: at(hour),
            end: at(hour + 1),
            color: "BLUE".to_owned(),
            hour_type: HourType::Work,
        }
    }

    fn stored(id: u128, plan: &Planned) -> Stored {
        Stored {
            id: Uuid::from_u128(id),
            source: plan.source,
            title: Some(plan.title.clone()),
            start: plan.start,
            end: plan.end,
            color: Some(plan.color.clone()),
            is_encrypted: false,
        }
    }

    #[test]
    fn an_identical_schedule_is_left_as_it_is() {
        let plan = vec![
            planned(habit(1, 3), "Run", 7),
            planned(
                Source::Task {
                    task_id: Uuid::from_u128(9),
                },
                "Write",
                9,
            ),
        ];
        let old = vec![stored(100, &plan[0]), stored(101, &plan[1])];
        let diff = diff(&old, &plan, false);
        assert_eq!(diff.unchanged, 2);
        assert!(diff.moves.is_empty() && diff.inserts.is_empty() && diff.orphans.is_empty());
    }

    #[test]
    fn a_changed_time_title_colour_or_form_moves_the_stored_event() {
        let plan = vec![planned(habit(1, 3), "Run", 7)];
        let mut later = stored(100, &plan[0]);
        later.start = at(6);
        let mut renamed = stored(100, &plan[0]);
        renamed.title = Some("Jog".into());
        let mut unreadable = stored(100, &plan[0]);
        unreadable.title = None;
        let mut recoloured = stored(100, &plan[0]);
        recoloured.color = None;
        for old in [later, renamed, unreadable, recoloured] {
            let diff = diff(std::slice::from_ref(&old), &plan, false);
            assert_eq!(
                diff.moves,
                vec![(Uuid::from_u128(100), &plan[0])],
                "{old:?}"
            );
        }
        // The same event, but titles are now to be written encrypted.
        let diff = diff(&[stored(100, &plan[0])], &plan, true);
        assert_eq!(diff.moves.len(), 1);
    }

    #[test]
    fn new_sources_are_inserted_and_unclaimed_stored_events_are_orphans() {
        let plan = vec![
            planned(habit(1, 3), "Run", 7),
            planned(habit(1, 4), "Run", 7),
        ];
        let gone = planned(habit(2, 3), "Read", 20);
        let old = vec![stored(100, &plan[0]), stored(200, &gone)];
        let diff = diff(&old, &plan, false);
        assert_eq!(diff.unchanged, 1);
        assert_eq!(diff.inserts, vec![&plan[1]]);
        assert_eq!(diff.orphans, vec![Uuid::from_u128(200)]);
    }

    #[test]
    fn split_pieces_reuse_stored_pieces_in_start_order() {
        let task = Source::Task {
            task_id: Uuid::from_u128(9),
        };
        let plan = vec![planned(task, "Write", 9), planned(task, "Write", 14)];
        // Three stored pieces, earliest first as they are read; two are reused.
        let old = vec![
            stored(1, &planned(task, "Write", 8)),
            stored(2, &planned(task, "Write", 14)),
            stored(3, &planned(task, "Write", 16)),
        ];
        let diff = diff(&old, &plan, false);
        assert_eq!(diff.moves, vec![(Uuid::from_u128(1), &plan[0])]);
        assert_eq!(diff.unchanged, 1);
        assert_eq!(diff.orphans, vec![Uuid::from_u128(3)]);
    }
}
