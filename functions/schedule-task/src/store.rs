//! Reading a workspace's schedule inputs from Postgres and applying the plan, in one
//! transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::db::Db;
use shared::error::{Classify, JobError};
use shared::hours::WeekHours;
use shared::time::workspace_zone;
use uuid::Uuid;

use crate::pack::{self, Interval, Movable};

/// What one run did; stored in the run's `result`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Unlocked future events the run could move.
    pub events_considered: usize,
    /// Of those, the ones whose time changed.
    pub events_moved: usize,
    /// Left in place because no gap in the horizon fits them.
    pub events_kept: usize,
    /// Placed after their deadline (their previous end).
    pub events_after_deadline: usize,
    /// Locked or in-progress events that were worked around.
    pub obstacles: usize,
    pub timezone: String,
}

#[derive(Debug, sqlx::FromRow)]
struct EventRow {
    id: Uuid,
    start_at: DateTime<Utc>,
    end_at: DateTime<Utc>,
    locked: bool,
}

/// The workspace's events that end after `$2` (now), locked for the run; synced events that
/// take no time are not obstacles (design §6). Public for the
/// calendar-reads benchmark (design §10.3).
pub const EVENTS_SQL: &str =
    "SELECT id, start_at, end_at, locked FROM public.workspace_calendar_events
 WHERE ws_id = $1 AND end_at > $2
   AND coalesce(scheduling_metadata ->> 'busy', 'true') <> 'false'
 ORDER BY start_at, id
 FOR UPDATE";

/// Re-packs `ws_id`'s unlocked future events into its working hours as of `now`. Locked,
/// past and in-progress events are never written.
///
/// # Errors
/// Permanent when the workspace does not exist or its timezone or hour settings are invalid;
/// retryable when the database fails.
pub async fn reschedule(pool: &Db, ws_id: Uuid, now: DateTime<Utc>) -> Result<Summary, JobError> {
    let mut tx = pool.begin().await.retryable("opening a transaction")?;

    let timezone: Option<Option<String>> =
        sqlx::query_scalar("SELECT timezone FROM public.workspaces WHERE id = $1")
            .bind(ws_id)
            .fetch_optional(&mut tx)
            .await
            .retryable("reading the workspace")?;
    let Some(timezone) = timezone else {
        return Err(JobError::permanent(format!(
            "workspace {ws_id} does not exist"
        )));
    };
    let tz = workspace_zone(timezone.as_deref())
        .permanent(&format!("workspace {ws_id} has an unusable timezone"))?;

    let hours: Option<serde_json::Value> = sqlx::query_scalar(
        "SELECT data FROM public.workspace_calendar_hour_settings WHERE ws_id = $1 AND type = 'WORK'",
    )
    .bind(ws_id)
    .fetch_optional(&mut tx)
    .await
    .retryable("reading the WORK hour settings")?;
    let work_hours = match hours {
        Some(data) => WeekHours::from_json(data).permanent(&format!(
            "workspace {ws_id} has unusable WORK hour settings"
        ))?,
        None => WeekHours::every_day("09:00", "17:00"),
    };

    // Locked so a concurrent writer cannot change an event between planning and moving it.
    let events: Vec<EventRow> = sqlx::query_as(EVENTS_SQL)
        .bind(ws_id)
        .bind(now)
        .fetch_all(&mut tx)
        .await
        .retryable("reading the workspace's events")?;

    let at = |event: &EventRow| Interval {
        start: event.start_at,
        end: event.end_at,
    };
    let (movable, obstacles): (Vec<_>, Vec<_>) = events
        .iter()
        .partition(|event| !event.locked && event.start_at > now);
    let movable: Vec<Movable> = movable
        .into_iter()
        .map(|event| Movable {
            id: event.id,
            at: at(event),
        })
        .collect();
    let obstacles: Vec<Interval> = obstacles.into_iter().map(at).collect();

    let plan = pack::plan(&pack::Inputs {
        now,
        tz,
        work_hours: &work_hours,
        movable: &movable,
        obstacles: &obstacles,
    });

    let current: HashMap<Uuid, Interval> = movable.iter().map(|m| (m.id, m.at)).collect();
    let moved: Vec<_> = plan
        .placements
        .iter()
        .filter(|p| current.get(&p.id) != Some(&p.at))
        .collect();
    let ids: Vec<Uuid> = moved.iter().map(|p| p.id).collect();
    let starts: Vec<DateTime<Utc>> = moved.iter().map(|p| p.at.start).collect();
    let ends: Vec<DateTime<Utc>> = moved.iter().map(|p| p.at.end).collect();
    if !ids.is_empty() {
        sqlx::query(
            "UPDATE public.workspace_calendar_events AS e
             SET start_at = m.start_at, end_at = m.end_at
             FROM UNNEST($2::uuid[], $3::timestamptz[], $4::timestamptz[]) AS m (id, start_at, end_at)
             WHERE e.id = m.id AND e.ws_id = $1 AND NOT e.locked",
        )
        .bind(ws_id)
        .bind(&ids)
        .bind(&starts)
        .bind(&ends)
        .execute(&mut tx)
        .await
        .retryable("moving events")?;
    }
    tx.commit().await.retryable("committing the moves")?;

    Ok(Summary {
        events_considered: movable.len(),
        events_moved: ids.len(),
        events_kept: plan.kept.len(),
        events_after_deadline: plan.placements.iter().filter(|p| p.after_deadline).count(),
        obstacles: obstacles.len(),
        timezone: tz.name().to_owned(),
    })
}
