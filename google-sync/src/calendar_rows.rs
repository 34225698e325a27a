//! Writing one page of synced events: `COPY` into a temporary table, then one `UPDATE` of the
//! stored rows that changed, one `INSERT` of the rows not stored yet, and one `DELETE` for
//! cancelled events (design §5: set-based, one statement each). The pages of a calendar's
//! first sync are copied straight into the table instead. Runs on the caller's transaction, so the page and
//! the sync token it leads to commit together.
//!
//! A stored row whose written columns would not change is left alone (not rewritten, not
//! counted as updated), so re-listing an unchanged calendar writes nothing. Its
//! `last_synced_at` therefore says when a sync last wrote the row's content; when a calendar
//! was last synced is `calendar_sync_states.last_synced_at` (design §6).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use shared::db::{Db, Tx};
use uuid::Uuid;

use crate::event_mapping::EventRow;

/// `scheduling_metadata` of a synced event that takes no time (design §6): the real schema
/// has no column for it, and Tuturuuu's own rows of this provider never use this one. Both
/// schedulers skip events marked so.
pub const FREE_TIME: &str = r#"{"busy": false}"#;

/// Exact row counts of one page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageCounts {
    pub inserted: u64,
    pub updated: u64,
    /// Stored rows already equal to what Google sent: not written.
    pub unchanged: u64,
    pub deleted: u64,
    /// Stored rows a listing from the start no longer returned (see [`remove_unlisted`]).
    pub removed: u64,
}

