//! The migrations: idempotent, and inert on Tuturuuu's own database.

// Test helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use integration_tests::count;
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
    let ws: uuid::Uuid =
        sqlx::query_scalar("INSERT INTO public.workspaces DEFAULT VALUES RETURNING id")
            .fetch_one(&pool)
            .await
            .unwrap();
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
    let long = insert("x".repeat(256), "e2")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(
        long.to_string()
            .contains("calendar_events_title_length_check")
    );
    let status = sqlx::query(
        "INSERT INTO jobs.runs (task, message_id, status, finished_at) VALUES ('t', 'm', 'success', now())",
    )
    .execute(&pool)
    .await
    .unwrap_err();
    assert!(status.to_string().contains("runs_status_check"));
}
