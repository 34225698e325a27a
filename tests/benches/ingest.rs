//! Ingest benchmark: a full sync of `INGEST_EVENTS` events (default 10,000) from the fake
//! Google Calendar into a fresh database, through the real worker code (`Syncer`, pages of
//! 2,500, each written with COPY into a temporary table + one merge, with its checkpoint or
//! sync token). Its database time is compared with a raw `COPY` of the same rows into the same
//! table, measured alternately in the same run.
//!
//! `scripts/bench.sh ingest` (or `cargo bench -p integration-tests --bench ingest` with the
//! local stack's environment).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use shared::db::Db;
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as Span, Utc};
use google_sync::event_mapping::{Change, EventRow, Origin, map_event};
use google_sync::sync::Syncer;
use google_sync::sync::connection::SyncKind;
use google_sync::sync::report::WorkspaceReport;
use integration_tests::fake_google::{FakeGoogle, timed_event};
use integration_tests::sync_support::{connect_google, offline_syncer};
use uuid::Uuid;

const ROUNDS: usize = 5;

#[tokio::main]
async fn main() {
    let n = integration_tests::bench_size("INGEST_EVENTS", 10_000, 300);
    let db = integration_tests::BenchDatabase::create("bench_ingest", 2).await;
    let pool = db.pool.clone();
    let ws: Uuid = sqlx::query_scalar(
        "WITH u AS (INSERT INTO public.users DEFAULT VALUES RETURNING id)
         INSERT INTO public.workspaces (name, creator_id) SELECT 'Bench', id FROM u RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let fake = FakeGoogle::start().await.unwrap();
    let grant = fake.add_account("bench");
    let now = integration_tests::test_now();
    let start = now - Span::days(80);
    let event = |i: usize, title: String| {
        let mut event = timed_event(
            &format!("event{i:06}_20261201T090000Z"),
            &title,
            start + Span::minutes(30 * i as i64),
            25,
        );
        event["description"] = "Agenda: status, risks, next steps. ".repeat(4).into();
        event["location"] = "Room 4.12".into();
        event
    };
    for i in 0..n {
        let title = format!("Meeting number {i} about the quarterly plan");
        fake.put_event("bench", "primary", event(i, title));
    }
    connect_google(&pool, ws, &grant, None, &["primary"]).await;
    let rows = rows_of(&fake, ws);
    let syncer = offline_syncer(&pool, &fake, None).await;
    // The same sync through the local stack's PgBouncer in transaction mode, as production
    // reaches Supabase (design §14), measured in the same rounds.
    let pooler_url = std::env::var("DATABASE_POOLER_URL")
        .expect("DATABASE_POOLER_URL (scripts/bench.sh starts the stack)");
    let pooled = integration_tests::via_pooler(db.direct.pool(), &pooler_url);
    let pooled_syncer = offline_syncer(&pooled, &fake, None).await;

    let (mut copy, mut new, mut existing, mut changed, mut wall) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut new_pooled, mut existing_pooled) = (Vec::new(), Vec::new());
    let edits = (n / 100).max(1);
    for round in 0..ROUNDS {
        clear(&db.direct).await;
        copy.push(raw_copy(&pool, &rows, now).await);
        clear(&db.direct).await;
        let started = Instant::now();
        let first = sync(&syncer, ws, now).await;
        wall.push(started.elapsed());
        assert_eq!((first.totals.inserted, first.totals.updated), (n as u64, 0));
        new.push(first.timings.database);
        let again = sync(&syncer, ws, now).await;
        assert_eq!(
            (
                again.totals.inserted,
                again.totals.updated,
                again.totals.unchanged
            ),
            (0, 0, n as u64)
        );
        existing.push(again.timings.database);
        // 1% of the events renamed in Google: only those rows are rewritten.
        for i in (0..n).step_by(n / edits).take(edits) {
            fake.put_event(
                "bench",
                "primary",
                event(i, format!("Renamed in round {round}")),
            );
        }
        let third = sync(&syncer, ws, now).await;
        assert_eq!(
            (third.totals.updated, third.totals.unchanged),
            (edits as u64, (n - edits) as u64)
        );
        changed.push(third.timings.database);

        clear(&db.direct).await;
        let first = sync(&pooled_syncer, ws, now).await;
        assert_eq!((first.totals.inserted, first.totals.updated), (n as u64, 0));
        new_pooled.push(first.timings.database);
        let again = sync(&pooled_syncer, ws, now).await;
        assert_eq!(again.totals.unchanged, n as u64);
        existing_pooled.push(again.timings.database);
    }
    let (new_pooled, existing_pooled) = (median(new_pooled), median(existing_pooled));
    let pages = n.div_ceil(2500);
    let (copy, new, existing, changed, wall) = (
        median(copy),
        median(new),
        median(existing),
        median(changed),
        median(wall),
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "ingest benchmark: full sync of {n} events from the fake Google server ({pages} pages), median of {ROUNDS} alternating rounds"
    );
    println!(
        "  raw COPY of the same rows            {:>8.1} ms  (1.00x)",
        ms(copy)
    );
    println!(
        "  sync database time, all rows new     {:>8.1} ms  ({:.2}x COPY)",
        ms(new),
        ms(new) / ms(copy)
    );
    println!(
        "  sync database time, all rows stored  {:>8.1} ms  ({:.2}x COPY)",
        ms(existing),
        ms(existing) / ms(copy)
    );
    println!(
        "  sync database time, 1% changed       {:>8.1} ms  ({:.2}x COPY)",
        ms(changed),
        ms(changed) / ms(copy)
    );
    println!(
        "  whole first sync (HTTP, JSON, mapping, database) {:>8.1} ms",
        ms(wall)
    );
    for (rows, time) in [
        ("new", new),
        ("already stored, unchanged", existing),
        ("already stored, 1% changed", changed),
    ] {
        println!(
            "| ingest: sync database time vs raw COPY, {n} events, rows {rows} | {:.1} ms vs {:.1} ms | {:.2}× |",
            ms(time),
            ms(copy),
            ms(time) / ms(copy)
        );
    }

    for (rows, pooled, direct) in [
        ("new", new_pooled, new),
        ("already stored, unchanged", existing_pooled, existing),
    ] {
        println!(
            "| ingest: sync database time through PgBouncer (transaction mode) vs direct, {n} events, rows {rows} | {:.1} ms vs {:.1} ms | {:.2}× |",
            ms(pooled),
            ms(direct),
            ms(pooled) / ms(direct)
        );
    }

    pooled.pool().close().await;
    db.drop().await;
}

