//! Syncing one connection (one Google calendar of one token): the page loop.
//!
//! Each page is written in its own transaction together with what comes after it: the
//! checkpoint of the next page, or (on the last page) the new sync token. A failed write
//! therefore never advances the token, and a replayed page changes nothing.

use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::report::WorkspaceReport;
use super::state::{self, Checkpoint};
use crate::calendar_rows::apply_page;
use crate::event_mapping::{Change, MappingError, Origin, map_event};
use crate::google::auth::{Session, SessionError};
use crate::google::client::{GoogleError, ListMode};
use shared::encryption::WorkspaceKey;
use shared::error::{Classify, JobError};
use shared::job_kind::JobKind;

/// One enabled inbound connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub calendar_id: String,
    pub auth_token_id: Uuid,
    pub workspace_calendar_id: Option<Uuid>,
    pub sync_deletes: bool,
}

impl Connection {
    /// The key of its sync token in `calendar_sync_states` (the web app's key, reference §6.3).
    pub fn sync_key(&self) -> String {
        format!("google:{}:{}", self.auth_token_id, self.calendar_id)
    }
}

/// The enabled Google connections with inbound sync of the token `auth_token_id`.
///
/// # Errors
/// The database is unreachable.
pub async fn connections_of(
    pool: &PgPool,
    ws_id: Uuid,
    auth_token_id: Uuid,
) -> Result<Vec<Connection>, sqlx::Error> {
    let rows: Vec<(String, Option<Uuid>, bool)> = sqlx::query_as(
        "SELECT calendar_id, workspace_calendar_id, sync_delete_enabled
         FROM public.calendar_connections
         WHERE ws_id = $1 AND auth_token_id = $2 AND provider = 'google'
           AND is_enabled AND sync_inbound_enabled
         ORDER BY created_at, id",
    )
    .bind(ws_id)
    .bind(auth_token_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(calendar_id, workspace_calendar_id, sync_deletes)| Connection {
                calendar_id,
                auth_token_id,
                workspace_calendar_id,
                sync_deletes,
            },
        )
        .collect())
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
    pub pool: &'a PgPool,
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
    let Target {
        pool,
        ws_id,
        kind,
        now,
        ..
    } = target;
    let task = kind.job_kind();
    let sync_key = connection.sync_key();
    let origin = Origin {
        ws_id,
        calendar_id: connection.calendar_id.clone(),
        source_calendar_id: connection.workspace_calendar_id,
    };

    let started = Instant::now();
    let resumed = state::checkpoint(pool, ws_id, &sync_key, task)
        .await
        .retryable("reading the sync checkpoint")?;
    let (mut mode, mut page_token, mut pages_done) = match resumed {
        Some(checkpoint) => (
            checkpoint.mode,
            Some(checkpoint.page_token),
            checkpoint.pages_done,
        ),
        None => {
            let stored = match kind {
                SyncKind::Incremental => state::sync_token(pool, ws_id, &sync_key)
                    .await
                    .retryable("reading the sync token")?,
                SyncKind::Full => None,
            };
            let mode = stored.map_or_else(|| kind.range(now), ListMode::SyncToken);
            (mode, None, 0)
        }
    };
    report.timings.tokens += started.elapsed();

    let mut slowest = Duration::ZERO;
    loop {
        let page_started = Instant::now();
        report.used_sync_token |= matches!(mode, ListMode::SyncToken(_));
        let listed = session
            .list_events(&connection.calendar_id, &mode, page_token.as_deref())
            .await;
        report.timings.google += page_started.elapsed();
        let page = match listed {
            Ok(page) => page,
            Err(SessionError::Google(GoogleError::Gone))
                if matches!(mode, ListMode::SyncToken(_)) =>
            {
                // The token expired: forget it (and any listing that used it) and list the window.
                report.fallbacks += 1;
                let mut tx = pool.begin().await.retryable("clearing the sync token")?;
                state::clear_checkpoint(&mut tx, ws_id, &sync_key, task)
                    .await
                    .retryable("clearing the sync checkpoint")?;
                state::clear_sync_token(&mut tx, ws_id, &sync_key)
                    .await
                    .retryable("clearing the sync token")?;
                tx.commit().await.retryable("clearing the sync token")?;
                mode = kind.range(now);
                page_token = None;
                pages_done = 0;
                continue;
            }
            Err(SessionError::Google(
                GoogleError::Gone | GoogleError::Rejected { status: 400, .. },
            )) if page_token.is_some() && pages_done > 0 => {
                // A stored page token Google no longer knows: start this listing over.
                report.fallbacks += 1;
                page_token = None;
                pages_done = 0;
                if let ListMode::Range { .. } = mode {
                    mode = kind.range(now);
                }
                continue;
            }
            Err(err) => return Err(err),
        };

        let processing = Instant::now();
        let (events, unreadable) = page.events();
        report.events_fetched += (events.len() + unreadable) as u64;
        for _ in 0..unreadable {
            report.add_unreadable(None, "not an event resource");
        }
        let mut rows = Vec::with_capacity(events.len());
        let mut deletes = Vec::new();
        for event in &events {
            match map_event(event, &origin, target.key) {
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
        report.timings.processing += processing.elapsed();

        let writing = Instant::now();
        let mut tx = pool
            .begin()
            .await
            .retryable("starting the page transaction")?;
        let counts = apply_page(
            &mut tx,
            ws_id,
            &connection.calendar_id,
            &rows,
            &deletes,
            connection.sync_deletes,
        )
        .await
        .retryable("writing a page of events")?;
        pages_done += 1;
        match &page.next_page_token {
            Some(next) => {
                let checkpoint = Checkpoint {
                    mode: mode.clone(),
                    page_token: next.clone(),
                    pages_done,
                };
                state::save_checkpoint(&mut tx, ws_id, &sync_key, task, &checkpoint)
                    .await
                    .retryable("saving the sync checkpoint")?;
            }
            None => {
                state::clear_checkpoint(&mut tx, ws_id, &sync_key, task)
                    .await
                    .retryable("clearing the sync checkpoint")?;
                if let Some(token) = &page.next_sync_token {
                    state::store_sync_token(&mut tx, ws_id, &sync_key, token)
                        .await
                        .retryable("storing the sync token")?;
                }
            }
        }
        tx.commit().await.retryable("committing a page of events")?;
        report.timings.database += writing.elapsed();
        report.add_page(counts);

        match page.next_page_token {
            None => return Ok(Finish::Done),
            Some(next) => {
                slowest = slowest.max(page_started.elapsed());
                if !target.budget.allows(slowest) {
                    return Ok(Finish::Checkpointed);
                }
                page_token = Some(next);
            }
        }
    }
}
