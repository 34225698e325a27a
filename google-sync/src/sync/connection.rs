//! Syncing one connection (one Google calendar of one token): the page loop.
//!
//! Each page is written in its own transaction together with what comes after it: the
//! checkpoint of the next page, or (on the last page) the new sync token. A failed write
//! therefore never advances the token, and a replayed page changes nothing.

use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use shared::db::Db;
use uuid::Uuid;

use super::report::WorkspaceReport;
use super::state::{self, Checkpoint};
use crate::calendar_rows::{PageCounts, apply_page, calendar_is_empty, remove_unlisted};
use crate::event_mapping::{Change, EventRow, MappingError, Origin, map_event};
use crate::google::auth::{Session, SessionError};
use crate::google::client::{EventsPage, GoogleError, ListMode};
use shared::encryption::WorkspaceKey;
use shared::error::{Classify, JobError};
use shared::job_kind::JobKind;

/// One enabled inbound connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub id: Uuid,
    pub calendar_id: String,
    pub auth_token_id: Uuid,
    pub workspace_calendar_id: Option<Uuid>,
    pub sync_deletes: bool,
    /// Marked as needing attention before, and changed by the user since: to be tried again.
    pub was_marked: bool,
}

impl Connection {
    /// The key of its sync token in `calendar_sync_states` (the web app's key, design §6).
    pub fn sync_key(&self) -> String {
        format!("google:{}:{}", self.auth_token_id, self.calendar_id)
    }
}

/// The enabled Google connections with inbound sync of the token `auth_token_id`, less those
/// marked as needing attention and not changed since (design §6). `updated_at` is a naive
/// timestamp its trigger writes from `now()` in the database's zone, read back the same way.
///
/// # Errors
/// The database is unreachable.
pub async fn connections_of(
    pool: &Db,
    ws_id: Uuid,
    auth_token_id: Uuid,
) -> Result<Vec<Connection>, sqlx::Error> {
    let rows: Vec<(Uuid, String, Option<Uuid>, bool, bool)> = sqlx::query_as(
        "SELECT c.id, c.calendar_id, c.workspace_calendar_id, c.sync_delete_enabled,
                a.connection_id IS NOT NULL
         FROM public.calendar_connections c
         LEFT JOIN jobs.connection_attention a ON a.connection_id = c.id
         WHERE c.ws_id = $1 AND c.auth_token_id = $2 AND c.provider = 'google'
           AND c.is_enabled AND c.sync_inbound_enabled
           AND (a.connection_id IS NULL OR c.updated_at::timestamptz > a.marked_at)
         ORDER BY c.created_at, c.id",
    )
    .bind(ws_id)
    .bind(auth_token_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, calendar_id, workspace_calendar_id, sync_deletes, was_marked)| Connection {
                id,
                calendar_id,
                auth_token_id,
                workspace_calendar_id,
                sync_deletes,
                was_marked,
            },
        )
        .collect())
}

/// Marks `connection` as needing attention with Google's `reason`, so later syncs skip it until
/// the user changes it.
///
/// # Errors
/// The database rejected the write.
pub async fn mark_for_attention(
    pool: &Db,
    ws_id: Uuid,
    connection: &Connection,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO jobs.connection_attention (connection_id, ws_id, calendar_id, reason)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (connection_id) DO UPDATE
         SET reason = excluded.reason, marked_at = now(), calendar_id = excluded.calendar_id",
    )
    .bind(connection.id)
    .bind(ws_id)
    .bind(&connection.calendar_id)
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(())
}

/// Clears the mark of a connection that syncs again.
///
/// # Errors
/// The database rejected the write.
pub async fn clear_attention(pool: &Db, connection: &Connection) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM jobs.connection_attention WHERE connection_id = $1")
        .bind(connection.id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Which sync: the window it lists when it has no sync token to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    /// `calendar-sync`: sync token when stored, else now −60 d … now +90 d.
    Incremental,
    /// `calendar-full-sync`: always now −90 d … now +180 d.
    Full,
}

impl SyncKind {
    pub fn job_kind(self) -> JobKind {
        match self {
            SyncKind::Incremental => JobKind::CalendarSync,
            SyncKind::Full => JobKind::CalendarFullSync,
        }
    }

    /// The date-range window at `now`.
    pub fn window(self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let (before, after) = match self {
            SyncKind::Incremental => (60, 90),
            SyncKind::Full => (90, 180),
        };
        (
            now - chrono::Duration::days(before),
            now + chrono::Duration::days(after),
        )
    }

    fn range(self, now: DateTime<Utc>) -> ListMode {
        let (time_min, time_max) = self.window(now);
        ListMode::Range { time_min, time_max }
    }
}

/// When to stop listing and leave a checkpoint: before a page that might not finish in time.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub deadline: Option<SystemTime>,
    /// Kept free at the end of the invocation for closing the run and the continuation.
    pub margin: Duration,
}

impl Budget {
    /// Whether another step that may take up to `step` (twice the slowest page so far) fits.
    pub fn allows(&self, step: Duration) -> bool {
        let Some(deadline) = self.deadline else {
            return true;
        };
        deadline
            .duration_since(SystemTime::now())
            .is_ok_and(|left| left > self.margin + step * 2)
    }
}

