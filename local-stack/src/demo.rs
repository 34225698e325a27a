//! `jobs demo`: `schedule-task` end to end on the local stack.
//!
//! Seeds a demo workspace (Europe/Berlin, weekday working hours, locked and unlocked events),
//! enqueues one good message and two poison ones with the AWS SDK, drains the queue through
//! the real handler the way the event source mapping would, and prints the runs and the moves.
//! Re-running it starts from a freshly seeded workspace; nothing needs cleaning up.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Days, NaiveTime, Utc};
use lambda_runtime::LambdaEvent;
use serde_json::json;
use shared::config::{Env, WorkerConfig};
use shared::db::Db;
use shared::job_kind::JobKind;
use shared::jobs::worker::Function as _;
use shared::time::local_to_utc;
use uuid::Uuid;

use crate::event_source::{EventSource, lambda_context};

/// The demo workspace.
pub const DEMO_WS: Uuid = Uuid::from_u128(0x0de0_0000_0000_4000_8000_0000_0000_0001);
const DEMO_USER: Uuid = Uuid::from_u128(0x0de0_0000_0000_4000_8000_0000_0000_0002);
const DEMO_TZ: chrono_tz::Tz = chrono_tz::Europe::Berlin;

/// Replaces the demo workspace with a fresh one whose events are placed relative to `now`.
///
/// # Errors
/// A database error.
pub async fn seed(pool: &Db, now: DateTime<Utc>) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM public.workspaces WHERE id = $1")
        .bind(DEMO_WS)
        .execute(&mut tx)
        .await?;
    sqlx::query("INSERT INTO public.users (id, display_name) VALUES ($1, 'Demo user') ON CONFLICT (id) DO NOTHING")
        .bind(DEMO_USER)
        .execute(&mut tx)
        .await?;
    sqlx::query(
        "INSERT INTO public.workspaces (id, name, creator_id, timezone) VALUES ($1, 'Demo workspace', $2, $3)",
    )
    .bind(DEMO_WS)
    .bind(DEMO_USER)
    .bind(DEMO_TZ.name())
    .execute(&mut tx)
    .await?;
    let weekday = json!({ "enabled": true, "timeBlocks": [
        { "startTime": "09:00", "endTime": "12:00" }, { "startTime": "13:00", "endTime": "17:00" } ] });
    let off = json!({ "enabled": false, "timeBlocks": [] });
    sqlx::query("INSERT INTO public.workspace_calendar_hour_settings (ws_id, type, data) VALUES ($1, 'WORK', $2)")
        .bind(DEMO_WS)
        .bind(json!({
            "monday": weekday, "tuesday": weekday, "wednesday": weekday, "thursday": weekday,
            "friday": weekday, "saturday": off, "sunday": off }))
        .execute(&mut tx)
        .await?;

    let today = now.with_timezone(&DEMO_TZ).date_naive();
    let at = |days: u64, hour: u32, minute: u32| {
        let date = today.checked_add_days(Days::new(days)).unwrap_or(today);
        local_to_utc(
            DEMO_TZ,
            date.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or_default()),
        )
    };
    let minutes = |m: i64| chrono::Duration::minutes(m);
    // (title, start, length in minutes, locked)
    let events: Vec<(&str, DateTime<Utc>, i64, bool)> = vec![
        (
            "Yesterday's review (past)",
            now - chrono::Duration::days(1),
            60,
            false,
        ),
        ("Running now (in progress)", now - minutes(15), 60, false),
        ("Google: team sync (locked)", at(1, 10, 0), 60, true),
        ("Google: customer call (locked)", at(2, 14, 0), 120, true),
        ("Write report", at(9, 20, 0), 90, false),
        ("Prepare slides", at(3, 22, 30), 45, false),
        ("Inbox zero", at(12, 7, 0), 30, false),
        ("Code review", at(5, 19, 10), 50, false),
        ("Plan next sprint", at(1, 18, 0), 120, false),
        ("1:1 notes", at(7, 6, 0), 25, false),
    ];
    for (title, start, length, locked) in events {
        sqlx::query(
            "INSERT INTO public.workspace_calendar_events (ws_id, title, start_at, end_at, locked, color)
             VALUES ($1, $2, $3, $4, $5, 'BLUE')",
        )
        .bind(DEMO_WS)
        .bind(title)
        .bind(start)
        .bind(start + minutes(length))
        .bind(locked)
        .execute(&mut tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
struct EventView {
    id: Uuid,
    title: String,
    start_at: DateTime<Utc>,
    end_at: DateTime<Utc>,
    locked: bool,
}

async fn events(pool: &Db) -> anyhow::Result<Vec<EventView>> {
    Ok(sqlx::query_as(
        "SELECT id, title, start_at, end_at, locked FROM public.workspace_calendar_events
         WHERE ws_id = $1 ORDER BY start_at, id",
    )
    .bind(DEMO_WS)
    .fetch_all(pool)
    .await?)
}

fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&DEMO_TZ)
        .format("%a %d %b %H:%M")
        .to_string()
}

