use clap::{Parser, Subcommand};
use jobs_cli::ops::{self, RunFilter};
use local_stack::table;
use shared::job_kind::JobKind;
use shared::jobs::dead_letter;
use uuid::Uuid;

/// Operate the Tuturuuu background jobs: against AWS, or the local stack when AWS_ENDPOINT_URL
/// points at it. Queues come from <TASK>_QUEUE_URL, the database from DATABASE_URL.
#[derive(Debug, Parser)]
#[command(name = "jobs")]
struct Cli {
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply the migrations in migrations/ to DATABASE_URL (direct or session mode: it holds
    /// an advisory lock), recording them in jobs.schema_migrations.
    Migrate,
    /// Write the migrations as Supabase CLI migration files, to ship the jobs schema through
    /// Tuturuuu's own migrations (apps/database/supabase/migrations).
    Migrations {
        /// The directory to write `<version>_jobs_<name>.sql` files into (created if missing).
        #[arg(long, value_name = "DIR")]
        supabase: std::path::PathBuf,
    },
    /// Check that DATABASE_URL can run the jobs: its role, tables, privileges, column types,
    /// enum labels, functions and migrations (exits 1 when a check fails).
    Check,
    /// Validate a payload against the task's type and send it to the task's queue.
    Enqueue {
        /// calendar-sync, calendar-full-sync, schedule-task or unified-schedule.
        task: JobKind,
        /// The message body, e.g. '{"ws_id":"…"}'.
        payload: String,
        /// Your idempotency key (default: a fresh one).
        #[arg(long)]
        deduplication_id: Option<String>,
    },
    /// List runs from jobs.runs, newest first.
    Runs {
        #[arg(long)]
        task: Option<JobKind>,
        #[arg(long)]
        ws: Option<Uuid>,
        /// running, succeeded, failed, dead or skipped.
        #[arg(long)]
        status: Option<String>,
        /// An RFC 3339 time or an age (30m, 6h, 7d).
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Per job kind instead of per run: runs by outcome, p50/p95 duration.
        #[arg(long)]
        stats: bool,
    },
    /// Calendar connections that need the user's attention (the calendar is gone or no longer
    /// shared): the syncs skip them until the connection is changed in the web app.
    Connections {
        #[arg(long)]
        ws: Option<Uuid>,
    },
    /// Re-enqueue the work of runs that ended dead or failed (counts only, unless --send).
    Replay {
        #[arg(long)]
        task: JobKind,
        /// dead or failed: the status of each message's last attempt.
        #[arg(long, value_parser = ["dead", "failed"])]
        status: String,
        #[arg(long)]
        ws: Option<Uuid>,
        /// An RFC 3339 time or an age (30m, 6h, 7d).
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
        /// Send the messages; without it nothing is sent.
        #[arg(long)]
        send: bool,
    },
    /// Dead-letter queues: list or redrive.
    Dlq {
        #[command(subcommand)]
        action: Dlq,
    },
    /// Seed a demo workspace and drain schedule-task messages through its handler.
    Demo,
    /// Run the whole system locally: demo data, every orchestrator once, every queue drained
    /// by its function binary (see README).
    Local {
        /// Where the function binaries are.
        #[arg(long, default_value = "target/debug")]
        bin_dir: std::path::PathBuf,
        /// Where each function's log goes.
        #[arg(long, default_value = ".local/logs")]
        log_dir: std::path::PathBuf,
        #[arg(long, default_value_t = 3)]
        sync_workspaces: usize,
        #[arg(long, default_value_t = 300)]
        events: usize,
        #[arg(long, default_value_t = 30)]
        habits: usize,
        /// Function instances per worker (each capped by the function's maximum concurrency).
        #[arg(long, default_value_t = 2)]
        concurrency: usize,
        /// Seconds the drain may take.
        #[arg(long, default_value_t = 300)]
        budget: u64,
    },
}

#[derive(Debug, Subcommand)]
enum Dlq {
    /// Show the task's dead letters with their group, receive count and last error.
    List { task: JobKind },
    /// Move the task's dead letters back to its queue.
    Redrive { task: JobKind },
}

const STATUSES: [&str; 5] = ["running", "succeeded", "failed", "dead", "skipped"];

fn queue_url(task: JobKind) -> anyhow::Result<String> {
    std::env::var(task.queue_url_var())
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| anyhow::anyhow!("{} is not set", task.queue_url_var()))
}

