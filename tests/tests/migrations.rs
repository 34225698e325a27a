//! The migrations: idempotent, inert on Tuturuuu's own database, and a mirror whose catalog
//! matches the facts of Tuturuuu's real schema (`docs/real-schema.json`).

// Test helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use integration_tests::count;
use jobs_cli::real_schema::{Facts, catalog_lines, difference, not_mirrored};
use sqlx::PgPool;

const MIRROR: &str = include_str!("../../migrations/20261126000001_tuturuuu_schema.sql");
const JOBS: &str = include_str!("../../migrations/20261126000002_jobs_schema.sql");

async fn exists(pool: &PgPool, table: &str) -> bool {
    sqlx::query_scalar::<_, Option<String>>("SELECT to_regclass($1)::text")
        .bind(table)
        .fetch_one(pool)
        .await
        .unwrap()
        .is_some()
}

#[sqlx::test(migrations = false)]
async fn every_migration_can_run_twice(pool: PgPool) {
    for _ in 0..2 {
        sqlx::raw_sql(MIRROR).execute(&pool).await.unwrap();
        sqlx::raw_sql(JOBS).execute(&pool).await.unwrap();
    }
    for table in [
        "public.workspace_calendar_events",
        "public.calendar_sync_dashboard",
        "public.habit_skipped_occurrences",
        "private.workspace_scheduling_metadata",
        "jobs.runs",
        "jobs.leases",
    ] {
        assert!(exists(&pool, table).await, "{table} missing");
    }
    let colors = count(&pool, "SELECT count(*) FROM public.calendar_event_colors").await;
    assert_eq!(colors, 10, "seed rows are not duplicated");
}

#[sqlx::test(migrations = false)]
async fn on_tuturuuus_database_only_the_jobs_schema_is_added(pool: PgPool) {
    sqlx::query("CREATE TABLE public.workspaces (id uuid PRIMARY KEY)")
        .execute(&pool)
        .await
        .unwrap();
    shared::MIGRATOR.run(&pool).await.unwrap();
    assert!(!exists(&pool, "public.workspace_calendar_events").await);
    assert!(exists(&pool, "jobs.runs").await);
}

#[sqlx::test(migrations = false)]
async fn the_schema_enforces_tuturuuus_constraints(pool: PgPool) {
    shared::MIGRATOR.run(&pool).await.unwrap();
    let ws = integration_tests::workspace(&pool, None).await;
    let insert = |title: String, external: &'static str| {
        sqlx::query(
            "INSERT INTO public.workspace_calendar_events
                 (ws_id, title, start_at, end_at, provider, external_calendar_id, external_event_id)
             VALUES ($1, $2, now(), now() + interval '1 hour', 'google', 'primary', $3)",
        )
        .bind(ws)
        .bind(title)
        .bind(external)
    };
    insert("ok".into(), "e1").execute(&pool).await.unwrap();
    let duplicate = insert("again".into(), "e1")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(
        duplicate
            .to_string()
            .contains("workspace_calendar_events_provider_external_key")
    );
    // Production's limit trigger, not a check constraint, refuses it first: SQLSTATE 22001.
    let long = insert("x".repeat(256), "e2")
        .execute(&pool)
        .await
        .unwrap_err();
    assert_eq!(
        long.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("22001")
    );
    assert!(
        long.to_string().contains(
            "TEXT_FIELD_LENGTH_EXCEEDED: workspace_calendar_events.title exceeds 255 characters"
        ),
        "{long}"
    );
    insert("x".repeat(255), "e3").execute(&pool).await.unwrap();
    let wide = insert("é".repeat(255), "e4").execute(&pool).await;
    assert!(
        wide.is_ok(),
        "255 two-byte characters are 510 bytes: within 1020"
    );
    let status = sqlx::query(
        "INSERT INTO jobs.runs (task, message_id, status, finished_at) VALUES ('t', 'm', 'success', now())",
    )
    .execute(&pool)
    .await
    .unwrap_err();
    assert!(status.to_string().contains("runs_status_check"));
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn the_mirror_matches_the_facts_of_the_real_schema(pool: PgPool) {
    let facts = Facts::embedded().unwrap();
    let expected = facts.lines();
    let actual = catalog_lines(&pool, &facts).await.unwrap();
    let (missing, extra) = difference(&expected, &actual);
    let missing: Vec<&String> = missing
        .iter()
        .filter(|l| not_mirrored(l).is_none())
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the mirror differs from docs/real-schema.json\n\
         production has, the mirror lacks ({}):\n  {}\n\
         the mirror has, production lacks ({}):\n  {}",
        missing.len(),
        missing
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  "),
        extra.len(),
        extra.join("\n  ")
    );
    // The exclusions name facts that exist: a stale one is a test that cannot fail.
    for (pattern, _) in jobs_cli::real_schema::NOT_MIRRORED {
        assert!(
            expected.iter().any(|l| l.contains(pattern)),
            "{pattern} is excused but no fact mentions it"
        );
    }
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn the_limit_trigger_checks_every_proposed_and_copied_row(pool: PgPool) {
    let ws = integration_tests::workspace(&pool, None).await;
    let upsert = |title: String| {
        sqlx::query(
            "INSERT INTO public.workspace_calendar_events
                 (ws_id, title, start_at, end_at, provider, external_calendar_id, external_event_id)
             VALUES ($1, $2, now(), now() + interval '1 hour', 'google', 'c', 'e')
             ON CONFLICT (ws_id, provider, external_calendar_id, external_event_id)
             DO UPDATE SET title = excluded.title WHERE false",
        )
        .bind(ws)
        .bind(title)
    };
    upsert("short".into()).execute(&pool).await.unwrap();
    // The conflicting row would change nothing, yet the proposed row is checked.
    let err = upsert("x".repeat(300)).execute(&pool).await.unwrap_err();
    assert!(
        err.to_string().contains("TEXT_FIELD_LENGTH_EXCEEDED"),
        "{err}"
    );
    // Bytes: 300 four-byte characters would be 1,200 bytes but are caught by characters
    // first; 255 of them are 1,020 bytes, exactly the limit.
    let mut conn = pool.acquire().await.unwrap();
    let mut copy = conn
        .copy_in_raw(
            "COPY public.workspace_calendar_events
                 (ws_id, title, start_at, end_at, provider, external_calendar_id, external_event_id)
             FROM STDIN (FORMAT csv)",
        )
        .await
        .unwrap();
    let row = format!(
        "{ws},\"{}\",2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,google,c,copied\n",
        "ab".repeat(600)
    );
    copy.send(row.as_bytes()).await.unwrap();
    let err = copy.finish().await.unwrap_err();
    assert!(
        err.to_string().contains("TEXT_FIELD_LENGTH_EXCEEDED"),
        "{err}"
    );
    // json columns: a byte limit on their text form.
    let err = sqlx::query(
        "UPDATE public.workspace_calendar_events SET scheduling_metadata = $2 WHERE ws_id = $1",
    )
    .bind(ws)
    .bind(serde_json::json!({ "x": "y".repeat(17_000) }))
    .execute(&pool)
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains(
            "PAYLOAD_FIELD_BYTES_EXCEEDED: workspace_calendar_events.scheduling_metadata exceeds 16384 bytes"
        ),
        "{err}"
    );
}
