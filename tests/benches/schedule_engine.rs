//! Scheduling-engine benchmark: the scenarios of `tests/tests/fixtures/scenario-*.json`
//! (copies of the shared benchmark data: the large one has 200 habits with mixed recurrences
//! and dependencies, 500 tasks, 300 events, 90 days, Europe/Berlin) are loaded into a fresh
//! database, read back by the worker's own loader, and scheduled by the pure engine. Prints the
//! engine's time (median of 7 runs), the events placed, and the large/medium ratio.
//!
//! `scripts/bench.sh engine` (or `cargo bench -p integration-tests --bench schedule_engine`
//! with the local stack's environment). Under `cargo test` only the medium scenario runs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use shared::db::Db;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;
use unified_schedule::engine::{self, Source};
use unified_schedule::{apply, inputs};
use uuid::Uuid;

const ROUNDS: usize = 7;

struct Figures {
    engine: Duration,
    load: Duration,
    apply: Duration,
    habit_events: usize,
    task_events: usize,
    warnings: usize,
    summary: engine::Summary,
    habits: usize,
    tasks: usize,
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let medium = run(
        "medium",
        include_str!("../tests/fixtures/scenario-medium.json"),
    )
    .await;
    print("medium", &medium);
    if full {
        let large = run(
            "large",
            include_str!("../tests/fixtures/scenario-large.json"),
        )
        .await;
        print("large", &large);
        println!(
            "  large / medium engine time: {:.2}x",
            large.engine.as_secs_f64() / medium.engine.as_secs_f64()
        );
        println!(
            "| scheduling engine, large scenario (200 habits, 500 tasks, 90 days) vs medium | {:.1} ms vs {:.1} ms | {:.1}× |",
            large.engine.as_secs_f64() * 1000.0,
            medium.engine.as_secs_f64() * 1000.0,
            large.engine.as_secs_f64() / medium.engine.as_secs_f64()
        );
    }
}

fn print(name: &str, f: &Figures) {
    println!(
        "scheduling engine, {name} scenario: {} habits, {} tasks -> {} habit events + {} task events placed, {} warnings",
        f.habits, f.tasks, f.habit_events, f.task_events, f.warnings
    );
    println!(
        "  tasks: {} got time ({} of them only partly), {} none (no room before their deadlines); {} habit events bumped by urgent tasks",
        f.summary.tasks_scheduled,
        f.summary.partially_scheduled_tasks,
        f.summary.unscheduled_tasks,
        f.summary.bumped_habits
    );
    println!(
        "  engine (pure, median of {ROUNDS}) {:>8.1} ms",
        f.engine.as_secs_f64() * 1000.0
    );
    println!(
        "  loading inputs from Postgres     {:>8.1} ms",
        f.load.as_secs_f64() * 1000.0
    );
    println!(
        "  applying in one transaction      {:>8.1} ms",
        f.apply.as_secs_f64() * 1000.0
    );
}

async fn run(name: &str, json: &str) -> Figures {
    let scenario: Value = serde_json::from_str(json).unwrap();
    let meta = &scenario["meta"];
    let ws: Uuid = meta["ws_id"].as_str().unwrap().parse().unwrap();
    let user: Uuid = meta["user_id"].as_str().unwrap().parse().unwrap();
    let now: DateTime<Utc> = meta["now"].as_str().unwrap().parse().unwrap();
    let days = u32::try_from(meta["window_days"].as_u64().unwrap()).unwrap();
    let db = integration_tests::BenchDatabase::create(&format!("bench_engine_{name}"), 2).await;
    seed(&db.pool, &scenario).await;

    let mut conn = db.pool.begin().await.unwrap();
    let started = Instant::now();
    let inputs = inputs::load(&mut conn, ws, Some(user), days, now)
        .await
        .unwrap();
    conn.commit().await.unwrap();
    let load = started.elapsed();
    let mut times = Vec::with_capacity(ROUNDS);
    let mut output = engine::Output::default();
    for _ in 0..ROUNDS {
        let started = Instant::now();
        output = engine::generate(&inputs);
        times.push(started.elapsed());
    }
    times.sort();
    assert_eq!(output, engine::generate(&inputs), "deterministic");
    let started = Instant::now();
    let mut tx = db.pool.begin().await.unwrap();
    let applied = apply::apply(&mut tx, ws, &inputs, &output, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let apply = started.elapsed();
    assert_eq!(applied.events_created, output.events.len());
    let figures = Figures {
        engine: times[ROUNDS / 2],
        load,
        apply,
        habit_events: output
            .events
            .iter()
            .filter(|e| matches!(e.source, Source::Habit { .. }))
            .count(),
        task_events: output
            .events
            .iter()
            .filter(|e| matches!(e.source, Source::Task { .. }))
            .count(),
        warnings: output.habit_warnings.len() + output.task_warnings.len(),
        summary: output.summary.clone(),
        habits: inputs.habits.len(),
        tasks: inputs.tasks.len(),
    };
    db.drop().await;
    figures
}

/// Inserts the scenario's rows; their keys are the tables' column names.
async fn seed(pool: &Db, scenario: &Value) {
    let users: Vec<Uuid> = [scenario["meta"]["user_id"].clone()]
        .into_iter()
        .chain(
            scenario["workspaces"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w["creator_id"].clone()),
        )
        .filter_map(|v| v.as_str().and_then(|s| s.parse().ok()))
        .collect();
    sqlx::query("INSERT INTO public.users (id) SELECT DISTINCT unnest($1::uuid[])")
        .bind(&users)
        .execute(pool)
        .await
        .unwrap();
    for table in [
        "workspaces",
        "workspace_boards",
        "task_lists",
        "workspace_calendar_hour_settings",
        "workspace_habits",
        "tasks",
        "task_user_scheduling_settings",
        "workspace_calendar_events",
    ] {
        // Only the columns the rows carry, so the table's defaults fill the rest.
        let rows = &scenario[table];
        let columns: Vec<String> = rows[0].as_object().unwrap().keys().cloned().collect();
        let list = columns.join(", ");
        let sql = format!(
            "INSERT INTO public.{table} ({list})
             SELECT {list} FROM jsonb_populate_recordset(NULL::public.{table}, $1)"
        );
        sqlx::query(&sql)
            .bind(rows)
            .execute(pool)
            .await
            .unwrap_or_else(|err| panic!("seeding {table}: {err}"));
    }
}