async fn sync(syncer: &Syncer, ws: Uuid, now: DateTime<Utc>) -> WorkspaceReport {
    let report = syncer
        .sync_workspace(SyncKind::Full, ws, None, None, now)
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    report
}

/// The rows the sync writes, mapped from the fake calendar the same way.
fn rows_of(fake: &FakeGoogle, ws_id: Uuid) -> Vec<EventRow> {
    let origin = Origin {
        ws_id,
        calendar_id: "primary".to_owned(),
        source_calendar_id: None,
    };
    fake.events("bench", "primary")
        .iter()
        .map(|event| {
            let event = serde_json::from_value(event.clone()).unwrap();
            match map_event(&event, &origin, None).unwrap() {
                Change::Upsert(row) => *row,
                Change::Delete(_) => panic!("the bench has no cancelled events"),
            }
        })
        .collect()
}

async fn clear(pool: &Db) {
    sqlx::query("TRUNCATE public.workspace_calendar_events, public.calendar_sync_states CASCADE")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("VACUUM ANALYZE public.workspace_calendar_events")
        .execute(pool)
        .await
        .unwrap();
}

/// The same rows and columns as `apply_page` writes, straight into the table.
async fn raw_copy(pool: &Db, rows: &[EventRow], now: DateTime<Utc>) -> Duration {
    let mut data = String::new();
    for r in rows {
        data.push_str(&format!(
            "{}\tgoogle\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\tt\tf\t{}\t\\N\t{}\tsynced\n",
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
            now.to_rfc3339(),
        ));
    }
    let started = Instant::now();
    let mut tx = pool.begin().await.unwrap();
    let mut copy = tx
        .copy_connection()
        .copy_in_raw(
            "COPY public.workspace_calendar_events (ws_id, provider, external_calendar_id,
                 external_event_id, google_calendar_id, google_event_id, title, description,
                 location, start_at, end_at, color, locked, is_encrypted, external_updated_at,
                 scheduling_metadata, last_synced_at, sync_status) FROM STDIN",
        )
        .await
        .unwrap();
    copy.send(data.into_bytes()).await.unwrap();
    copy.finish().await.unwrap();
    tx.commit().await.unwrap();
    started.elapsed()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
