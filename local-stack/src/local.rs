//! `jobs local`: the whole system on this machine, driven the way AWS drives it.
//!
//! Seeds demo workspaces (Google-connected ones served by the fake Google Calendar, and a
//! habit-heavy one), starts every function binary against its own local Lambda Runtime API
//! ([`crate::runtime_api`]), fires every orchestrator schedule once, and drains every task
//! queue with the event source mapping's rules: batches of up to 10, at most the function's
//! concurrency in flight, FIFO message groups, the queue's visibility timeout, partial batch
//! responses, and SQS's redrive to the DLQ. `calendar-webhook` runs behind a local Function URL
//! whose address the sync functions are given as `WEBHOOK_URL`, so the first syncs open push
//! channels; afterwards one event per demo calendar is changed in the fake Google Calendar and
//! the time until its row is in Postgres, through the push path, is measured. Prints progress,
//! then a summary from `jobs.runs`. Re-runnable: demo rows have fixed ids and are reset where
//! a run depends on them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, DurationRound as _, Utc};
use serde::Serialize;
use serde_json::json;
use shared::db::{Db, Tx};
use shared::job_kind::JobKind;
use uuid::Uuid;

use crate::event_source::EventSource;
use crate::fake_google::{CLIENT_ID, CLIENT_SECRET, FakeGoogle, all_day_event, timed_event};
use crate::freshness::{self, Follower, Watched};
use crate::function_url::FunctionUrl;
use crate::runtime_api::LocalFunction;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the function binaries are (`target/debug`).
    pub bin_dir: PathBuf,
    /// Where each function's output goes (`<dir>/<function>.log`).
    pub log_dir: PathBuf,
    pub sync_workspaces: usize,
    pub events_per_calendar: usize,
    pub habits: usize,
    /// Function instances per worker (capped by each function's maximum concurrency).
    pub concurrency: usize,
    /// The whole drain stops after this; what is left is reported.
    pub budget: Duration,
    pub progress: bool,
}

/// Demo rows have fixed ids so a second run reuses them.
fn demo_id(kind: u128, n: u128) -> Uuid {
    Uuid::from_u128(0x10ca_0000_0000_4000_8000_0000_0000_0000 | (kind << 32) | n)
}

/// The Google-connected demo workspaces.
pub fn sync_workspace(n: usize) -> Uuid {
    demo_id(1, n as u128)
}

/// The habit-heavy demo workspace.
pub fn habit_workspace() -> Uuid {
    demo_id(2, 0)
}

/// The fake Google account of sync workspace `n`.
pub fn account(n: usize) -> String {
    format!("demo{n}")
}

/// One task's line of the summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TaskSummary {
    pub task: String,
    pub received: usize,
    pub succeeded: i64,
    pub failed: i64,
    pub dead: i64,
    pub skipped: i64,
    pub events_synced: i64,
    pub events_scheduled: i64,
    pub dead_letters: usize,
    pub seconds: f64,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub started_at: DateTime<Utc>,
    pub tasks: Vec<TaskSummary>,
    /// Task queues that still held messages when the budget ran out.
    pub left_in_queues: usize,
    pub push: PushSummary,
}

/// The changes made in Google after the drain, and how long each took to reach Postgres.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PushSummary {
    /// When the first change was made: later runs are the pushed syncs.
    pub started_at: DateTime<Utc>,
    /// Per change, in the order made.
    pub seconds: Vec<f64>,
}

struct Worker {
    task: JobKind,
    queue_url: String,
    dlq_url: String,
    limit: usize,
}

/// Runs the system once. The fake Google server lives as long as the returned handle.
///
/// # Errors
/// The stack is not reachable, a binary is missing or fails to start, or an SQS call fails.
pub async fn run(options: &Options) -> anyhow::Result<(Summary, FakeGoogle)> {
    let started_at = Utc::now();
    let pool = crate::connect().await?;
    // Through a transaction-mode pooler the migrations cannot run (they need a session);
    // `scripts/stack.sh up` applied them directly, and `jobs check` would say if not.
    if pool.mode() != shared::db::ConnectionMode::Transaction {
        shared::migrate::run(&pool)
            .await
            .context("applying migrations")?;
    }
    let sqs = shared::aws::sqs_client().await;
    let workers = workers(&sqs).await?;

    let fake = FakeGoogle::start().await?;
    // The local webhook listens on the loopback without TLS.
    fake.allow_plain_http_addresses(true);
    seed(&pool, &fake, options).await?;
    let mut env = function_env(&fake);
    let webhook = start_webhook(options, &env, &workers).await?;
    env.push(("WEBHOOK_URL".to_owned(), webhook.url.clone()));
    say(
        options,
        &format!(
            "seeded {} Google-connected workspaces ({} events each) and a workspace with {} habits",
            options.sync_workspaces, options.events_per_calendar, options.habits
        ),
    );

    fire_every_schedule(options, &env, &workers, started_at).await?;
    let drained = drain_every_queue(options, &sqs, &env, &workers).await?;
    let mut summary = summarize(&pool, &sqs, &workers, &drained, started_at).await?;
    summary.push = time_pushed_changes(options, &pool, &sqs, &fake, &env, &workers).await?;
    webhook.stop().await?;
    Ok((summary, fake))
}