async fn send(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    group: &str,
    body: &str,
) -> anyhow::Result<()> {
    sqs.send_message()
        .queue_url(queue_url)
        .message_group_id(group)
        .message_deduplication_id(format!("demo:{}", Uuid::new_v4()))
        .message_body(body)
        .send()
        .await
        .context("sending a message to the local SQS server")?;
    Ok(())
}

async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<u64> {
    use aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages;
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(ApproximateNumberOfMessages)
        .send()
        .await
        .with_context(|| format!("reading the depth of {url}"))?;
    Ok(attributes
        .attributes()
        .and_then(|a| a.get(&ApproximateNumberOfMessages))
        .and_then(|depth| depth.parse().ok())
        .unwrap_or(0))
}

/// Runs the demo against the stack described by the environment (`.local/env`).
///
/// # Errors
/// The stack is not up, or a call to it failed.
pub async fn run() -> anyhow::Result<()> {
    let mut env = Env::process();
    let queue_url = env.required_url("SCHEDULE_TASK_QUEUE_URL");
    let dlq_url = env.required_url("SCHEDULE_TASK_DLQ_URL");
    env.finish(())?;
    let worker = {
        let dlq = dlq_url.clone();
        let mut env = Env::new(move |name| match name {
            "DEAD_LETTER_QUEUE_URL" => Some(dlq.clone()),
            other => std::env::var(other).ok(),
        });
        let worker = WorkerConfig::read(&mut env, JobKind::ScheduleTask);
        env.finish(worker)?
    };
    let function = schedule_task::Function::init(&schedule_task::Config { worker })
        .await
        .map_err(|err| anyhow::anyhow!(err))?;
    let pool = crate::connect().await?;
    let sqs = shared::aws::sqs_client().await;

    let started = Utc::now();
    let dead_before = queue_depth(&sqs, &dlq_url).await?;
    seed(&pool, started).await?;
    let before = events(&pool).await?;

    println!(
        "==> enqueueing 3 schedule-task messages: the demo workspace, a malformed body, an unknown workspace"
    );
    send(
        &sqs,
        &queue_url,
        &DEMO_WS.to_string(),
        &json!({ "ws_id": DEMO_WS }).to_string(),
    )
    .await?;
    send(&sqs, &queue_url, "poison", r#"{"ws_id": "not-a-uuid"}"#).await?;
    let stranger = Uuid::new_v4();
    send(
        &sqs,
        &queue_url,
        &stranger.to_string(),
        &json!({ "ws_id": stranger }).to_string(),
    )
    .await?;

    println!("==> draining {queue_url} through the schedule-task handler (batch size 10)");
    let source = EventSource::new(sqs.clone(), &queue_url).await?;
    let stats = source
        .drain(Duration::from_secs(60), |event| {
            let function = &function;
            async move {
                let event = LambdaEvent::new(event, lambda_context(Duration::from_secs(120)));
                function.handle(event).await
            }
        })
        .await?;
    println!(
        "    {} invocation(s), {} message(s) received, {} deleted, {} reported for retry",
        stats.invocations, stats.received, stats.deleted, stats.reported_failed
    );

    println!("\n==> runs (jobs.runs)");
    let runs = shared::jobs::ledger::since(&pool, started).await?;
    println!(
        "{:<14} {:<38} {:>7}  {:<10} detail",
        "task", "ws_id", "attempt", "status"
    );
    for run in runs {
        let ws = run
            .ws_id
            .map_or_else(|| "-".to_owned(), |id| id.to_string());
        let detail = run.error.unwrap_or_else(|| {
            run.result
                .and_then(|r| r.get("events_moved").map(|m| format!("{m} event(s) moved")))
                .unwrap_or_default()
        });
        println!(
            "{:<14} {ws:<38} {:>7}  {:<10} {detail}",
            run.task, run.attempt, run.status
        );
    }

    println!(
        "\n==> demo workspace events ({}), before -> after",
        DEMO_TZ.name()
    );
    let after = events(&pool).await?;
    println!(
        "{:<32} {:<7} {:<20} {:<20}",
        "title", "locked", "before", "after"
    );
    for event in &after {
        let old = before.iter().find(|b| b.id == event.id);
        let was = old.map_or_else(String::new, |b| local(b.start_at));
        let moved = old.is_some_and(|b| b.start_at != event.start_at || b.end_at != event.end_at);
        let now = format!(
            "{}-{}",
            local(event.start_at),
            event.end_at.with_timezone(&DEMO_TZ).format("%H:%M")
        );
        println!(
            "{:<32} {:<7} {:<20} {}{}",
            event.title,
            if event.locked { "yes" } else { "no" },
            was,
            now,
            if moved { "  (moved)" } else { "" }
        );
    }

    let depth = queue_depth(&sqs, &dlq_url).await?;
    println!(
        "\n==> dead-letter queue {dlq_url}: {depth} message(s), {} from this run",
        depth.saturating_sub(dead_before)
    );
    Ok(())
}