/// Upserts `rows` and deletes the events with ids in `deletes` (when `sync_deletes`), for the
/// Google calendar `calendar_id` of `ws_id`.
///
/// Stored encrypted text is never replaced by plaintext and `is_encrypted` never goes back to
/// false (design §6); `source_calendar_id` keeps its value when the new one is absent.
/// Rows repeated within the page count once (the last one wins).
///
/// With `into_empty` (the caller found no stored row of this calendar when its listing
/// began: a first sync), the rows are copied straight into the table, as fast as a raw COPY.
/// Should one of them be stored after all (an event Google listed on two pages), COPY fails on
/// the unique key, the page's transaction rolls back, and the retry, which resumes at the
/// page's checkpoint, finds the calendar no longer empty and merges.
///
/// # Errors
/// The database rejected a statement.
pub async fn apply_page(
    conn: &mut Tx,
    ws_id: Uuid,
    calendar_id: &str,
    rows: &[EventRow],
    deletes: &[String],
    sync_deletes: bool,
    into_empty: bool,
) -> Result<PageCounts, sqlx::Error> {
    let mut counts = PageCounts::default();
    if sync_deletes && !deletes.is_empty() {
        let deleted = sqlx::query(
            "DELETE FROM public.workspace_calendar_events
             WHERE ws_id = $1 AND provider = 'google'
               AND (   (external_calendar_id = $2 AND external_event_id = ANY($3))
                    OR (google_calendar_id = $2 AND google_event_id = ANY($3)))",
        )
        .bind(ws_id)
        .bind(calendar_id)
        .bind(deletes)
        .execute(&mut *conn)
        .await?;
        counts.deleted = deleted.rows_affected();
    }
    if rows.is_empty() {
        return Ok(counts);
    }

    let unique: BTreeMap<&str, &EventRow> = rows
        .iter()
        .map(|row| (row.external_event_id.as_str(), row))
        .collect();
    if into_empty {
        // The transaction's time, which the merge writes as `last_synced_at` too.
        let synced_at: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
            .fetch_one(&mut *conn)
            .await?;
        let mut copy = conn
            .copy_connection()
            .copy_in_raw(
                "COPY public.workspace_calendar_events (
                     ws_id, external_calendar_id, external_event_id, source_calendar_id, title,
                     description, location, start_at, end_at, color, is_encrypted,
                     external_updated_at, scheduling_metadata, provider, google_calendar_id,
                     google_event_id, locked, last_synced_at, sync_status)
                 FROM STDIN (FORMAT csv)",
            )
            .await?;
        copy.send(csv(unique.values().copied(), Some(synced_at)))
            .await?;
        copy.finish().await?;
        counts.inserted = unique.len() as u64;
        return Ok(counts);
    }
    sqlx::query(
        "CREATE TEMP TABLE IF NOT EXISTS sync_page (
             ws_id uuid, external_calendar_id text, external_event_id text,
             source_calendar_id uuid, title text, description text, location text,
             start_at timestamptz, end_at timestamptz, color text, is_encrypted boolean,
             external_updated_at timestamptz, scheduling_metadata jsonb
         ) ON COMMIT DROP",
    )
    .execute(&mut *conn)
    .await?;
    // The staging table lives only as long as the transaction, so nothing outlives it on a
    // pooled server connection (design §14); a second page in one transaction reuses it.
    sqlx::query("TRUNCATE sync_page")
        .execute(&mut *conn)
        .await?;
    let mut copy = conn
        .copy_connection()
        .copy_in_raw("COPY sync_page FROM STDIN (FORMAT csv)")
        .await?;
    copy.send(csv(unique.values().copied(), None)).await?;
    copy.finish().await?;

    // Production's text-limit trigger runs for every row an INSERT proposes, even one that
    // ON CONFLICT then leaves alone (design §5.1): stored rows are updated in place, and only
    // when they change, so an unchanged row costs a comparison and never reaches a trigger.
    let updated = sqlx::query(
        "UPDATE public.workspace_calendar_events AS e SET
             title = CASE WHEN e.is_encrypted AND NOT p.is_encrypted THEN e.title ELSE p.title END,
             description = CASE WHEN e.is_encrypted AND NOT p.is_encrypted
                                THEN e.description ELSE p.description END,
             location = CASE WHEN e.is_encrypted AND NOT p.is_encrypted
                             THEN e.location ELSE p.location END,
             is_encrypted = e.is_encrypted OR p.is_encrypted,
             source_calendar_id = coalesce(p.source_calendar_id, e.source_calendar_id),
             google_calendar_id = p.external_calendar_id,
             google_event_id = p.external_event_id,
             start_at = p.start_at,
             end_at = p.end_at,
             color = p.color,
             locked = true,
             external_updated_at = p.external_updated_at,
             scheduling_metadata = p.scheduling_metadata,
             last_synced_at = now(),
             sync_status = 'synced',
             sync_error = NULL
         FROM sync_page AS p
         WHERE e.ws_id = p.ws_id AND e.provider = 'google'
           AND e.external_calendar_id = p.external_calendar_id
           AND e.external_event_id = p.external_event_id
           -- The same expressions as above, against what is stored: equal means no write.
           AND (CASE WHEN e.is_encrypted AND NOT p.is_encrypted THEN e.title ELSE p.title END,
                CASE WHEN e.is_encrypted AND NOT p.is_encrypted
                     THEN e.description ELSE p.description END,
                CASE WHEN e.is_encrypted AND NOT p.is_encrypted
                     THEN e.location ELSE p.location END,
                e.is_encrypted OR p.is_encrypted,
                coalesce(p.source_calendar_id, e.source_calendar_id),
                p.external_calendar_id, p.external_event_id, p.start_at, p.end_at, p.color,
                true, p.external_updated_at, p.scheduling_metadata, 'synced', NULL::text)
               IS DISTINCT FROM
               (e.title, e.description, e.location, e.is_encrypted, e.source_calendar_id,
                e.google_calendar_id, e.google_event_id, e.start_at, e.end_at, e.color,
                e.locked, e.external_updated_at, e.scheduling_metadata, e.sync_status,
                e.sync_error)",
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    // Only rows not stored yet are proposed. One the web app inserted since (it holds no
    // lease) is merged rather than lost.
    let (inserted, merged): (i64, i64) = sqlx::query_as(
        "WITH inserted AS (
             INSERT INTO public.workspace_calendar_events AS e (
                 ws_id, provider, external_calendar_id, external_event_id,
                 google_calendar_id, google_event_id, source_calendar_id,
                 title, description, location, start_at, end_at, color, locked,
                 is_encrypted, external_updated_at, scheduling_metadata, last_synced_at,
                 sync_status)
             SELECT p.ws_id, 'google', p.external_calendar_id, p.external_event_id,
                    p.external_calendar_id, p.external_event_id, p.source_calendar_id,
                    p.title, p.description, p.location, p.start_at, p.end_at, p.color, true,
                    p.is_encrypted, p.external_updated_at, p.scheduling_metadata, now(), 'synced'
             FROM sync_page AS p
             WHERE NOT EXISTS (
                 SELECT 1 FROM public.workspace_calendar_events AS s
                 WHERE s.ws_id = p.ws_id AND s.provider = 'google'
                   AND s.external_calendar_id = p.external_calendar_id
                   AND s.external_event_id = p.external_event_id)
             ON CONFLICT (ws_id, provider, external_calendar_id, external_event_id) DO UPDATE SET
                 title = excluded.title, description = excluded.description,
                 location = excluded.location, is_encrypted = excluded.is_encrypted,
                 source_calendar_id = excluded.source_calendar_id,
                 google_calendar_id = excluded.google_calendar_id,
                 google_event_id = excluded.google_event_id, start_at = excluded.start_at,
                 end_at = excluded.end_at, color = excluded.color, locked = true,
                 external_updated_at = excluded.external_updated_at,
                 scheduling_metadata = excluded.scheduling_metadata,
                 last_synced_at = excluded.last_synced_at, sync_status = 'synced',
                 sync_error = NULL
             RETURNING (xmax = 0) AS fresh
         )
         SELECT count(*) FILTER (WHERE fresh), count(*) FILTER (WHERE NOT fresh) FROM inserted",
    )
    .fetch_one(&mut *conn)
    .await?;
    let updated = updated + merged.unsigned_abs();
    counts.inserted = inserted.unsigned_abs();
    counts.updated = updated;
    counts.unchanged = (unique.len() as u64).saturating_sub(counts.inserted + counts.updated);
    Ok(counts)
}