/// `calendar-webhook` behind a local Function URL, enqueueing onto the calendar-sync queue.
async fn start_webhook(
    options: &Options,
    env: &[(String, String)],
    workers: &[Worker],
) -> anyhow::Result<FunctionUrl> {
    let mut env = env.to_vec();
    env.push((
        JobKind::CalendarSync.queue_url_var().to_owned(),
        sync_worker(workers)?.queue_url.clone(),
    ));
    FunctionUrl::serve(start_function(options, "calendar-webhook", &env).await?).await
}

fn sync_worker(workers: &[Worker]) -> anyhow::Result<&Worker> {
    workers
        .iter()
        .find(|w| w.task == JobKind::CalendarSync)
        .context("no calendar-sync queue")
}

/// After the first syncs opened push channels: one event per demo calendar is renamed in the
/// fake Google Calendar, one after another, and timed until its row in Postgres has the new
/// name. Google notifies the webhook, which enqueues a sync that a warm calendar-sync instance
/// takes as soon as it is visible.
async fn time_pushed_changes(
    options: &Options,
    pool: &Db,
    sqs: &aws_sdk_sqs::Client,
    fake: &FakeGoogle,
    env: &[(String, String)],
    workers: &[Worker],
) -> anyhow::Result<PushSummary> {
    let worker = sync_worker(workers)?;
    let function = start_function(options, worker.task.as_str(), &worker_env(env, worker)).await?;
    let follower = Follower::start(
        function,
        EventSource::new(sqs.clone(), &worker.queue_url).await?,
    );

    let mut summary = PushSummary {
        started_at: Utc::now(),
        seconds: Vec::new(),
    };
    for n in 0..options.sync_workspaces {
        let account = account(n);
        let Some(event) = fake.events(&account, "primary").into_iter().find(|e| {
            e["summary"]
                .as_str()
                .is_some_and(|s| s.starts_with("Meeting"))
        }) else {
            continue;
        };
        let watched = Watched {
            ws_id: sync_workspace(n),
            account: &account,
            calendar: "primary",
            event,
        };
        let title = format!(
            "Renamed in Google by the run of {}",
            summary.started_at.format("%H:%M:%S%.3f")
        );
        let took =
            freshness::time_change(pool, fake, &watched, &title, Duration::from_secs(60)).await?;
        say(
            options,
            &format!(
                "a change in Google Calendar {n} reached Postgres in {:.2} s",
                took.as_secs_f64()
            ),
        );
        summary.seconds.push(took.as_secs_f64());
    }
    follower.stop().await?;
    Ok(summary)
}

/// Every task queue of the local stack, with its DLQ and its function's maximum concurrency.
async fn workers(sqs: &aws_sdk_sqs::Client) -> anyhow::Result<Vec<Worker>> {
    let mut workers = Vec::new();
    for task in JobKind::ALL {
        let queue_url = std::env::var(task.queue_url_var())
            .with_context(|| format!("{} is not set (source .local/env)", task.queue_url_var()))?;
        let dlq_url = shared::jobs::dead_letter::queue_url_of(sqs, &queue_url).await?;
        let limit = match task {
            JobKind::CalendarSync | JobKind::ScheduleTask => 10,
            JobKind::CalendarFullSync | JobKind::UnifiedSchedule => 5,
        };
        workers.push(Worker {
            task,
            queue_url,
            dlq_url,
            limit,
        });
    }
    Ok(workers)
}