fn print<T: serde::Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        print!("{}", text());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::telemetry::init_tracing("warn");
    let cli = Cli::parse();
    match cli.command {
        Command::Migrate => jobs_cli::migrate().await,
        Command::Migrations { supabase } => {
            for path in jobs_cli::write_supabase_migrations(&supabase)? {
                println!("{}", path.display());
            }
            Ok(())
        }
        Command::Check => {
            let pool = jobs_cli::connect().await?;
            let outcomes = jobs_cli::check::run(&pool).await?;
            print(cli.json, &outcomes, || jobs_cli::check::render(&outcomes))?;
            if jobs_cli::check::failed(&outcomes) {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Demo => local_stack::demo::run().await,
        Command::Local {
            bin_dir,
            log_dir,
            sync_workspaces,
            events,
            habits,
            concurrency,
            budget,
        } => {
            let options = local_stack::local::Options {
                bin_dir,
                log_dir,
                sync_workspaces,
                events_per_calendar: events,
                habits,
                concurrency,
                budget: std::time::Duration::from_secs(budget),
                progress: !cli.json,
            };
            let (summary, _fake) = local_stack::local::run(&options).await?;
            print(cli.json, &summary, || local_stack::local::render(&summary))
        }
        Command::Enqueue {
            task,
            payload,
            deduplication_id,
        } => {
            // Validated before anything is read from the environment.
            let message = match ops::prepare(task, &payload, deduplication_id.as_deref()) {
                Ok(message) => message,
                Err(err) => {
                    eprintln!("error: {err}");
                    std::process::exit(2);
                }
            };
            let dedup = message.deduplication_id.clone();
            let sqs = shared::aws::sqs_client().await;
            let id = ops::send(&sqs, &queue_url(task)?, message).await?;
            let sent = serde_json::json!({ "task": task.as_str(), "message_id": id, "deduplication_id": dedup });
            print(cli.json, &sent, || {
                format!("sent {id} to {task} (deduplication id {dedup})\n")
            })
        }
        Command::Runs {
            task,
            ws,
            status,
            since,
            until,
            limit,
            stats,
        } => {
            if let Some(status) = status.as_deref().filter(|s| !STATUSES.contains(s)) {
                anyhow::bail!("--status {status}: expected one of {}", STATUSES.join(", "));
            }
            let filter = run_filter(task, ws, status, since, until, limit)?;
            let pool = jobs_cli::connect().await?;
            if stats {
                let stats = ops::run_stats(&pool, &filter).await?;
                return print(cli.json, &stats, || render_stats(&stats));
            }
            let runs = ops::runs(&pool, &filter).await?;
            print(cli.json, &runs, || render_runs(&runs))
        }
        Command::Connections { ws } => {
            let pool = jobs_cli::connect().await?;
            let marked = ops::attention(&pool, ws).await?;
            print(cli.json, &marked, || {
                let rows: Vec<Vec<String>> = marked
                    .iter()
                    .map(|a| {
                        vec![
                            a.marked_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                            a.ws_id.to_string(),
                            table::cell(&a.calendar_id, 40),
                            a.reason.clone(),
                        ]
                    })
                    .collect();
                table::table(&["marked (UTC)", "workspace", "calendar", "reason"], &rows)
            })
        }
        Command::Replay {
            task,
            status,
            ws,
            since,
            until,
            send,
        } => {
            let filter = run_filter(Some(task), ws, Some(status.clone()), since, until, 0)?;
            let pool = jobs_cli::connect().await?;
            let runs = ops::replayable(&pool, &filter).await?;
            let queue = if send {
                queue_url(task)?
            } else {
                String::new()
            };
            let sqs = shared::aws::sqs_client().await;
            let report = ops::replay(&sqs, &queue, task, &runs, !send).await;
            print(cli.json, &report, || render_replay(&report, &status, task))
        }
        Command::Dlq { action } => {
            let sqs = shared::aws::sqs_client().await;
            let (task, list) = match action {
                Dlq::List { task } => (task, true),
                Dlq::Redrive { task } => (task, false),
            };
            let source = queue_url(task)?;
            let dlq = dead_letter::queue_url_of(&sqs, &source).await?;
            if list {
                let pool = jobs_cli::connect().await.ok();
                let letters = dead_letter::list(&sqs, pool.as_ref(), &dlq).await?;
                print(cli.json, &letters, || render_letters(&letters))
            } else {
                let report = dead_letter::redrive(&sqs, &dlq, &source).await?;
                print(cli.json, &report, || {
                    format!("moved {} message(s) back to {task}\n", report.moved)
                })
            }
        }
    }
}

/// The filter of `jobs runs` and `jobs replay`, with `--since`/`--until` read at now.
fn run_filter(
    task: Option<JobKind>,
    ws_id: Option<Uuid>,
    status: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: i64,
) -> anyhow::Result<RunFilter> {
    let now = chrono::Utc::now();
    Ok(RunFilter {
        task: task.map(|t| t.as_str().to_owned()),
        ws_id,
        status,
        since: since.map(|s| ops::parse_time(&s, now)).transpose()?,
        until: until.map(|s| ops::parse_time(&s, now)).transpose()?,
        limit,
    })
}

fn render_runs(runs: &[ops::Run]) -> String {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                r.task.clone(),
                r.ws_id.map(|w| w.to_string()).unwrap_or_default(),
                r.status.clone(),
                r.attempt.to_string(),
                table::cell(r.error.as_deref().unwrap_or_default(), 60),
            ]
        })
        .collect();
    table::table(
        &[
            "started (UTC)",
            "task",
            "workspace",
            "status",
            "attempt",
            "error",
        ],
        &rows,
    )
}