/// What a connection sync needs besides the session.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub pool: &'a Db,
    pub ws_id: Uuid,
    pub kind: SyncKind,
    pub key: Option<&'a WorkspaceKey>,
    pub budget: Budget,
    pub now: DateTime<Utc>,
}

/// How a connection's listing ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The last page was written (and its sync token stored).
    Done,
    /// Time ran out; the next page is checkpointed.
    Checkpointed,
}

/// Where a connection's listing stands: how it lists, the page it is at, how many pages are
/// written, and for a window listing the ids it returned so far.
#[derive(Debug, Clone)]
struct Listing {
    mode: ListMode,
    page_token: Option<String>,
    pages_done: i32,
    /// `Some` for a window listing from its first page: what it returned is the window's whole
    /// truth once it finishes (design §6). `None` for a sync-token listing, or a window
    /// listing resumed from a checkpoint that did not record them.
    seen: Option<Vec<String>>,
}

impl Listing {
    fn from_start(mode: ListMode) -> Self {
        let seen = matches!(mode, ListMode::Range { .. }).then(Vec::new);
        Listing {
            mode,
            page_token: None,
            pages_done: 0,
            seen,
        }
    }
}

/// What one connection sync works on.
struct ConnectionSync<'a> {
    target: Target<'a>,
    connection: &'a Connection,
    sync_key: String,
    job_kind: JobKind,
}

/// Syncs one connection, adding its figures to `report` as pages are written (so a failure
/// half-way still reports what was done).
///
/// # Errors
/// Google's or the database's, classified.
pub async fn sync_connection(
    target: Target<'_>,
    session: &mut Session<'_>,
    connection: &Connection,
    report: &mut WorkspaceReport,
) -> Result<Finish, SessionError> {
    let sync = ConnectionSync {
        target,
        connection,
        sync_key: connection.sync_key(),
        job_kind: target.kind.job_kind(),
    };
    let started = Instant::now();
    let mut listing = sync.resume().await?;
    report.timings.tokens += started.elapsed();

    let mut slowest = Duration::ZERO;
    let mut into_empty = false;
    loop {
        let page_started = Instant::now();
        report.used_sync_token |= matches!(listing.mode, ListMode::SyncToken(_));
        let listed = session
            .list_events(
                &connection.calendar_id,
                &listing.mode,
                listing.page_token.as_deref(),
            )
            .await;
        report.timings.google += page_started.elapsed();
        let page = match listed {
            Ok(page) => page,
            Err(err) => {
                listing = sync.start_over(listing, err, report).await?;
                continue;
            }
        };

        let processing = Instant::now();
        let (rows, deletes) = sync.map_page(&page, report)?;
        if let Some(seen) = listing.seen.as_mut() {
            // Every id Google returned, readable or not: an event it still has is never removed.
            seen.extend(
                page.items
                    .iter()
                    .filter_map(|item| item.get("id")?.as_str())
                    .map(str::to_owned),
            );
        }
        report.timings.processing += processing.elapsed();

        let writing = Instant::now();
        if listing.pages_done == 0 {
            // A listing from the start into a calendar with no stored rows (its first sync)
            // copies its pages straight in; one resumed from a checkpoint merges.
            into_empty = calendar_is_empty(target.pool, target.ws_id, &connection.calendar_id)
                .await
                .retryable("checking for stored events")?;
        }
        listing.pages_done += 1;
        let counts = sync
            .write_page(&listing, &page, &rows, &deletes, into_empty)
            .await?;
        report.timings.database += writing.elapsed();
        report.add_page(counts);

        let Some(next) = page.next_page_token else {
            return Ok(Finish::Done);
        };
        slowest = slowest.max(page_started.elapsed());
        if !target.budget.allows(slowest) {
            return Ok(Finish::Checkpointed);
        }
        listing.page_token = Some(next);
    }
}