/// What every function binary is started with: the stack's settings and the fake Google.
fn function_env(fake: &FakeGoogle) -> Vec<(String, String)> {
    let mut env = stack_env();
    env.extend([
        ("GOOGLE_CLIENT_ID".to_owned(), CLIENT_ID.to_owned()),
        ("GOOGLE_CLIENT_SECRET".to_owned(), CLIENT_SECRET.to_owned()),
        ("GOOGLE_CALENDAR_API_URL".to_owned(), fake.api_url.clone()),
        ("GOOGLE_OAUTH_TOKEN_URL".to_owned(), fake.token_url.clone()),
        ("RUST_LOG".to_owned(), "info".to_owned()),
    ]);
    env
}

/// Fires every schedule once through the orchestrator binary; a fresh tick per run, so a
/// second run is new work.
async fn fire_every_schedule(
    options: &Options,
    env: &[(String, String)],
    workers: &[Worker],
    tick: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut env = env.to_vec();
    for worker in workers {
        env.push((
            worker.task.queue_url_var().to_owned(),
            worker.queue_url.clone(),
        ));
    }
    let mut orchestrator = start_function(options, "orchestrator", &env).await?;
    for worker in workers {
        let input = json!({ "fan_out": worker.task.as_str(), "scheduled_at": tick.to_rfc3339() });
        let result = orchestrator
            .invoke(&input, Duration::from_secs(300))
            .await?;
        say(
            options,
            &format!(
                "orchestrator fanned out {}: {} workspaces enqueued, {} skipped",
                worker.task, result["enqueued"], result["skipped"]
            ),
        );
    }
    orchestrator.stop().await
}

/// Per job kind: messages handled and the seconds its slowest instance drained for.
struct Drained {
    received: BTreeMap<JobKind, Arc<AtomicUsize>>,
    seconds: BTreeMap<JobKind, f64>,
}

/// Drains every queue through its function binaries (up to `options.concurrency` instances
/// each) until the queues are empty or the budget is spent, showing progress.
async fn drain_every_queue(
    options: &Options,
    sqs: &aws_sdk_sqs::Client,
    env: &[(String, String)],
    workers: &[Worker],
) -> anyhow::Result<Drained> {
    let deadline = Instant::now() + options.budget;
    let received: BTreeMap<JobKind, Arc<AtomicUsize>> = workers
        .iter()
        .map(|w| (w.task, Arc::new(AtomicUsize::new(0))))
        .collect();
    let mut drains = Vec::new();
    for worker in workers {
        let env = worker_env(env, worker);
        for _ in 0..options.concurrency.clamp(1, worker.limit) {
            let mut function = start_function(options, worker.task.as_str(), &env).await?;
            let source = EventSource::new(sqs.clone(), &worker.queue_url).await?;
            let counter = received[&worker.task].clone();
            let task = worker.task;
            drains.push(tokio::spawn(async move {
                let started = Instant::now();
                let result = drain(&mut function, &source, &counter, deadline).await;
                let _ = function.stop().await;
                (task, started.elapsed(), result)
            }));
        }
    }

    let progress = show_progress(options, &received);
    let mut seconds: BTreeMap<JobKind, f64> = BTreeMap::new();
    for drain in drains {
        let (task, elapsed, result) = drain.await.context("a drain task failed")?;
        result.with_context(|| format!("draining {task}"))?;
        let slot = seconds.entry(task).or_default();
        *slot = slot.max(elapsed.as_secs_f64());
    }
    progress.abort();
    Ok(Drained { received, seconds })
}

/// Prints the messages handled so far every 3 seconds until aborted.
fn show_progress(
    options: &Options,
    received: &BTreeMap<JobKind, Arc<AtomicUsize>>,
) -> tokio::task::JoinHandle<()> {
    let received = received.clone();
    let show = options.progress;
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(3)).await;
            if show {
                let line: Vec<String> = received
                    .iter()
                    .map(|(task, n)| format!("{task} {}", n.load(Ordering::Relaxed)))
                    .collect();
                eprintln!("  messages handled so far: {}", line.join(", "));
            }
        }
    })
}

/// The summary per job kind, from `jobs.runs` since `started_at` and the queues.
async fn summarize(
    pool: &Db,
    sqs: &aws_sdk_sqs::Client,
    workers: &[Worker],
    drained: &Drained,
    started_at: DateTime<Utc>,
) -> anyhow::Result<Summary> {
    let mut summary = Summary {
        started_at,
        ..Summary::default()
    };
    for worker in workers {
        let mut line = task_summary(pool, worker.task, started_at).await?;
        line.received = drained.received[&worker.task].load(Ordering::Relaxed);
        line.dead_letters = shared::jobs::dead_letter::list(sqs, Some(pool), &worker.dlq_url)
            .await?
            .len();
        line.seconds = drained
            .seconds
            .get(&worker.task)
            .copied()
            .unwrap_or_default();
        if !EventSource::new(sqs.clone(), &worker.queue_url)
            .await?
            .is_empty()
            .await?
        {
            summary.left_in_queues += 1;
        }
        summary.tasks.push(line);
    }
    Ok(summary)
}