fn render_replay(report: &ops::ReplayReport, status: &str, task: JobKind) -> String {
    let mut text = if report.dry_run {
        format!(
            "{} {status} {task} message(s) to replay; nothing sent (add --send)\n",
            report.found
        )
    } else {
        format!(
            "replayed {} of {} {status} {task} message(s)\n",
            report.sent, report.found
        )
    };
    for (run, error) in &report.failed {
        text.push_str(&format!("  run {run}: {error}\n"));
    }
    text
}

fn render_letters(letters: &[dead_letter::ListedLetter]) -> String {
    let rows: Vec<Vec<String>> = letters
        .iter()
        .map(|l| {
            vec![
                l.message_id.clone(),
                l.group_id.clone().unwrap_or_default(),
                l.receive_count.clone().unwrap_or_default(),
                table::cell(l.last_error.as_deref().unwrap_or_default(), 70),
            ]
        })
        .collect();
    table::table(&["message", "group", "receives", "last error"], &rows)
}

fn render_stats(stats: &[ops::RunStats]) -> String {
    let ms = |v: Option<f64>| v.map(|v| format!("{v:.0}")).unwrap_or_default();
    let rows: Vec<Vec<String>> = stats
        .iter()
        .map(|s| {
            vec![
                s.task.clone(),
                s.runs.to_string(),
                s.succeeded.to_string(),
                s.failed.to_string(),
                s.dead.to_string(),
                s.skipped.to_string(),
                s.running.to_string(),
                ms(s.p50_ms),
                ms(s.p95_ms),
            ]
        })
        .collect();
    table::table(
        &[
            "task",
            "runs",
            "succeeded",
            "failed",
            "dead",
            "skipped",
            "running",
            "p50 ms",
            "p95 ms",
        ],
        &rows,
    )
}
