//! Test support shared by the integration suites: fresh FIFO queues on the local SQS server,
//! workspace seeding, and a scripted job whose effects are rows in Postgres.
//!
//! The suites need `DATABASE_URL` (a Postgres role that may create databases) and
//! `AWS_ENDPOINT_URL` (the local SQS server); `scripts/test.sh` provides both.

// Test support: a failed set-up step should stop the test with its message.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

pub use local_stack::fake_google;
pub mod db_proxy;
pub mod fault_stack;
pub mod sqs_faults;
pub mod sync_support;

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use chrono::{DateTime, Utc};
use serde_json::json;
use shared::config::{Secret, WorkerConfig};
use shared::error::JobError;
use shared::jobs::runner::{Job, RunContext, RunResult};
use shared::payload::ScheduleTaskPayload;
use sqlx::PgPool;
use uuid::Uuid;

/// The instant the suites work from: a Monday morning, 05:00 UTC. Fixed, so a suite passes at
/// any hour; `scripts/clock-check.sh` runs them again with the process clock shifted to prove
/// it.
pub fn test_now() -> DateTime<Utc> {
    "2031-03-03T05:00:00Z"
        .parse()
        .expect("a valid RFC 3339 instant")
}

/// An SQS client for the local server. Refuses to run against real AWS.
pub async fn sqs() -> aws_sdk_sqs::Client {
    assert!(
        std::env::var("AWS_ENDPOINT_URL")
            .is_ok_and(|url| url.contains("127.0.0.1") || url.contains("localhost")),
        "AWS_ENDPOINT_URL must point at the local SQS server: run the tests through scripts/test.sh"
    );
    shared::aws::sqs_client().await
}

/// A source queue and its DLQ, shaped like the template's (FIFO, content-based deduplication
/// for Scheduler's sends, redrive after 5 receives), with a name of its own so tests never share queues.
#[derive(Debug, Clone)]
pub struct Queues {
    pub queue_url: String,
    pub dlq_url: String,
}

/// Creates a fresh queue pair.
pub async fn fifo_queues(sqs: &aws_sdk_sqs::Client, visibility_timeout: u32) -> Queues {
    let name = format!("test-{}", Uuid::new_v4().simple());
    let dlq_url = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq.fifo"))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::ContentBasedDeduplication, "true")
        .send()
        .await
        .expect("creating the DLQ")
        .queue_url
        .expect("DLQ url");
    let dlq_arn = queue_arn(sqs, &dlq_url).await;
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("{name}.fifo"))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::ContentBasedDeduplication, "true")
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_timeout.to_string(),
        )
        .attributes(
            QueueAttributeName::RedrivePolicy,
            json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5" }).to_string(),
        )
        .send()
        .await
        .expect("creating the queue")
        .queue_url
        .expect("queue url");
    Queues { queue_url, dlq_url }
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("reading the queue ARN")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .expect("queue ARN")
}

/// Sends one message and returns its message id.
pub async fn send(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    group: &str,
    dedup: &str,
    body: &str,
) -> String {
    sqs.send_message()
        .queue_url(url)
        .message_group_id(group)
        .message_deduplication_id(dedup)
        .message_body(body)
        .send()
        .await
        .expect("sending a message")
        .message_id
        .expect("message id")
}

/// Receives what is visible (one call, up to 10), with attributes.
pub async fn receive(sqs: &aws_sdk_sqs::Client, url: &str, wait_seconds: i32) -> Vec<Message> {
    sqs.receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait_seconds)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .expect("receiving")
        .messages
        .unwrap_or_default()
}

/// The next batch of `url`, as Lambda would deliver it; fails when nothing is visible.
pub async fn next_batch(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
) -> aws_lambda_events::event::sqs::SqsEvent {
    local_stack::event_source::EventSource::new(sqs.clone(), url)
        .await
        .expect("polling the queue")
        .poll()
        .await
        .expect("receiving a batch")
        .expect("a visible message")
}

