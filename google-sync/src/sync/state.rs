//! Where each connection's listing stands: Google's sync token (`calendar_sync_states`, read by
//! the web app too) and our page checkpoint (`jobs.sync_checkpoints`).
//!
//! Writes take the caller's transaction, so a token or a checkpoint is stored only together
//! with the rows of the page that led to it.

use chrono::{DateTime, Utc};
use shared::db::{Db, Tx};
use uuid::Uuid;

use crate::google::client::ListMode;
use shared::job_kind::JobKind;
use shared::limits;

/// The stored sync token of `sync_key`, if any.
///
/// # Errors
/// The database is unreachable.
pub async fn sync_token(
    pool: &Db,
    ws_id: Uuid,
    sync_key: &str,
) -> Result<Option<String>, sqlx::Error> {
    let token: Option<Option<String>> = sqlx::query_scalar(
        "SELECT sync_token FROM public.calendar_sync_states WHERE ws_id = $1 AND calendar_id = $2",
    )
    .bind(ws_id)
    .bind(sync_key)
    .fetch_optional(pool)
    .await?;
    Ok(token.flatten().filter(|t| !t.is_empty()))
}

/// Stores `token` for `sync_key`. A key or token longer than the web app's table allows
/// (design §5.1) cannot be stored: any older token of the key is forgotten instead, so the
/// next sync lists the window again rather than resuming from a stale token.
///
/// # Errors
/// The database rejected the write.
pub async fn store_sync_token(
    conn: &mut Tx,
    ws_id: Uuid,
    sync_key: &str,
    token: &str,
) -> Result<(), sqlx::Error> {
    if !limits::SYNC_STATE_KEY.fits(sync_key) || !limits::SYNC_TOKEN.fits(token) {
        tracing::warn!(
            %ws_id,
            key_chars = sync_key.chars().count(),
            token_chars = token.chars().count(),
            "sync token not stored: longer than calendar_sync_states allows"
        );
        return clear_sync_token(conn, ws_id, sync_key).await;
    }
    sqlx::query(
        "INSERT INTO public.calendar_sync_states (ws_id, calendar_id, sync_token, last_synced_at)
         VALUES ($1, $2, $3, now())
         ON CONFLICT (ws_id, calendar_id)
         DO UPDATE SET sync_token = excluded.sync_token, last_synced_at = excluded.last_synced_at",
    )
    .bind(ws_id)
    .bind(sync_key)
    .bind(token)
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets the sync token of `sync_key` (Google answered 410 for it).
///
/// # Errors
/// The database rejected the write.
pub async fn clear_sync_token(
    conn: &mut Tx,
    ws_id: Uuid,
    sync_key: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM public.calendar_sync_states WHERE ws_id = $1 AND calendar_id = $2")
        .bind(ws_id)
        .bind(sync_key)
        .execute(conn)
        .await?;
    Ok(())
}

/// A listing interrupted before its last page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub mode: ListMode,
    pub page_token: String,
    pub pages_done: i32,
    /// The event ids a window listing returned so far (`None`: not known).
    pub seen: Option<Vec<String>>,
}

/// The checkpoint of `task` for `sync_key`, if one is pending.
///
/// # Errors
/// The database is unreachable.
pub async fn checkpoint(
    pool: &Db,
    ws_id: Uuid,
    sync_key: &str,
    task: JobKind,
) -> Result<Option<Checkpoint>, sqlx::Error> {
    type Row = (
        Option<String>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        String,
        i32,
        Option<Vec<String>>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT sync_token, time_min, time_max, page_token, pages_done, seen_ids
         FROM jobs.sync_checkpoints WHERE ws_id = $1 AND sync_key = $2 AND task = $3",
    )
    .bind(ws_id)
    .bind(sync_key)
    .bind(task.as_str())
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(
        |(sync_token, time_min, time_max, page_token, pages_done, seen)| {
            let mode = match (sync_token, time_min, time_max) {
                (Some(token), _, _) => ListMode::SyncToken(token),
                (None, Some(time_min), Some(time_max)) => ListMode::Range { time_min, time_max },
                _ => return None,
            };
            Some(Checkpoint {
                mode,
                page_token,
                pages_done,
                seen,
            })
        },
    ))
}

/// Records that the listing `mode` goes on at `page_token`.
///
/// # Errors
/// The database rejected the write.
pub async fn save_checkpoint(
    conn: &mut Tx,
    ws_id: Uuid,
    sync_key: &str,
    task: JobKind,
    checkpoint: &Checkpoint,
) -> Result<(), sqlx::Error> {
    let (sync_token, time_min, time_max) = match &checkpoint.mode {
        ListMode::SyncToken(token) => (Some(token.as_str()), None, None),
        ListMode::Range { time_min, time_max } => (None, Some(*time_min), Some(*time_max)),
    };
    sqlx::query(
        "INSERT INTO jobs.sync_checkpoints
             (ws_id, sync_key, task, sync_token, time_min, time_max, page_token, pages_done,
              seen_ids, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
         ON CONFLICT (ws_id, sync_key, task) DO UPDATE
         SET sync_token = excluded.sync_token, time_min = excluded.time_min,
             time_max = excluded.time_max, page_token = excluded.page_token,
             pages_done = excluded.pages_done, seen_ids = excluded.seen_ids,
             updated_at = excluded.updated_at",
    )
    .bind(ws_id)
    .bind(sync_key)
    .bind(task.as_str())
    .bind(sync_token)
    .bind(time_min)
    .bind(time_max)
    .bind(&checkpoint.page_token)
    .bind(checkpoint.pages_done)
    .bind(&checkpoint.seen)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes the checkpoint of `task` for `sync_key` (its listing finished or was abandoned).
///
/// # Errors
/// The database rejected the write.
pub async fn clear_checkpoint(
    conn: &mut Tx,
    ws_id: Uuid,
    sync_key: &str,
    task: JobKind,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM jobs.sync_checkpoints WHERE ws_id = $1 AND sync_key = $2 AND task = $3",
    )
    .bind(ws_id)
    .bind(sync_key)
    .bind(task.as_str())
    .execute(conn)
    .await?;
    Ok(())
}