/// The local stack's settings a function binary needs (`source .local/env`), to start it with.
pub fn stack_env() -> Vec<(String, String)> {
    [
        "DATABASE_URL",
        "DATABASE_CONNECTION_MODE",
        "AWS_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ]
    .iter()
    .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v)))
    .collect()
}

/// Starts function `name` with `env`, its output in the log directory, and waits for its init.
async fn start_function(
    options: &Options,
    name: &str,
    env: &[(String, String)],
) -> anyhow::Result<LocalFunction> {
    let mut function = LocalFunction::start(
        &binary(options, name)?,
        name,
        env,
        &options.log_dir.join(format!("{name}.log")),
    )
    .await?;
    function.ready(Duration::from_secs(30)).await?;
    Ok(function)
}

/// `env` plus the worker's queue and DLQ.
fn worker_env(env: &[(String, String)], worker: &Worker) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    env.push((
        worker.task.queue_url_var().to_owned(),
        worker.queue_url.clone(),
    ));
    env.push(("DEAD_LETTER_QUEUE_URL".to_owned(), worker.dlq_url.clone()));
    env
}

fn binary(options: &Options, name: &str) -> anyhow::Result<PathBuf> {
    let path = options.bin_dir.join(name);
    anyhow::ensure!(
        path.exists(),
        "{} is missing: build the functions first (cargo build --bins)",
        path.display()
    );
    Ok(path)
}

fn say(options: &Options, line: &str) {
    if options.progress {
        eprintln!("==> {line}");
    }
}

/// Polls and invokes until the queue is empty (nothing visible or in flight) or `deadline`.
async fn drain(
    function: &mut LocalFunction,
    source: &EventSource,
    received: &AtomicUsize,
    deadline: Instant,
) -> anyhow::Result<()> {
    while Instant::now() < deadline {
        let Some(event) = source.poll().await? else {
            if source.is_empty().await? {
                return Ok(());
            }
            // Messages are in flight elsewhere or waiting out a retry backoff.
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        received.fetch_add(event.records.len(), Ordering::Relaxed);
        let response = match function
            .invoke_batch(&event, Duration::from_secs(120))
            .await
        {
            Ok(response) => response,
            Err(err) => {
                // A failed invocation returns the whole batch after its visibility timeout.
                tracing::warn!(error = %err, "invocation failed");
                continue;
            }
        };
        source.settle(&event, &response).await?;
    }
    Ok(())
}

async fn task_summary(
    pool: &Db,
    task: JobKind,
    since: DateTime<Utc>,
) -> anyhow::Result<TaskSummary> {
    let row: (i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'succeeded'),
                count(*) FILTER (WHERE status = 'failed'),
                count(*) FILTER (WHERE status = 'dead'),
                count(*) FILTER (WHERE status = 'skipped'),
                coalesce(sum(coalesce((result->>'inserted')::bigint, 0)
                           + coalesce((result->>'updated')::bigint, 0)
                           + coalesce((result->>'deleted')::bigint, 0))
                         FILTER (WHERE status = 'succeeded' AND task LIKE 'calendar-%'), 0)::bigint,
                coalesce(sum(coalesce((result->>'events_created')::bigint, 0)
                           + coalesce((result->>'events_updated')::bigint, 0)
                           + coalesce((result->>'events_moved')::bigint, 0))
                         FILTER (WHERE status = 'succeeded'), 0)::bigint
         FROM jobs.runs WHERE task = $1 AND started_at >= $2",
    )
    .bind(task.as_str())
    .bind(since)
    .fetch_one(pool)
    .await
    .context("summarising jobs.runs")?;
    Ok(TaskSummary {
        task: task.as_str().to_owned(),
        succeeded: row.0,
        failed: row.1,
        dead: row.2,
        skipped: row.3,
        events_synced: row.4,
        events_scheduled: row.5,
        ..TaskSummary::default()
    })
}

