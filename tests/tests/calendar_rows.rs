//! Writing pages of synced events into a real Postgres: exact counts, idempotent replays,
//! deletes, and encrypted rows never downgraded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};
use google_sync::calendar_rows::{PageCounts, apply_page, calendar_is_empty};
use google_sync::event_mapping::EventRow;
use integration_tests::{test_now, workspace};
use shared::db::Db;
use sqlx::PgPool;
use uuid::Uuid;

fn row(ws_id: Uuid, id: &str, title: &str, start: DateTime<Utc>) -> EventRow {
    EventRow {
        ws_id,
        external_event_id: id.to_owned(),
        external_calendar_id: "primary".to_owned(),
        source_calendar_id: None,
        title: title.to_owned(),
        description: String::new(),
        location: "Room \"B\", 2nd floor".to_owned(),
        start_at: start,
        end_at: start + Duration::minutes(30),
        color: "BLUE",
        external_updated_at: None,
        is_encrypted: false,
        free: false,
    }
}

async fn page(
    pool: &Db,
    ws: Uuid,
    rows: &[EventRow],
    deletes: &[&str],
    sync_deletes: bool,
) -> PageCounts {
    let mut tx = pool.begin().await.unwrap();
    let deletes: Vec<String> = deletes.iter().map(|d| (*d).to_owned()).collect();
    let counts = apply_page(&mut tx, ws, "primary", rows, &deletes, sync_deletes, false)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    counts
}

