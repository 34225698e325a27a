//! Google Calendar inbound sync of one workspace, shared by `calendar-sync` and
//! `calendar-full-sync` (design §2, §6).
//!
//! For every active Google token of the workspace and each of its enabled inbound connections
//! (or only the payload's `calendarId`), in order: list the calendar page by page and write
//! each page with its checkpoint or final sync token ([`connection`]). One failing connection
//! does not stop the others; the message fails only when every connection failed. When the
//! invocation runs short of time, listings stop at a checkpoint and a continuation message
//! for the unfinished calendars goes back on the task's own queue.

pub mod connection;
pub mod dashboard;
pub mod report;
pub mod state;
pub mod watch;

use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use shared::db::Db;
use uuid::Uuid;

use self::connection::{Budget, Connection, Finish, SyncKind, Target, connections_of};
use self::report::{Failure, WorkspaceReport};
use crate::google::GoogleConfig;
use crate::google::auth::{Session, SessionError, active_tokens};
use crate::google::client::{GoogleClient, GoogleError};
use shared::config::{ConfigErrors, Env, Secret, WorkerConfig};
use shared::encryption::{self, MasterKey};
use shared::error::{Classify, ErrorKind, JobError};
use shared::job_kind::JobKind;
use shared::jobs::metrics::Measure;
use shared::jobs::runner::{Job, RunContext, RunResult};
use shared::jobs::worker::WorkerJob;
use shared::payload::{CalendarFullSyncPayload, CalendarSyncPayload, JobPayload};
use shared::producer::{OutgoingMessage, send_batches};

/// The settings of both sync workers.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    pub worker: WorkerConfig,
    pub google: GoogleConfig,
    /// `ENCRYPTION_MASTER_KEY`: when set, workspaces with a key get encrypted rows.
    pub master_key: Option<Secret>,
    /// `SYNC_CHECKPOINT_MARGIN_SECONDS` (default 30): listings stop at a checkpoint when less
    /// than this (plus twice the slowest page) is left of the invocation.
    pub checkpoint_margin: Duration,
    /// Push channels (`WEBHOOK_URL`); `None`: polling only.
    pub watch: Option<watch::WatchConfig>,
}

impl SyncConfig {
    /// Reads the settings of `task` from `env`.
    pub fn read<F: Fn(&str) -> Option<String>>(env: &mut Env<F>, task: JobKind) -> Self {
        SyncConfig {
            worker: WorkerConfig::read(env, task),
            google: GoogleConfig::read(env),
            master_key: env.optional("ENCRYPTION_MASTER_KEY").map(Secret::new),
            checkpoint_margin: env
                .seconds_or("SYNC_CHECKPOINT_MARGIN_SECONDS", Duration::from_secs(30)),
            watch: watch::WatchConfig::read(env),
        }
    }

    /// Reads the settings of `task` from the process environment.
    ///
    /// # Errors
    /// Every missing or invalid variable, by name.
    pub fn from_env(task: JobKind) -> Result<Self, ConfigErrors> {
        let mut env = Env::process();
        let config = SyncConfig::read(&mut env, task);
        env.finish(config)
    }
}