/// Every message of a DLQ, read without deleting (they become visible again at once).
pub async fn dead_letters(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Message> {
    let mut all = Vec::new();
    loop {
        let batch = receive(sqs, url, 0).await;
        if batch.is_empty() {
            break;
        }
        all.extend(batch);
    }
    for message in &all {
        sqs.change_message_visibility()
            .queue_url(url)
            .receipt_handle(message.receipt_handle().unwrap_or_default())
            .visibility_timeout(0)
            .send()
            .await
            .expect("releasing a dead letter");
    }
    all
}

/// A string message attribute of `message`.
pub fn attribute(message: &Message, name: &str) -> Option<String> {
    message
        .message_attributes()
        .and_then(|a| a.get(name))
        .and_then(|v| v.string_value())
        .map(str::to_owned)
}

/// The worker settings a function would read, pointed at `queues` and the test database.
pub fn worker_config(queues: &Queues) -> WorkerConfig {
    WorkerConfig {
        database_url: Secret::new(std::env::var("DATABASE_URL").unwrap_or_default()),
        queue_url: queues.queue_url.clone(),
        dead_letter_queue_url: queues.dlq_url.clone(),
        database_max_connections: 2,
        deadline_margin: Duration::from_secs(20),
    }
}

/// Gives `ws_id` a fresh workspace key, stored wrapped with `master` as the web app stores it,
/// and returns the key.
pub async fn encrypt_workspace(
    pool: &PgPool,
    ws_id: Uuid,
    master: &shared::encryption::MasterKey,
) -> shared::encryption::WorkspaceKey {
    let key = shared::encryption::WorkspaceKey::generate();
    sqlx::query(
        "INSERT INTO public.workspace_encryption_keys (ws_id, encrypted_key) VALUES ($1, $2)",
    )
    .bind(ws_id)
    .bind(master.wrap(&key).expect("wrapping the key"))
    .execute(pool)
    .await
    .expect("storing the workspace key");
    key
}

/// Inserts a workspace (and its creator) with `timezone`, and returns its id.
pub async fn workspace(pool: &PgPool, timezone: Option<&str>) -> Uuid {
    let user: Uuid = sqlx::query_scalar("INSERT INTO public.users DEFAULT VALUES RETURNING id")
        .fetch_one(pool)
        .await
        .expect("inserting a user");
    sqlx::query_scalar(
        "INSERT INTO public.workspaces (name, creator_id, timezone) VALUES ('Test', $1, $2) RETURNING id",
    )
    .bind(user)
    .bind(timezone)
    .fetch_one(pool)
    .await
    .expect("inserting a workspace")
}

/// Inserts an event and returns its id.
pub async fn event(
    pool: &PgPool,
    ws_id: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    locked: bool,
) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO public.workspace_calendar_events (ws_id, title, start_at, end_at, locked)
         VALUES ($1, 'Event', $2, $3, $4) RETURNING id",
    )
    .bind(ws_id)
    .bind(start)
    .bind(end)
    .bind(locked)
    .fetch_one(pool)
    .await
    .expect("inserting an event")
}

/// A job whose behaviour is scripted per workspace, and whose effect is a row in
/// `test_effects`, so tests can count how often the work really happened.
#[derive(Debug, Clone)]
pub struct ScriptedJob {
    pub pool: PgPool,
    pub retryable: HashSet<Uuid>,
    pub permanent: HashSet<Uuid>,
    pub panics: HashSet<Uuid>,
    pub delay: Duration,
}

impl ScriptedJob {
    /// A job that succeeds everywhere; creates the effects table.
    pub async fn new(pool: PgPool) -> Self {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS test_effects (ws_id uuid NOT NULL, run_id uuid NOT NULL)",
        )
        .execute(&pool)
        .await
        .expect("creating test_effects");
        ScriptedJob {
            pool,
            retryable: HashSet::new(),
            permanent: HashSet::new(),
            panics: HashSet::new(),
            delay: Duration::ZERO,
        }
    }

    /// How many times the work ran for `ws_id`.
    pub async fn effects(&self, ws_id: Uuid) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM test_effects WHERE ws_id = $1")
            .bind(ws_id)
            .fetch_one(&self.pool)
            .await
            .expect("counting effects")
    }
}

impl Job for ScriptedJob {
    type Payload = ScheduleTaskPayload;

    async fn run(
        &self,
        ctx: &RunContext,
        payload: ScheduleTaskPayload,
    ) -> Result<RunResult, JobError> {
        tokio::time::sleep(self.delay).await;
        if self.retryable.contains(&payload.ws_id) {
            return Err(JobError::retryable("scripted retryable failure"));
        }
        if self.permanent.contains(&payload.ws_id) {
            return Err(JobError::permanent("scripted permanent failure"));
        }
        if self.panics.contains(&payload.ws_id) {
            panic!("scripted panic");
        }
        sqlx::query("INSERT INTO test_effects (ws_id, run_id) VALUES ($1, $2)")
            .bind(payload.ws_id)
            .bind(ctx.run_id)
            .execute(&self.pool)
            .await
            .map_err(|err| JobError::retryable(err.to_string()))?;
        let mut counts = RunResult::new();
        counts.insert("effects".to_owned(), json!(1));
        Ok(counts)
    }
}

/// A run row as the tests read it back.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub message_id: String,
    pub ws_id: Option<Uuid>,
    pub status: String,
    pub error: Option<String>,
    pub error_kind: Option<String>,
    pub attempt: i32,
    pub result: Option<serde_json::Value>,
}

/// The single number a `SELECT count(*) …` returns.
pub async fn count(pool: &PgPool, query: &'static str) -> i64 {
    sqlx::query_scalar(query)
        .fetch_one(pool)
        .await
        .expect("counting rows")
}

/// Every run of `message_id`, oldest first.
pub async fn runs_of(pool: &PgPool, message_id: &str) -> Vec<RunRow> {
    sqlx::query_as(
        "SELECT message_id, ws_id, status, error, error_kind, attempt, result FROM jobs.runs
         WHERE message_id = $1 ORDER BY started_at, id",
    )
    .bind(message_id)
    .fetch_all(pool)
    .await
    .expect("reading runs")
}

