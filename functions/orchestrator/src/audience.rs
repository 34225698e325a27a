//! Which workspaces (or, for renewals, which watched calendars) a fan-out reaches, read in
//! keyset pages (never one unbounded query).

use chrono::{DateTime, Utc};
use shared::db::Db;
use shared::job_kind::JobKind;
use uuid::Uuid;

use crate::tick::FanOut;

/// Why an enumerated workspace gets no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SkipReason {
    /// `workspaces.deleted`.
    Deleted,
    /// Personal workspaces need a signed-in user to schedule (design §11).
    Personal,
    /// Timezone `auto` or unset: there is no local day to schedule into.
    TimezoneUnset,
}

impl SkipReason {
    /// The key in the run's `skipped_reasons`.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Deleted => "deleted",
            SkipReason::Personal => "personal",
            SkipReason::TimezoneUnset => "timezone_unset",
        }
    }
}

/// One distinct workspace of the audience, or one watched calendar of a renewal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub ws_id: Uuid,
    pub watched: Option<WatchedCalendar>,
    pub skip: Option<SkipReason>,
}

/// A calendar with a live push channel that needs its sync to renew or stop it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedCalendar {
    pub calendar_id: String,
    /// Its oldest live channel: the same for every retry of the tick, so it keys the
    /// message's deduplication id.
    pub channel_id: String,
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    ws_id: Uuid,
    personal: bool,
    timezone: Option<String>,
    deleted: bool,
}

/// The audience of `fan_out` after `after` (exclusive), at most `limit`, in key order.
/// Renewals reach the calendars whose live channel expires before `renew_until`.
///
/// # Errors
/// The database is unreachable.
pub async fn page(
    pool: &Db,
    fan_out: FanOut,
    renew_until: DateTime<Utc>,
    after: Option<&Candidate>,
    limit: i64,
) -> Result<Vec<Candidate>, sqlx::Error> {
    match fan_out {
        FanOut::Task(task) => workspace_page(pool, task, after.map(|c| c.ws_id), limit).await,
        FanOut::RenewWatchChannels => renewal_page(pool, renew_until, after, limit).await,
    }
}