/// Renders the summary table.
pub fn render(summary: &Summary) -> String {
    let rows: Vec<Vec<String>> = summary
        .tasks
        .iter()
        .map(|t| {
            vec![
                t.task.clone(),
                t.received.to_string(),
                t.succeeded.to_string(),
                t.failed.to_string(),
                t.dead.to_string(),
                t.skipped.to_string(),
                t.events_synced.to_string(),
                t.events_scheduled.to_string(),
                t.dead_letters.to_string(),
                format!("{:.1}", t.seconds),
            ]
        })
        .collect();
    let mut out = crate::table::table(
        &[
            "task",
            "messages",
            "succeeded",
            "failed",
            "dead",
            "skipped",
            "events synced",
            "events scheduled",
            "in DLQ",
            "seconds",
        ],
        &rows,
    );
    out.push_str(&format!(
        "task queues not drained when the budget ran out: {}\n",
        summary.left_in_queues
    ));
    let seconds = &summary.push.seconds;
    if !seconds.is_empty() {
        let samples: Vec<Duration> = seconds
            .iter()
            .map(|s| Duration::from_secs_f64(*s))
            .collect();
        out.push_str(&format!(
            "push: {} changes made in Google after the first sync reached Postgres in {:.2} s \
             (median), {:.2} s at most, through calendar-webhook and calendar-sync \
             (polling alone: up to the next calendar-sync schedule, 15 minutes by default)\n",
            seconds.len(),
            freshness::quantile(&samples, 0.5).as_secs_f64(),
            freshness::quantile(&samples, 1.0).as_secs_f64(),
        ));
    }
    out
}