async fn stored(pool: &Db, ws: Uuid) -> Vec<(String, String, String, bool, bool)> {
    sqlx::query_as(
        "SELECT external_event_id, title, coalesce(location, ''), locked, is_encrypted
         FROM public.workspace_calendar_events WHERE ws_id = $1 ORDER BY external_event_id",
    )
    .bind(ws)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn counts_are_exact_and_replays_change_nothing(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let ws = workspace(&pool, None).await;
    let other = workspace(&pool, None).await;
    let start = test_now();
    let rows: Vec<EventRow> = (0..5)
        .map(|i| row(ws, &format!("e{i}"), &format!("Event {i}"), start))
        .collect();
    page(
        &pool,
        other,
        &[row(other, "e0", "Theirs", start)],
        &[],
        true,
    )
    .await;

    let first = page(&pool, ws, &rows, &[], true).await;
    assert_eq!(
        first,
        PageCounts {
            inserted: 5,
            updated: 0,
            unchanged: 0,
            deleted: 0,
            ..PageCounts::default()
        }
    );
    let replay = page(&pool, ws, &rows, &[], true).await;
    assert_eq!(
        replay,
        PageCounts {
            inserted: 0,
            updated: 0,
            unchanged: 5,
            deleted: 0,
            ..PageCounts::default()
        }
    );

    let mut changed = rows[..2].to_vec();
    changed[0].title = "Renamed".to_owned();
    changed.push(row(ws, "e9", "New", start));
    changed.push(row(ws, "e9", "New, repeated in the page", start));
    let next = page(&pool, ws, &changed, &["e3", "e4", "unknown"], true).await;
    assert_eq!(
        next,
        PageCounts {
            inserted: 1,
            updated: 1,
            unchanged: 1,
            deleted: 2,
            ..PageCounts::default()
        }
    );

    let rows = stored(&pool, ws).await;
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(ids, ["e0", "e1", "e2", "e9"]);
    assert_eq!(rows[0].1, "Renamed");
    assert_eq!(rows[3].1, "New, repeated in the page");
    assert_eq!(rows[0].2, "Room \"B\", 2nd floor", "CSV quoting survives");
    assert!(rows.iter().all(|r| r.3), "synced events are locked");
    assert_eq!(
        stored(&pool, other).await.len(),
        1,
        "another workspace is untouched"
    );
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn deletes_wait_for_the_connection_to_allow_them(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let ws = workspace(&pool, None).await;
    page(&pool, ws, &[row(ws, "keep", "Keep", test_now())], &[], true).await;
    let counts = page(&pool, ws, &[], &["keep"], false).await;
    assert_eq!(counts.deleted, 0);
    assert_eq!(stored(&pool, ws).await.len(), 1);
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn encrypted_rows_are_never_downgraded(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let ws = workspace(&pool, None).await;
    let mut secret = row(ws, "s", "c2VhbGVk", test_now());
    secret.is_encrypted = true;
    page(&pool, ws, &[secret], &[], true).await;

    let plain = row(ws, "s", "Plain title", test_now());
    let counts = page(&pool, ws, &[plain], &[], true).await;
    assert_eq!(
        (counts.updated, counts.unchanged),
        (0, 1),
        "plaintext never replaces ciphertext, so nothing changes"
    );

    let rows = stored(&pool, ws).await;
    assert_eq!(rows[0].1, "c2VhbGVk", "ciphertext kept");
    assert!(rows[0].4, "is_encrypted is sticky");
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_failed_page_leaves_nothing_behind(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let ws = workspace(&pool, None).await;
    let mut bad = row(ws, "bad", "x", test_now());
    bad.color = "NOT-A-COLOUR"; // violates the colour foreign key
    let good = row(ws, "good", "fine", test_now());
    let mut tx = pool.begin().await.unwrap();
    let result = apply_page(&mut tx, ws, "primary", &[good, bad], &[], true, false).await;
    assert!(result.is_err());
    drop(tx);
    assert!(stored(&pool, ws).await.is_empty());
}

/// Each row's `xmin` (the transaction that last wrote it) and `last_synced_at`.
async fn versions(pool: &Db, ws: Uuid) -> Vec<(String, String, DateTime<Utc>)> {
    sqlx::query_as(
        "SELECT external_event_id, xmin::text, last_synced_at
         FROM public.workspace_calendar_events WHERE ws_id = $1 ORDER BY external_event_id",
    )
    .bind(ws)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn unchanged_rows_are_not_rewritten(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let ws = workspace(&pool, None).await;
    let rows: Vec<EventRow> = (0..3)
        .map(|i| row(ws, &format!("e{i}"), &format!("Event {i}"), test_now()))
        .collect();
    page(&pool, ws, &rows, &[], true).await;
    let before = versions(&pool, ws).await;

    // Someone unlocked e2 in the web app: the sync puts the lock back, so that row is written.
    sqlx::query(
        "UPDATE public.workspace_calendar_events SET locked = false WHERE external_event_id = 'e2'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let after_edit = versions(&pool, ws).await;
    let mut changed = rows.clone();
    changed[1].start_at += Duration::minutes(15);
    let counts = page(&pool, ws, &changed, &[], true).await;
    assert_eq!((counts.updated, counts.unchanged), (2, 1));

    let after = versions(&pool, ws).await;
    assert_eq!(after[0], before[0], "an unchanged row keeps its version");
    assert_ne!(after[1].1, before[1].1, "a moved event is rewritten");
    assert_ne!(
        after[2].1, after_edit[2].1,
        "an unlocked row is locked again"
    );
    assert!(stored(&pool, ws).await.iter().all(|r| r.3));
}

/// Applies one page on a fresh connection; returns the transaction's `now()` and whether the
/// page went through the temporary table (the merge) rather than straight into the table.
async fn page_on_own_connection(
    pool: &Db,
    ws: Uuid,
    rows: &[EventRow],
    into_empty: bool,
) -> (DateTime<Utc>, bool) {
    let mut tx = pool.begin().await.unwrap();
    apply_page(&mut tx, ws, "primary", rows, &[], true, into_empty)
        .await
        .unwrap();
    let (now, merged): (DateTime<Utc>, bool) =
        sqlx::query_as("SELECT now(), to_regclass('pg_temp.sync_page') IS NOT NULL")
            .fetch_one(&mut tx)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    (now, merged)
}

/// Every column a sync writes, but the row id.
#[derive(Debug, PartialEq, sqlx::FromRow)]
struct Written {
    provider: String,
    google_calendar_id: Option<String>,
    google_event_id: Option<String>,
    source_calendar_id: Option<Uuid>,
    title: String,
    description: String,
    location: Option<String>,
    start_at: DateTime<Utc>,
    end_at: DateTime<Utc>,
    color: Option<String>,
    locked: bool,
    is_encrypted: bool,
    external_updated_at: Option<DateTime<Utc>>,
    last_synced_at: Option<DateTime<Utc>>,
    sync_status: String,
    sync_error: Option<String>,
    scheduling_metadata: Option<serde_json::Value>,
}

async fn written(pool: &Db, ws: Uuid, id: &str) -> Written {
    sqlx::query_as(
        "SELECT provider::text AS provider, google_calendar_id, google_event_id, source_calendar_id, title,
                description, location, start_at, end_at, color, locked, is_encrypted,
                external_updated_at, last_synced_at, sync_status, sync_error, scheduling_metadata
         FROM public.workspace_calendar_events WHERE ws_id = $1 AND external_event_id = $2",
    )
    .bind(ws)
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_page_of_new_events_is_copied_as_the_merge_would_write_it(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let (first, second) = (workspace(&pool, None).await, workspace(&pool, None).await);
    // Shown as free in Google: both paths mark it so (design §6).
    let event = |ws| EventRow {
        external_updated_at: Some(test_now() - Duration::hours(1)),
        description: "Agenda, \"draft\"\nline two".to_owned(),
        free: true,
        ..row(ws, "e1", "Planning", test_now())
    };

    // Nothing stored for `first`: its first sync copies the page straight in.
    assert!(calendar_is_empty(&pool, first, "primary").await.unwrap());
    let (copied_at, merged) = page_on_own_connection(&pool, first, &[event(first)], true).await;
    assert!(!merged, "a first sync's page skips the merge");
    // `second` has a stored event: its pages are merged.
    page(
        &pool,
        second,
        &[row(second, "e0", "Stored", test_now())],
        &[],
        true,
    )
    .await;
    assert!(!calendar_is_empty(&pool, second, "primary").await.unwrap());
    let (merged_at, merged) = page_on_own_connection(
        &pool,
        second,
        &[row(second, "e0", "Stored", test_now()), event(second)],
        false,
    )
    .await;
    assert!(merged, "a page of a calendar with stored events is merged");

    let (mut direct, mut merge) = (
        written(&pool, first, "e1").await,
        written(&pool, second, "e1").await,
    );
    assert_eq!(
        direct.last_synced_at,
        Some(copied_at),
        "last_synced_at is the transaction's time"
    );
    assert_eq!(merge.last_synced_at, Some(merged_at));
    (direct.last_synced_at, merge.last_synced_at) = (None, None);
    assert_eq!(direct, merge, "both paths write the same row");
    assert_eq!(
        direct.scheduling_metadata,
        Some(serde_json::json!({ "busy": false }))
    );
    assert_eq!(
        (
            direct.provider.as_str(),
            direct.google_event_id.as_deref(),
            direct.locked,
            direct.sync_status.as_str()
        ),
        ("google", Some("e1"), true, "synced")
    );

    // Copying an event that is stored after all fails on the unique key and writes nothing;
    // the retry merges.
    let mut tx = pool.begin().await.unwrap();
    let copied = apply_page(&mut tx, first, "primary", &[event(first)], &[], true, true).await;
    assert!(copied.is_err(), "a stored key is never copied twice");
    drop(tx);
    assert_eq!(stored(&pool, first).await.len(), 1);

    // The next page of the same calendar, with one event of the first page again: merged,
    // and counted as what it is.
    let counts = page(
        &pool,
        first,
        &[event(first), row(first, "e2", "New", test_now())],
        &[],
        true,
    )
    .await;
    assert_eq!((counts.inserted, counts.unchanged), (1, 1));
}