/// Adds a calendar token to `ws_id` (its creator's) and returns its id.
pub async fn calendar_token(pool: &PgPool, ws_id: Uuid, provider: &str, active: bool) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO public.calendar_auth_tokens
             (user_id, ws_id, access_token, refresh_token, provider, is_active, account_email)
         SELECT creator_id, id, 'access-secret', 'refresh-secret', $2, $3, gen_random_uuid()::text
         FROM public.workspaces WHERE id = $1
         RETURNING id",
    )
    .bind(ws_id)
    .bind(provider)
    .bind(active)
    .fetch_one(pool)
    .await
    .expect("inserting a calendar token")
}

/// Adds a habit to `ws_id`.
pub async fn habit(pool: &PgPool, ws_id: Uuid, active: bool, auto_schedule: bool, deleted: bool) {
    sqlx::query(
        "INSERT INTO public.workspace_habits (ws_id, name, is_active, auto_schedule, deleted_at)
         VALUES ($1, 'Read', $2, $3, CASE WHEN $4 THEN now() END)",
    )
    .bind(ws_id)
    .bind(active)
    .bind(auto_schedule)
    .bind(deleted)
    .execute(pool)
    .await
    .expect("inserting a habit");
}

/// Marks `ws_id` personal.
pub async fn make_personal(pool: &PgPool, ws_id: Uuid) {
    sqlx::query("UPDATE public.workspaces SET personal = true WHERE id = $1")
        .bind(ws_id)
        .execute(pool)
        .await
        .expect("updating a workspace");
}

/// Receives and deletes every message of `url`, with attributes.
pub async fn drain_queue(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Message> {
    let mut all = Vec::new();
    loop {
        let batch = receive(sqs, url, 0).await;
        if batch.is_empty() {
            return all;
        }
        for message in &batch {
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("deleting a message");
        }
        all.extend(batch);
    }
}

/// A system attribute (`MessageGroupId`, `MessageDeduplicationId`, …) of `message`.
pub fn system_attribute(message: &Message, name: MessageSystemAttributeName) -> Option<String> {
    message.attributes().and_then(|a| a.get(&name)).cloned()
}

/// A benchmark's input size: `var` if set, else `full` under `cargo bench` (which passes
/// `--bench`) or `smoke` under `cargo test`.
pub fn bench_size(var: &str, full: usize, smoke: usize) -> usize {
    match std::env::var(var) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{var} must be a number")),
        Err(_) if std::env::args().any(|arg| arg == "--bench") => full,
        Err(_) => smoke,
    }
}

/// A freshly created and migrated database for a benchmark. Drop it with [`BenchDatabase::drop`].
#[derive(Debug)]
pub struct BenchDatabase {
    pub pool: PgPool,
    admin: sqlx::PgConnection,
    name: String,
}

impl BenchDatabase {
    /// Creates `<prefix>_<pid>` next to `DATABASE_URL`'s database and applies the migrations.
    pub async fn create(prefix: &str, max_connections: u32) -> Self {
        use sqlx::Connection as _;
        let admin_url = std::env::var("DATABASE_URL").expect("DATABASE_URL (run scripts/bench.sh)");
        let name = format!("{prefix}_{}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let (base, _) = admin_url
            .rsplit_once('/')
            .expect("DATABASE_URL has no database name");
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(max_connections)
            .connect(&format!("{base}/{name}"))
            .await
            .unwrap();
        shared::MIGRATOR.run(&pool).await.unwrap();
        BenchDatabase { pool, admin, name }
    }

    /// Closes the pool and drops the database.
    pub async fn drop(mut self) {
        self.pool.close().await;
        // FORCE: a connection the pool is still releasing must not fail the drop.
        sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .execute(&mut self.admin)
            .await
            .unwrap();
    }
}

/// The workspace's root directory.
pub fn workspace_root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds binaries and returns their directory. Release (for benchmarks): the named packages
/// with the Lambda profile. Debug: bins and tests together, which resolve the same features as
/// the test command, so the dependencies `cargo test` just built are reused and only the
/// binaries are linked (`--all-targets` would also build the benchmarks in release mode).
pub fn build_binaries(release: bool, packages: &[&str]) -> std::path::PathBuf {
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = std::process::Command::new(cargo);
    command.current_dir(&root).args(["build", "--quiet"]);
    if release {
        command.arg("--release");
        for package in packages {
            command.args(["-p", package]);
        }
    } else {
        command.args(["--workspace", "--bins", "--tests"]);
    }
    let status = command.status().expect("running cargo build");
    assert!(status.success(), "building the binaries failed");
    root.join("target")
        .join(if release { "release" } else { "debug" })
}

/// The debug function binaries, built as the test command builds them.
pub fn build_function_binaries() -> std::path::PathBuf {
    build_binaries(false, &[])
}