/// Seeds (or resets) the demo workspaces.
async fn seed(pool: &Db, fake: &FakeGoogle, options: &Options) -> anyhow::Result<()> {
    // Whole minutes, as calendar events have.
    let now = Utc::now().duration_trunc(chrono::TimeDelta::minutes(1))?;
    let mut tx = pool.begin().await?;
    for n in 0..options.sync_workspaces {
        let ws = sync_workspace(n);
        let user = demo_id(3, n as u128);
        workspace(
            &mut tx,
            ws,
            user,
            &format!("Demo sync {n}"),
            "Europe/Berlin",
        )
        .await?;
        // Tokens and sync state belong to the previous run's fake server: start clean.
        for table in [
            "DELETE FROM public.calendar_connections WHERE ws_id = $1",
            "DELETE FROM public.calendar_auth_tokens WHERE ws_id = $1",
            "DELETE FROM public.calendar_sync_states WHERE ws_id = $1",
            "DELETE FROM jobs.sync_checkpoints WHERE ws_id = $1",
            "DELETE FROM public.workspace_calendar_events WHERE ws_id = $1 AND provider = 'google'",
        ] {
            sqlx::query(table).bind(ws).execute(&mut tx).await?;
        }
        let name = account(n);
        let grant = fake.add_account(&name);
        for i in 0..options.events_per_calendar {
            let id = format!("demo{n}e{i:04}");
            let event = if i % 25 == 0 {
                let date = (now + chrono::Duration::days((i % 60) as i64 - 20)).date_naive();
                // Every other one ends on its start date, as some imports write them.
                all_day_event(&id, &format!("Offsite {i}"), date, ((i / 25) % 2) as i64)
            } else if i % 25 == 12 {
                // A reminder-style event that ends when it starts.
                timed_event(
                    &id,
                    &format!("Reminder {i}"),
                    now + chrono::Duration::hours(i as i64),
                    0,
                )
            } else {
                let start = now - chrono::Duration::days(30)
                    + chrono::Duration::hours(((i * 7) % (24 * 80)) as i64);
                timed_event(
                    &id,
                    &format!("Meeting {i} – Ünïcode ✓"),
                    start,
                    30 + (i % 4) as i64 * 15,
                )
            };
            fake.put_event(&name, "primary", event);
        }
        let token: Uuid = sqlx::query_scalar(
            "INSERT INTO public.calendar_auth_tokens
                 (user_id, ws_id, access_token, refresh_token, provider, account_email)
             VALUES ($1, $2, $3, $4, 'google', $5) RETURNING id",
        )
        .bind(user)
        .bind(ws)
        .bind(&grant.access_token)
        .bind(&grant.refresh_token)
        .bind(format!("{name}@example.com"))
        .fetch_one(&mut tx)
        .await?;
        sqlx::query(
            "INSERT INTO public.calendar_connections (ws_id, calendar_id, calendar_name, auth_token_id)
             VALUES ($1, 'primary', 'Primary', $2)",
        )
        .bind(ws)
        .bind(token)
        .execute(&mut tx)
        .await?;
    }

    let ws = habit_workspace();
    workspace(&mut tx, ws, demo_id(3, 999), "Demo habits", "Europe/Berlin").await?;
    sqlx::query(
        "INSERT INTO public.workspace_calendar_hour_settings (ws_id, type, data) VALUES ($1, 'WORK', $2)
         ON CONFLICT (ws_id, type) DO NOTHING",
    )
    .bind(ws)
    .bind(json!({
        "monday": {"enabled": true, "timeBlocks": [{"startTime": "09:00", "endTime": "12:30"}, {"startTime": "13:30", "endTime": "17:30"}]},
        "tuesday": {"enabled": true, "timeBlocks": [{"startTime": "09:00", "endTime": "12:30"}, {"startTime": "13:30", "endTime": "17:30"}]},
        "wednesday": {"enabled": true, "timeBlocks": [{"startTime": "09:00", "endTime": "12:30"}, {"startTime": "13:30", "endTime": "17:30"}]},
        "thursday": {"enabled": true, "timeBlocks": [{"startTime": "09:00", "endTime": "12:30"}, {"startTime": "13:30", "endTime": "17:30"}]},
        "friday": {"enabled": true, "timeBlocks": [{"startTime": "09:00", "endTime": "13:00"}]}
    }))
    .execute(&mut tx)
    .await?;
    let frequencies = ["daily", "weekly", "monthly", "daily", "weekly"];
    let hours = [
        "personal_hours",
        "work_hours",
        "personal_hours",
        "meeting_hours",
    ];
    for i in 0..options.habits {
        let id = demo_id(4, i as u128);
        let dependency = (i % 7 == 6).then(|| demo_id(4, (i - 1) as u128));
        // Monthly habits alternate between a day of the month and a weekday of a week.
        let monthly = (frequencies[i % frequencies.len()] == "monthly").then_some(i % 2 == 0);
        sqlx::query(
            "INSERT INTO public.workspace_habits
                 (id, ws_id, name, duration_minutes, frequency, calendar_hours, days_of_week,
                  ideal_time, time_preference, priority, is_splittable, min_instances_per_day,
                  ideal_instances_per_day, max_instances_per_day, dependency_habit_id,
                  dependency_type, monthly_type, day_of_month, week_of_month,
                  day_of_week_monthly, start_date)
             VALUES ($1, $2, $3, $4, $5::habit_frequency, $6::calendar_hours, $7, $8::time,
                     $9::time_of_day_preference, $10::task_priority, $11, $12, $13, $14, $15,
                     $16, $17::monthly_recurrence_type, $18, $19, $20, current_date - 7)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(ws)
        .bind(format!("Habit {i}"))
        .bind(15 + (i as i32 % 5) * 15)
        .bind(frequencies[i % frequencies.len()])
        .bind(hours[i % hours.len()])
        .bind((i % 5 == 1).then(|| vec![1i32, 3, 5]))
        .bind((i % 3 == 0).then(|| format!("{:02}:{:02}", 7 + i % 12, (i % 4) * 15)))
        // Every label of every enum column the scheduler reads (design §5.1).
        .bind((i % 3 == 1).then_some(["morning", "afternoon", "evening", "night"][(i / 3) % 4]))
        .bind(["low", "normal", "high", "critical"][i % 4])
        .bind(i % 6 == 2)
        .bind((i % 6 == 2).then_some(2i32))
        .bind((i % 6 == 2).then_some(2i32))
        .bind((i % 6 == 2).then_some(3i32))
        .bind(dependency)
        .bind(dependency.map(|_| "after"))
        .bind(monthly.map(|by_weekday| {
            if by_weekday {
                "day_of_week"
            } else {
                "day_of_month"
            }
        }))
        .bind(monthly.and_then(|by_weekday| (!by_weekday).then_some(1 + (i as i32 % 28))))
        .bind(monthly.and_then(|by_weekday| by_weekday.then_some(1 + (i as i32 % 4))))
        .bind(monthly.and_then(|by_weekday| by_weekday.then_some(i as i32 % 7)))
        .execute(&mut tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn workspace(
    tx: &mut Tx,
    ws: Uuid,
    user: Uuid,
    name: &str,
    timezone: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO public.users (id, display_name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
    )
    .bind(user)
    .bind(format!("{name} owner"))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO public.workspaces (id, name, creator_id, timezone) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(ws)
    .bind(name)
    .bind(user)
    .bind(timezone)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