/// Why a sync worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("DATABASE_URL cannot be used: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the HTTP client cannot be built: {0}")]
    Http(#[from] reqwest::Error),
    #[error("ENCRYPTION_MASTER_KEY cannot be used: {0}")]
    MasterKey(#[from] encryption::EncryptionError),
}

/// What a sync worker builds once at init.
#[derive(Debug, Clone)]
pub struct Syncer {
    pool: Db,
    google: GoogleClient,
    master_key: Option<MasterKey>,
    checkpoint_margin: Duration,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    watch: Option<watch::WatchConfig>,
}

impl Syncer {
    /// Builds the Google client and derives the master key (scrypt: once, not per message).
    ///
    /// # Errors
    /// See [`InitError`].
    pub fn new(pool: Db, sqs: aws_sdk_sqs::Client, config: &SyncConfig) -> Result<Self, InitError> {
        Ok(Syncer {
            pool,
            google: GoogleClient::new(config.google.clone())?,
            master_key: config
                .master_key
                .as_ref()
                .map(MasterKey::derive)
                .transpose()?,
            checkpoint_margin: config.checkpoint_margin,
            sqs,
            queue_url: config.worker.queue_url.clone(),
            watch: config.watch.clone(),
        })
    }

    /// Syncs the connections of `ws_id` (only `calendar` when given) and records the run in
    /// `calendar_sync_dashboard`. The report lists failed connections; it is an error only
    /// when the workspace cannot be synced at all.
    ///
    /// # Errors
    /// The workspace does not exist (permanent); the database is unreachable (retryable).
    pub async fn sync_workspace(
        &self,
        kind: SyncKind,
        ws_id: Uuid,
        calendar: Option<&str>,
        deadline: Option<SystemTime>,
        now: DateTime<Utc>,
    ) -> Result<WorkspaceReport, JobError> {
        let started = Instant::now();
        let pool = &self.pool;
        let creator: Option<Option<Uuid>> = sqlx::query_scalar(
            "SELECT creator_id FROM public.workspaces WHERE id = $1 AND deleted IS NOT TRUE",
        )
        .bind(ws_id)
        .fetch_optional(pool)
        .await
        .retryable("reading the workspace")?;
        let Some(creator) = creator else {
            return Err(JobError::permanent(format!(
                "workspace {ws_id} does not exist or is deleted"
            )));
        };

        let tokens = active_tokens(pool, ws_id)
            .await
            .retryable("reading the workspace's Google tokens")?;
        let mut plan = Vec::new();
        for token in &tokens {
            let connections: Vec<Connection> = connections_of(pool, ws_id, token.id)
                .await
                .retryable("reading the workspace's calendar connections")?
                .into_iter()
                .filter(|c| calendar.is_none_or(|only| c.calendar_id == only))
                .collect();
            if !connections.is_empty() {
                plan.push((token.clone(), connections));
            }
        }
        let mut report = WorkspaceReport {
            connections: plan.iter().map(|(_, c)| c.len()).sum(),
            ..WorkspaceReport::default()
        };
        if self.watch.is_some() {
            let wanted: Vec<(Uuid, String)> = plan
                .iter()
                .flat_map(|(token, connections)| {
                    connections
                        .iter()
                        .map(|c| (token.id, c.calendar_id.clone()))
                })
                .collect();
            let stopped =
                watch::stop_unwanted(pool, &self.google, &tokens, ws_id, calendar, &wanted, now)
                    .await;
            match stopped {
                Ok(stopped) => report.channels_stopped = stopped,
                Err(err) => {
                    tracing::warn!(ws_id = %ws_id, error = %err, "stopping unwanted push channels failed; the next sync tries again");
                    report.watch_failures += 1;
                }
            }
        }
        // The web app's dashboard needs a user; cron runs are attributed to the creator.
        let actor = creator.or_else(|| plan.first().map(|(token, _)| token.user_id));
        let dashboard_id = match actor {
            Some(actor) => Some(
                dashboard::open(pool, ws_id, actor, kind.job_kind(), kind.window(now))
                    .await
                    .retryable("opening the sync dashboard row")?,
            ),
            None => None,
        };

        let key = match encryption::workspace_key(pool, self.master_key.as_ref(), ws_id).await {
            Ok(key) => key,
            Err(err) => {
                report.failures.push(Failure {
                    calendar_id: "*".to_owned(),
                    error: err.to_string(),
                    kind: err.kind(),
                    code: None,
                });
                self.close_dashboard(dashboard_id, &report, started).await;
                return Err(err);
            }
        };
        let budget = Budget {
            deadline,
            margin: self.checkpoint_margin,
        };
        let mut out_of_time = false;
        for (token, connections) in plan {
            let mut session = Session::new(&self.google, pool, token);
            let mut revoked: Option<Failure> = None;
            for connection in connections {
                if out_of_time {
                    report.pending.push(connection.calendar_id);
                    continue;
                }
                if let Some(failure) = &revoked {
                    report.failures.push(Failure {
                        calendar_id: connection.calendar_id,
                        ..failure.clone()
                    });
                    continue;
                }
                let target = Target {
                    pool,
                    ws_id,
                    kind,
                    key: key.as_ref(),
                    budget,
                    now,
                };
                let synced = match self.begin_listing(ws_id, &connection.calendar_id).await {
                    Ok(()) => {
                        connection::sync_connection(target, &mut session, &connection, &mut report)
                            .await
                    }
                    Err(err) => Err(err),
                };
                match synced {
                    Ok(Finish::Done) => {
                        if connection.was_marked
                            && let Err(err) = connection::clear_attention(pool, &connection).await
                        {
                            tracing::warn!(ws_id = %ws_id, error = %err, "clearing a connection's attention mark failed");
                        }
                        if let Some(config) = &self.watch {
                            self.watch_calendar(
                                &mut session,
                                ws_id,
                                &connection.calendar_id,
                                config,
                                now,
                                &mut report,
                            )
                            .await;
                        }
                        report.calendars_synced.push(connection.calendar_id);
                    }
                    Ok(Finish::Checkpointed) => {
                        report.pending.push(connection.calendar_id);
                        out_of_time = true;
                    }
                    Err(err) => {
                        tracing::warn!(
                            ws_id = %ws_id,
                            token_id = %session.token_id(),
                            error = %err,
                            "a calendar connection failed; the others go on"
                        );
                        let failure = Failure {
                            calendar_id: connection.calendar_id.clone(),
                            error: err.to_string(),
                            kind: err.kind(),
                            code: err.code(),
                        };
                        if matches!(err, SessionError::Google(GoogleError::InvalidGrant)) {
                            revoked = Some(failure.clone());
                        }
                        // A calendar that is gone is marked, not hammered: skipped from now on
                        // until the user changes the connection (design §6).
                        if let SessionError::Google(GoogleError::CalendarGone { .. }) = &err
                            && let Err(mark) = connection::mark_for_attention(
                                pool,
                                ws_id,
                                &connection,
                                failure.code.as_deref().unwrap_or("gone"),
                            )
                            .await
                        {
                            tracing::warn!(ws_id = %ws_id, error = %mark, "marking a gone calendar failed; it is tried again next time");
                        }
                        report.failures.push(failure);
                    }
                }
                out_of_time |= !budget.allows(Duration::ZERO);
            }
            report.api.add(session.stats);
            report.refreshes += session.refreshes;
        }
        let pending: BTreeSet<String> = report.pending.drain(..).collect();
        report.pending = pending.into_iter().collect();
        self.close_dashboard(dashboard_id, &report, started).await;
        Ok(report)
    }

    /// With push on, counts the listing on the calendar's channels first, so a notification
    /// that arrives while it runs enqueues another sync instead of being taken for this one.
    async fn begin_listing(&self, ws_id: Uuid, calendar_id: &str) -> Result<(), SessionError> {
        if self.watch.is_none() {
            return Ok(());
        }
        shared::watch_channels::begin_listing(&self.pool, ws_id, calendar_id)
            .await
            .retryable("counting the listing on the calendar's push channels")?;
        Ok(())
    }

    /// Opens or renews the calendar's push channel; a failure is counted in the report and
    /// logged, never failing the sync (polling still covers the calendar).
    async fn watch_calendar(
        &self,
        session: &mut Session<'_>,
        ws_id: Uuid,
        calendar_id: &str,
        config: &watch::WatchConfig,
        now: DateTime<Utc>,
        report: &mut WorkspaceReport,
    ) {
        match watch::ensure_channel(&self.pool, session, ws_id, calendar_id, config, now).await {
            Ok(watch::Watched::Kept | watch::Watched::Unwatchable) => {}
            Ok(watch::Watched::Opened | watch::Watched::Renewed) => report.channels_opened += 1,
            Err(err) => {
                tracing::warn!(ws_id = %ws_id, error = %err, "opening the calendar's push channel failed; polling still covers it");
                report.watch_failures += 1;
            }
        }
    }

    /// A dashboard row that cannot be closed is swept to `failed` by a later run; the sync's
    /// outcome does not change because its log could not be written.
    async fn close_dashboard(&self, id: Option<Uuid>, report: &WorkspaceReport, started: Instant) {
        let Some(id) = id else { return };
        if let Err(err) = dashboard::close(&self.pool, id, report, started.elapsed()).await {
            tracing::warn!(error = %err, "closing the sync dashboard row failed");
        }
    }

    /// Puts one message per unfinished calendar back on the task's queue; each resumes from
    /// its checkpoint.
    async fn continue_later<P: SyncPayload>(
        &self,
        ws_id: Uuid,
        calendars: &[String],
    ) -> Result<(), JobError> {
        let mut messages = Vec::with_capacity(calendars.len());
        for calendar in calendars {
            let payload = P::for_calendar(ws_id, Some(calendar.clone()));
            messages.push(
                OutgoingMessage::new(&payload).permanent("building the continuation message")?,
            );
        }
        let sent = send_batches(&self.sqs, &self.queue_url, messages, 1).await;
        match sent.failed.first() {
            None => Ok(()),
            // The checkpoints are stored: a redelivery of this message resumes from them.
            Some(failed) => Err(JobError::retryable(format!(
                "sending the continuation message failed: {}",
                failed.error
            ))),
        }
    }
}

impl<P: SyncPayload> WorkerJob for SyncJob<P> {
    type Config = SyncConfig;

    fn config_from_env() -> Result<SyncConfig, ConfigErrors> {
        SyncConfig::from_env(P::KIND)
    }

    fn worker_config(config: &SyncConfig) -> &WorkerConfig {
        &config.worker
    }

    fn build(
        config: &SyncConfig,
        pool: Db,
        sqs: aws_sdk_sqs::Client,
    ) -> Result<Self, lambda_runtime::Error> {
        Ok(SyncJob::new(Syncer::new(pool, sqs, config)?))
    }
}

/// The payload of a sync task.
pub trait SyncPayload: JobPayload {
    const SYNC: SyncKind;

    /// The payload's `calendarId`.
    fn calendar(&self) -> Option<&str>;

    /// A payload for `ws_id`, limited to `calendar`.
    fn for_calendar(ws_id: Uuid, calendar: Option<String>) -> Self;
}

impl SyncPayload for CalendarSyncPayload {
    const SYNC: SyncKind = SyncKind::Incremental;

    fn calendar(&self) -> Option<&str> {
        self.calendar_id.as_deref()
    }

    fn for_calendar(ws_id: Uuid, calendar_id: Option<String>) -> Self {
        CalendarSyncPayload { ws_id, calendar_id }
    }
}

impl SyncPayload for CalendarFullSyncPayload {
    const SYNC: SyncKind = SyncKind::Full;

    fn calendar(&self) -> Option<&str> {
        self.calendar_id.as_deref()
    }

    fn for_calendar(ws_id: Uuid, calendar_id: Option<String>) -> Self {
        CalendarFullSyncPayload { ws_id, calendar_id }
    }
}

/// The job of a sync worker: `P` decides which sync it is.
#[derive(Debug, Clone)]
pub struct SyncJob<P> {
    syncer: Syncer,
    payload: PhantomData<fn() -> P>,
}

impl<P> SyncJob<P> {
    pub fn new(syncer: Syncer) -> Self {
        SyncJob {
            syncer,
            payload: PhantomData,
        }
    }
}

impl<P: SyncPayload> Job for SyncJob<P> {
    type Payload = P;

    const MEASURES: &'static [Measure] = &[
        Measure::new("inserted", "EventsInserted"),
        Measure::new("updated", "EventsUpdated"),
        Measure::new("unchanged", "EventsUnchanged"),
        Measure::new("deleted", "EventsDeleted"),
        Measure::new("api_calls", "GoogleCalls"),
        Measure::new("api_retries", "GoogleRetries"),
    ];

    async fn run(&self, ctx: &RunContext, payload: P) -> Result<RunResult, JobError> {
        let report = self
            .syncer
            .sync_workspace(
                P::SYNC,
                ctx.ws_id,
                payload.calendar(),
                ctx.deadline,
                ctx.now,
            )
            .await?;
        if report.all_failed() {
            let permanent = report
                .failures
                .iter()
                .all(|f| f.kind == ErrorKind::Permanent);
            let errors: Vec<String> = report
                .failures
                .iter()
                .map(|f| format!("{}: {}", f.calendar_id, f.error))
                .collect();
            let message = format!("every calendar connection failed: {}", errors.join("; "));
            return Err(if permanent {
                JobError::permanent(message)
            } else {
                JobError::retryable(message)
            });
        }
        if !report.pending.is_empty() {
            self.syncer
                .continue_later::<P>(ctx.ws_id, &report.pending)
                .await?;
        }
        Ok(report.counts())
    }
}
