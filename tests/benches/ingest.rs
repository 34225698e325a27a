//! Ingest benchmark: the database time of writing a page of synced events with
//! `shared::calendar_rows::apply_page` (COPY into a temporary table + one merge) against a raw
//! `COPY` of the same rows into `workspace_calendar_events`, measured alternately in one run.
//!
//! `scripts/bench.sh ingest` (or `cargo bench -p integration-tests --bench ingest` with the
//! local stack's environment). `INGEST_EVENTS` sets the row count (default 10,000).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::time::{Duration, Instant};

use chrono::{Duration as Span, Utc};
use shared::calendar_rows::apply_page;
use shared::event_mapping::EventRow;
use sqlx::{Connection, PgPool};
use uuid::Uuid;

const ROUNDS: usize = 5;

#[tokio::main]
async fn main() {
    let n = integration_tests::bench_size("INGEST_EVENTS", 10_000, 300);
    let db = integration_tests::BenchDatabase::create("bench_ingest", 1).await;
    let pool = db.pool.clone();
    let ws: Uuid = sqlx::query_scalar(
        "WITH u AS (INSERT INTO public.users DEFAULT VALUES RETURNING id)
         INSERT INTO public.workspaces (name, creator_id) SELECT 'Bench', id FROM u RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let rows = events(ws, n);

    let (mut copy, mut insert, mut update) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        clear(&pool).await;
        copy.push(raw_copy(&pool, &rows).await);
        clear(&pool).await;
        insert.push(upsert(&pool, ws, &rows, n as u64, 0).await);
        update.push(upsert(&pool, ws, &rows, 0, n as u64).await);
    }
    let (copy, insert, update) = (median(copy), median(insert), median(update));
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("ingest benchmark: {n} events, median of {ROUNDS} alternating rounds");
    println!(
        "  raw COPY into the table          {:>8.1} ms  (1.00x)",
        ms(copy)
    );
    println!(
        "  apply_page, all new rows         {:>8.1} ms  ({:.2}x COPY)",
        ms(insert),
        ms(insert) / ms(copy)
    );
    println!(
        "  apply_page, all rows existing    {:>8.1} ms  ({:.2}x COPY)",
        ms(update),
        ms(update) / ms(copy)
    );

    db.drop().await;
}

fn events(ws_id: Uuid, n: usize) -> Vec<EventRow> {
    let start = Utc::now();
    (0..n)
        .map(|i| EventRow {
            ws_id,
            external_event_id: format!("event{i:06}_20261201T090000Z"),
            external_calendar_id: "primary".to_owned(),
            source_calendar_id: None,
            title: format!("Meeting number {i} about the quarterly plan"),
            description: "Agenda: status, risks, next steps. ".repeat(4),
            location: "Room 4.12".to_owned(),
            start_at: start + Span::minutes(30 * i as i64),
            end_at: start + Span::minutes(30 * i as i64 + 25),
            color: "BLUE",
            external_updated_at: Some(start),
            is_encrypted: false,
        })
        .collect()
}

async fn clear(pool: &PgPool) {
    sqlx::query("TRUNCATE public.workspace_calendar_events CASCADE")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("VACUUM ANALYZE public.workspace_calendar_events")
        .execute(pool)
        .await
        .unwrap();
}

/// The same rows and columns as `apply_page` writes, straight into the table.
async fn raw_copy(pool: &PgPool, rows: &[EventRow]) -> Duration {
    let mut data = String::new();
    for r in rows {
        data.push_str(&format!(
            "{}\tgoogle\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\tt\tf\t{}\t{}\tsynced\n",
            r.ws_id,
            r.external_calendar_id,
            r.external_event_id,
            r.external_calendar_id,
            r.external_event_id,
            r.title,
            r.description,
            r.location,
            r.start_at.to_rfc3339(),
            r.end_at.to_rfc3339(),
            r.color,
            r.external_updated_at
                .map_or("\\N".to_owned(), |t| t.to_rfc3339()),
            Utc::now().to_rfc3339(),
        ));
    }
    let mut conn = pool.acquire().await.unwrap();
    let started = Instant::now();
    let mut tx = conn.begin().await.unwrap();
    let mut copy = tx
        .copy_in_raw(
            "COPY public.workspace_calendar_events (ws_id, provider, external_calendar_id,
                 external_event_id, google_calendar_id, google_event_id, title, description,
                 location, start_at, end_at, color, locked, is_encrypted, external_updated_at,
                 last_synced_at, sync_status) FROM STDIN",
        )
        .await
        .unwrap();
    copy.send(data.into_bytes()).await.unwrap();
    copy.finish().await.unwrap();
    tx.commit().await.unwrap();
    started.elapsed()
}

async fn upsert(
    pool: &PgPool,
    ws: Uuid,
    rows: &[EventRow],
    inserted: u64,
    updated: u64,
) -> Duration {
    let mut conn = pool.acquire().await.unwrap();
    let started = Instant::now();
    let mut tx = conn.begin().await.unwrap();
    let counts = apply_page(&mut tx, ws, "primary", rows, &[], true)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!((counts.inserted, counts.updated), (inserted, updated));
    elapsed
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