/// The rows as COPY's CSV: text always quoted (so `""` is an empty string), NULL as nothing.
/// With `synced_at`, each row also carries the columns the merge sets itself (provider, the
/// legacy Google ids, locked, `last_synced_at`, `sync_status`), for a COPY into the table.
fn csv<'a>(rows: impl Iterator<Item = &'a EventRow>, synced_at: Option<DateTime<Utc>>) -> Vec<u8> {
    let synced_at = synced_at.map(|t| t.to_rfc3339());
    let mut out = String::new();
    for row in rows {
        let mut fields = vec![
            Some(row.ws_id.to_string()),
            Some(row.external_calendar_id.clone()),
            Some(row.external_event_id.clone()),
            row.source_calendar_id.map(|id| id.to_string()),
            Some(row.title.clone()),
            Some(row.description.clone()),
            Some(row.location.clone()),
            Some(row.start_at.to_rfc3339()),
            Some(row.end_at.to_rfc3339()),
            Some(row.color.to_owned()),
            Some(row.is_encrypted.to_string()),
            row.external_updated_at.map(|t| t.to_rfc3339()),
            row.free.then(|| FREE_TIME.to_owned()),
        ];
        if let Some(synced_at) = &synced_at {
            fields.extend([
                Some("google".to_owned()),
                Some(row.external_calendar_id.clone()),
                Some(row.external_event_id.clone()),
                Some("true".to_owned()),
                Some(synced_at.clone()),
                Some("synced".to_owned()),
            ]);
        }
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if let Some(value) = field {
                out.push('"');
                out.push_str(&value.replace('"', "\"\""));
                out.push('"');
            }
        }
        out.push('\n');
    }
    out.into_bytes()
}

/// After a listing of the window `[time_min, time_max)` from its first page (a first or full
/// sync, or the listing after a 410), removes the calendar's stored rows in that window whose
/// ids the listing did not return: Google reports a deletion only while it keeps the
/// tombstone, so a listing that starts over is the whole truth for its window (design §6).
/// Only this calendar's Google rows are touched, and only those wholly a day inside the
/// window, so an all-day event Google placed by the calendar's own zone is never mistaken for
/// one outside it. Runs on the caller's transaction, the one that writes the last page.
///
/// # Errors
/// The database rejected the statement.
pub async fn remove_unlisted(
    conn: &mut Tx,
    ws_id: Uuid,
    calendar_id: &str,
    window: (DateTime<Utc>, DateTime<Utc>),
    listed: &[String],
) -> Result<u64, sqlx::Error> {
    let removed = sqlx::query(
        "DELETE FROM public.workspace_calendar_events
         WHERE ws_id = $1 AND provider = 'google' AND external_calendar_id = $2
           AND start_at >= $3 + interval '1 day' AND end_at <= $4 - interval '1 day'
           -- A hashed subplan, not `<> ALL($5)` (compared element by element) nor a
           -- NOT EXISTS anti-join, which an unnamed statement's custom plan may run as a nested
           -- loop over the array: both 10,000 × 10,000 for a large calendar.
           AND external_event_id NOT IN (SELECT unnest($5::text[]))",
    )
    .bind(ws_id)
    .bind(calendar_id)
    .bind(window.0)
    .bind(window.1)
    .bind(listed)
    .execute(conn)
    .await?;
    Ok(removed.rows_affected())
}

/// Whether `ws_id` has no stored Google row of `calendar_id` (one index probe).
///
/// # Errors
/// The database is unreachable.
pub async fn calendar_is_empty(
    pool: &Db,
    ws_id: Uuid,
    calendar_id: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT NOT EXISTS (
             SELECT 1 FROM public.workspace_calendar_events
             WHERE ws_id = $1 AND provider = 'google' AND external_calendar_id = $2)",
    )
    .bind(ws_id)
    .bind(calendar_id)
    .fetch_one(pool)
    .await
}