/// The distinct workspaces of `task` after `after` (exclusive), at most `limit`, in `ws_id`
/// order. The inner query pages over the audience table's `ws_id` index; the workspace row is
/// joined afterwards, so skipped workspaces still advance the cursor.
async fn workspace_page(
    pool: &Db,
    task: JobKind,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Candidate>, sqlx::Error> {
    // Whole statements chosen at compile time: the cursor and the limit are bound parameters.
    // The first page has no cursor because the nil UUID is a real workspace id in Tuturuuu.
    macro_rules! page_of {
        ($audience:literal) => {
            (
                page_of!($audience, ""),
                page_of!($audience, "AND ws_id > $2"),
            )
        };
        ($audience:literal, $cursor:literal) => {
            concat!(
                "SELECT a.ws_id, w.personal, w.timezone, coalesce(w.deleted, false) AS deleted
                 FROM (",
                $audience,
                " ",
                $cursor,
                " ORDER BY ws_id LIMIT $1) a
                 JOIN public.workspaces w ON w.id = a.ws_id
                 ORDER BY a.ws_id"
            )
        };
    }
    let (first, next) = match task {
        // Distinct workspaces, not token rows: two tokens must not mean two syncs.
        JobKind::CalendarSync | JobKind::CalendarFullSync => page_of!(
            "SELECT DISTINCT ws_id FROM public.calendar_auth_tokens
             WHERE provider = 'google' AND is_active"
        ),
        JobKind::ScheduleTask => {
            page_of!("SELECT DISTINCT ws_id FROM public.calendar_auth_tokens WHERE is_active")
        }
        JobKind::UnifiedSchedule => page_of!(
            "SELECT DISTINCT ws_id FROM public.workspace_habits
             WHERE is_active AND auto_schedule AND deleted_at IS NULL"
        ),
    };
    let sql = if after.is_some() { next } else { first };
    let mut query = sqlx::query_as::<_, Row>(sql).bind(limit);
    if let Some(after) = after {
        query = query.bind(after);
    }
    let rows = query.fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .map(|row| Candidate {
            ws_id: row.ws_id,
            watched: None,
            skip: skip_reason(task, &row),
        })
        .collect())
}

/// The calendars, in `(ws_id, calendar_id)` order after `after`, with a live channel that
/// expires before `renew_until` or that no enabled inbound connection of an active token
/// wants any more (disabled, deleted, or its token deactivated).
async fn renewal_page(
    pool: &Db,
    renew_until: DateTime<Utc>,
    after: Option<&Candidate>,
    limit: i64,
) -> Result<Vec<Candidate>, sqlx::Error> {
    macro_rules! renewals {
        ($cursor:literal) => {
            concat!(
                "SELECT DISTINCT ON (c.ws_id, c.calendar_id)
                        c.ws_id, c.calendar_id, c.channel_id,
                        coalesce(w.deleted, true) AS deleted
                 FROM jobs.watch_channels c
                 LEFT JOIN public.workspaces w ON w.id = c.ws_id
                 WHERE c.stopped_at IS NULL ",
                $cursor,
                " AND (c.expires_at < $2 OR NOT EXISTS (
                        SELECT 1 FROM public.calendar_connections k
                        JOIN public.calendar_auth_tokens t ON t.id = k.auth_token_id
                        WHERE k.ws_id = c.ws_id AND k.auth_token_id = c.auth_token_id
                          AND k.calendar_id = c.calendar_id AND k.provider = 'google'
                          AND k.is_enabled AND k.sync_inbound_enabled AND t.is_active))
                 ORDER BY c.ws_id, c.calendar_id, c.created_at, c.channel_id
                 LIMIT $1"
            )
        };
    }
    type Row = (Uuid, String, String, bool);
    let rows: Vec<Row> = match after {
        None => {
            sqlx::query_as(renewals!(""))
                .bind(limit)
                .bind(renew_until)
                .fetch_all(pool)
                .await?
        }
        Some(after) => {
            let calendar = after.watched.as_ref().map(|w| w.calendar_id.as_str());
            sqlx::query_as(renewals!("AND (c.ws_id, c.calendar_id) > ($3, $4)"))
                .bind(limit)
                .bind(renew_until)
                .bind(after.ws_id)
                .bind(calendar.unwrap_or_default())
                .fetch_all(pool)
                .await?
        }
    };
    Ok(rows
        .into_iter()
        .map(|(ws_id, calendar_id, channel_id, deleted)| Candidate {
            ws_id,
            watched: Some(WatchedCalendar {
                calendar_id,
                channel_id,
            }),
            skip: deleted.then_some(SkipReason::Deleted),
        })
        .collect())
}

fn skip_reason(task: JobKind, row: &Row) -> Option<SkipReason> {
    if row.deleted {
        return Some(SkipReason::Deleted);
    }
    if task != JobKind::UnifiedSchedule {
        return None;
    }
    let timezone = row.timezone.as_deref().map(str::trim).unwrap_or_default();
    if row.personal {
        Some(SkipReason::Personal)
    } else if timezone.is_empty() || timezone.eq_ignore_ascii_case("auto") {
        Some(SkipReason::TimezoneUnset)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(personal: bool, timezone: Option<&str>, deleted: bool) -> Row {
        Row {
            ws_id: Uuid::nil(),
            personal,
            timezone: timezone.map(str::to_owned),
            deleted,
        }
    }

    #[test]
    fn only_unified_schedule_skips_personal_and_unset_timezones() {
        let unified = JobKind::UnifiedSchedule;
        assert_eq!(
            skip_reason(unified, &row(false, Some("Europe/Berlin"), false)),
            None
        );
        assert_eq!(
            skip_reason(unified, &row(true, Some("Europe/Berlin"), false)),
            Some(SkipReason::Personal)
        );
        for tz in [None, Some(""), Some("auto"), Some(" AUTO ")] {
            assert_eq!(
                skip_reason(unified, &row(false, tz, false)),
                Some(SkipReason::TimezoneUnset)
            );
        }
        assert_eq!(
            skip_reason(JobKind::CalendarSync, &row(true, None, false)),
            None
        );
        assert_eq!(
            skip_reason(JobKind::CalendarSync, &row(false, None, true)),
            Some(SkipReason::Deleted)
        );
    }
}