impl ConnectionSync<'_> {
    /// Resumes at the stored checkpoint, or starts from the stored sync token (incremental) or
    /// the kind's window.
    async fn resume(&self) -> Result<Listing, SessionError> {
        let Target {
            pool, ws_id, kind, ..
        } = self.target;
        let checkpoint = state::checkpoint(pool, ws_id, &self.sync_key, self.job_kind)
            .await
            .retryable("reading the sync checkpoint")?;
        if let Some(checkpoint) = checkpoint {
            return Ok(Listing {
                seen: checkpoint
                    .seen
                    .filter(|_| matches!(checkpoint.mode, ListMode::Range { .. })),
                mode: checkpoint.mode,
                page_token: Some(checkpoint.page_token),
                pages_done: checkpoint.pages_done,
            });
        }
        let stored = match kind {
            SyncKind::Incremental => state::sync_token(pool, ws_id, &self.sync_key)
                .await
                .retryable("reading the sync token")?,
            SyncKind::Full => None,
        };
        let mode = stored.map_or_else(|| kind.range(self.target.now), ListMode::SyncToken);
        Ok(Listing::from_start(mode))
    }

    /// The listing to go on with after Google refused a page, or the error when nothing can.
    async fn start_over(
        &self,
        listing: Listing,
        err: SessionError,
        report: &mut WorkspaceReport,
    ) -> Result<Listing, SessionError> {
        let window = self.target.kind.range(self.target.now);
        match err {
            SessionError::Google(GoogleError::Gone)
                if matches!(listing.mode, ListMode::SyncToken(_)) =>
            {
                // The token expired: forget it (and any listing that used it) and list the window.
                report.fallbacks += 1;
                self.forget_sync_token().await?;
                Ok(Listing::from_start(window))
            }
            SessionError::Google(GoogleError::Gone | GoogleError::Rejected { status: 400, .. })
                if listing.page_token.is_some() && listing.pages_done > 0 =>
            {
                // A stored page token Google no longer knows: start this listing over.
                report.fallbacks += 1;
                let mode = match listing.mode {
                    ListMode::Range { .. } => window,
                    token => token,
                };
                Ok(Listing::from_start(mode))
            }
            err => Err(err),
        }
    }

    async fn forget_sync_token(&self) -> Result<(), SessionError> {
        let Target { pool, ws_id, .. } = self.target;
        let mut tx = pool.begin().await.retryable("clearing the sync token")?;
        state::clear_checkpoint(&mut tx, ws_id, &self.sync_key, self.job_kind)
            .await
            .retryable("clearing the sync checkpoint")?;
        state::clear_sync_token(&mut tx, ws_id, &self.sync_key)
            .await
            .retryable("clearing the sync token")?;
        tx.commit().await.retryable("clearing the sync token")?;
        Ok(())
    }

    /// The page's rows to upsert and event ids to delete; unreadable events are counted and
    /// named in `report`.
    fn map_page(
        &self,
        page: &EventsPage,
        report: &mut WorkspaceReport,
    ) -> Result<(Vec<EventRow>, Vec<String>), SessionError> {
        let origin = Origin {
            ws_id: self.target.ws_id,
            calendar_id: self.connection.calendar_id.clone(),
            source_calendar_id: self.connection.workspace_calendar_id,
        };
        let (events, unreadable) = page.events();
        report.events_fetched += (events.len() + unreadable) as u64;
        for _ in 0..unreadable {
            report.add_unreadable(None, "not an event resource");
        }
        let mut rows = Vec::with_capacity(events.len());
        let mut deletes = Vec::new();
        for event in &events {
            match map_event(event, &origin, self.target.key) {
                Ok(Change::Upsert(row)) => rows.push(*row),
                Ok(Change::Delete(id)) => deletes.push(id),
                Err(MappingError::Encryption { id, source }) => {
                    // Writing plaintext instead would downgrade an encrypted workspace.
                    return Err(SessionError::Store(JobError::permanent(format!(
                        "encrypting event {id}: {source}"
                    ))));
                }
                Err(err) => {
                    tracing::debug!(error = %err, "skipping an unreadable event");
                    report.add_unreadable(Some(&event.id), err.reason());
                }
            }
        }
        Ok((rows, deletes))
    }

    /// Writes one page in one transaction with what follows it: the next page's checkpoint, or
    /// after the last page the new sync token.
    async fn write_page(
        &self,
        listing: &Listing,
        page: &EventsPage,
        rows: &[EventRow],
        deletes: &[String],
        into_empty: bool,
    ) -> Result<PageCounts, SessionError> {
        let Target { pool, ws_id, .. } = self.target;
        let (key, kind) = (&self.sync_key, self.job_kind);
        let mut tx = pool
            .begin()
            .await
            .retryable("starting the page transaction")?;
        let calendar_id = &self.connection.calendar_id;
        let mut counts = apply_page(
            &mut tx,
            ws_id,
            calendar_id,
            rows,
            deletes,
            self.connection.sync_deletes,
            into_empty,
        )
        .await
        .retryable("writing a page of events")?;
        match &page.next_page_token {
            Some(next) => {
                let checkpoint = Checkpoint {
                    mode: listing.mode.clone(),
                    page_token: next.clone(),
                    pages_done: listing.pages_done,
                    seen: listing.seen.clone(),
                };
                state::save_checkpoint(&mut tx, ws_id, key, kind, &checkpoint)
                    .await
                    .retryable("saving the sync checkpoint")?;
            }
            None => {
                if let (ListMode::Range { time_min, time_max }, Some(seen)) =
                    (&listing.mode, &listing.seen)
                    && self.connection.sync_deletes
                {
                    counts.removed =
                        remove_unlisted(&mut tx, ws_id, calendar_id, (*time_min, *time_max), seen)
                            .await
                            .retryable("removing events the listing no longer returned")?;
                }
                state::clear_checkpoint(&mut tx, ws_id, key, kind)
                    .await
                    .retryable("clearing the sync checkpoint")?;
                if let Some(token) = &page.next_sync_token {
                    state::store_sync_token(&mut tx, ws_id, key, token)
                        .await
                        .retryable("storing the sync token")?;
                }
            }
        }
        tx.commit().await.retryable("committing a page of events")?;
        Ok(counts)
    }
}
