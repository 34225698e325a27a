//! Calendar-reads benchmark: the schedulers' reads of one workspace's events (unified-schedule's
//! calendar and its own events, schedule-task's events) with production's indexes only, then
//! with a candidate index production lacks, `(ws_id, end_at)`, in the same run (design §10.3). The workspace holds
//! `CALENDAR_EVENTS` events (default 200,000), 95% of them in the past, among as many again in
//! 20 other workspaces; each read is timed by `EXPLAIN ANALYZE` (median of 5).
//!
//! `scripts/bench.sh calendar-reads` (or `cargo bench -p integration-tests --bench
//! calendar_reads` with the local stack's environment). Under `cargo test` a small smoke run.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use chrono::{DateTime, Duration as Span, Utc};
use shared::db::Db;
use uuid::Uuid;

const ROUNDS: usize = 5;

/// The index the mirror used to add; production has none like it.
const CANDIDATE: &str = "CREATE INDEX workspace_calendar_events_ws_id_end_at_idx
    ON public.workspace_calendar_events (ws_id, end_at)";

#[tokio::main]
async fn main() {
    let n = integration_tests::bench_size("CALENDAR_EVENTS", 200_000, 2_000);
    let db = integration_tests::BenchDatabase::create("bench_calendar_reads", 2).await;
    let pool = db.pool.clone();
    let now = integration_tests::test_now();
    let target = seed(&pool, n, now).await;
    let range_end = now + Span::days(30);

    let reads: [(&str, &str, bool); 3] = [
        (
            "unified-schedule: the calendar",
            unified_schedule::inputs::CALENDAR_SQL,
            true,
        ),
        (
            "unified-schedule: its own events",
            unified_schedule::apply::OWNED_SQL,
            false,
        ),
        (
            "schedule-task: events",
            schedule_task::store::EVENTS_SQL,
            false,
        ),
    ];
    let production = time_all(&pool, &reads, target, now, range_end).await;
    sqlx::raw_sql(CANDIDATE).execute(&pool).await.unwrap();
    sqlx::query("ANALYZE public.workspace_calendar_events")
        .execute(&pool)
        .await
        .unwrap();
    let recommended = time_all(&pool, &reads, target, now, range_end).await;

    println!(
        "calendar reads: one workspace of {n} events (95% past) among {} in 21 workspaces, EXPLAIN ANALYZE, median of {ROUNDS}",
        2 * n
    );
    for ((name, _, _), (p, r)) in reads.iter().zip(production.iter().zip(&recommended)) {
        println!(
            "  {name:<34} production's indexes {p:>7.2} ms   with (ws_id, end_at) {r:>7.2} ms   ({:.2}x)",
            p / r
        );
        println!(
            "| calendar read, {n} events, production's indexes vs with (ws_id, end_at): {name} | {p:.2} ms vs {r:.2} ms | {:.2}× |",
            p / r
        );
    }
    db.drop().await;
}

/// `n` events in the target workspace (5% in the next 90 days, some owned by a habit or a
/// task) and `n` more spread over 20 other workspaces, all through production's trigger.
async fn seed(pool: &Db, n: usize, now: DateTime<Utc>) -> Uuid {
    let workspaces: Vec<Uuid> = sqlx::query_scalar(
        "WITH u AS (INSERT INTO public.users DEFAULT VALUES RETURNING id)
         INSERT INTO public.workspaces (name, creator_id, timezone)
         SELECT 'Bench ' || g, u.id, 'Europe/Berlin' FROM u, generate_series(1, 21) g
         RETURNING id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let n = i64::try_from(n).unwrap();
    for (i, ws) in workspaces.iter().enumerate() {
        let count = if i == 0 { n } else { n / 20 };
        // Event k: the last 5% start within the next 90 days, the rest over the past 2 years.
        sqlx::query(
            "INSERT INTO public.workspace_calendar_events (ws_id, title, start_at, end_at, locked)
             SELECT $1, 'Event ' || k, s, s + interval '45 minutes', k % 3 = 0
             FROM generate_series(1, $2) k,
                  LATERAL (SELECT CASE WHEN k > $2 * 95 / 100
                      THEN $3 + (k - $2 * 95 / 100) * (interval '90 days' / greatest($2 / 20, 1))
                      ELSE $3 - interval '730 days' + k * (interval '730 days' / $2)
                  END AS s) t",
        )
        .bind(ws)
        .bind(count)
        .bind(now)
        .execute(pool)
        .await
        .unwrap();
    }
    let target = workspaces[0];
    sqlx::query(
        "WITH h AS (INSERT INTO public.workspace_habits (ws_id, name) VALUES ($1, 'Bench habit') RETURNING id)
         INSERT INTO public.habit_calendar_events (habit_id, event_id, occurrence_date)
         SELECT h.id, e.id, e.start_at::date FROM h, public.workspace_calendar_events e
         WHERE e.ws_id = $1 AND NOT e.locked AND e.start_at >= $2",
    )
    .bind(target)
    .bind(now)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("VACUUM ANALYZE").execute(pool).await.unwrap();
    target
}

async fn time_all(
    pool: &Db,
    reads: &[(&str, &str, bool)],
    ws: Uuid,
    now: DateTime<Utc>,
    range_end: DateTime<Utc>,
) -> Vec<f64> {
    let mut out = Vec::new();
    for (_, sql, with_end) in reads {
        let mut samples = Vec::new();
        for _ in 0..ROUNDS {
            samples.push(explain(pool, sql, *with_end, ws, now, range_end).await);
        }
        samples.sort_by(f64::total_cmp);
        out.push(samples[samples.len() / 2]);
    }
    out
}

/// The execution time `EXPLAIN ANALYZE` reports for `sql`, run in a transaction rolled back
/// (the reads lock rows).
async fn explain(
    pool: &Db,
    sql: &str,
    with_end: bool,
    ws: Uuid,
    now: DateTime<Utc>,
    range_end: DateTime<Utc>,
) -> f64 {
    let mut tx = pool.begin().await.unwrap();
    let statement = format!("EXPLAIN (ANALYZE, FORMAT JSON) {sql}");
    let query = sqlx::query_scalar::<_, serde_json::Value>(&statement)
        .bind(ws)
        .bind(now);
    let query = if with_end {
        query.bind(range_end)
    } else {
        query
    };
    let plan = query.fetch_one(&mut tx).await.unwrap();
    tx.rollback().await.unwrap();
    plan[0]["Execution Time"].as_f64().unwrap()
}
