//! The migrations: idempotent, inert on Tuturuuu's own database, and a mirror whose catalog
//! matches the facts of Tuturuuu's real schema (`docs/real-schema.json`).

// Test helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use integration_tests::count;
use jobs_cli::real_schema::{Facts, catalog_lines, difference, not_mirrored};
use shared::db::{ConnectionMode, Db};
use sqlx::PgPool;

const MIRROR: &str = include_str!("../../migrations/20261126000001_tuturuuu_schema.sql");
const JOBS: &str = include_str!("../../migrations/20261126000002_jobs_schema.sql");

async fn exists(pool: &Db, table: &str) -> bool {
    sqlx::query_scalar::<_, Option<String>>("SELECT to_regclass($1)::text")
        .bind(table)
        .fetch_one(pool)
        .await
        .unwrap()
        .is_some()
}

#[sqlx::test(migrations = false)]
async fn every_migration_can_run_twice(pool: PgPool) {
    // Migrations need a whole session: this suite stays on the direct connection.
    let pool = Db::from_pool(pool, ConnectionMode::Direct);
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
    // Migrations need a whole session: this suite stays on the direct connection.
    let pool = Db::from_pool(pool, ConnectionMode::Direct);
    sqlx::query("CREATE TABLE public.workspaces (id uuid PRIMARY KEY)")
        .execute(&pool)
        .await
        .unwrap();
    shared::migrate::run(&pool).await.unwrap();
    assert!(!exists(&pool, "public.workspace_calendar_events").await);
    assert!(exists(&pool, "jobs.runs").await);
}

#[sqlx::test(migrations = false)]
async fn the_schema_enforces_tuturuuus_constraints(pool: PgPool) {
    // Migrations need a whole session: this suite stays on the direct connection.
    let pool = Db::from_pool(pool, ConnectionMode::Direct);
    shared::migrate::run(&pool).await.unwrap();
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
    // Migrations need a whole session: this suite stays on the direct connection.
    let pool = Db::from_pool(pool, ConnectionMode::Direct);
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
    // Migrations need a whole session: this suite stays on the direct connection.
    let pool = Db::from_pool(pool, ConnectionMode::Direct);
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
    let mut conn = pool.begin().await.unwrap();
    let mut copy = conn
        .copy_connection()
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

#[sqlx::test(migrations = false)]
async fn the_record_lives_in_the_jobs_schema_and_adopts_sqlx_s(pool: PgPool) {
    let pool = Db::from_pool(pool, ConnectionMode::Direct);
    // A database migrated by sqlx's runner (as earlier versions did): its record moves.
    shared::MIGRATOR.run(pool.pool()).await.unwrap();
    assert!(exists(&pool, "public._sqlx_migrations").await);
    let applied = shared::migrate::run(&pool).await.unwrap();
    assert!(applied.is_empty(), "nothing is applied twice: {applied:?}");
    assert!(!exists(&pool, "public._sqlx_migrations").await);
    let recorded = count(&pool, "SELECT count(*) FROM jobs.schema_migrations").await;
    assert_eq!(recorded, shared::MIGRATOR.iter().count() as i64);
    assert!(shared::migrate::run(&pool).await.unwrap().is_empty());

    // A recorded migration whose text changed is refused, by version.
    sqlx::query(
        "UPDATE jobs.schema_migrations SET checksum = '\\x00' WHERE version = 20261126000002",
    )
    .execute(&pool)
    .await
    .unwrap();
    let err = shared::migrate::run(&pool).await.unwrap_err().to_string();
    assert!(
        err.contains("20261126000002 was previously applied but has been modified"),
        "{err}"
    );

    // Migrating needs a whole session: through a transaction-mode pooler it is refused.
    let pooled = Db::from_pool(pool.pool().clone(), ConnectionMode::Transaction);
    let err = shared::migrate::run(&pooled).await.unwrap_err().to_string();
    assert!(err.contains("direct or session-mode DATABASE_URL"), "{err}");
}

#[sqlx::test(migrations = false)]
async fn the_supabase_files_build_the_same_jobs_schema_and_record(pool: PgPool) {
    let pool = Db::from_pool(pool, ConnectionMode::Direct);
    // As on Tuturuuu's database: its own schema is there, then Supabase's CLI applies the files.
    sqlx::query("CREATE TABLE public.workspaces (id uuid PRIMARY KEY)")
        .execute(&pool)
        .await
        .unwrap();
    for file in shared::migrate::supabase_files() {
        let mut tx = pool.begin().await.unwrap();
        sqlx::raw_sql(&file.sql)
            .execute(&mut tx)
            .await
            .unwrap_or_else(|err| panic!("{}: {err}", file.name));
        tx.commit().await.unwrap();
    }
    assert!(exists(&pool, "jobs.runs").await);
    assert!(!exists(&pool, "public.workspace_calendar_events").await);
    // `jobs migrate` afterwards finds everything recorded, the mirror included.
    assert!(shared::migrate::run(&pool).await.unwrap().is_empty());
    assert_eq!(
        shared::migrate::applied_versions(&pool).await.unwrap(),
        shared::MIGRATOR
            .iter()
            .map(|m| m.version)
            .collect::<Vec<_>>()
    );
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn every_jobs_table_has_row_level_security_and_no_api_grants(pool: PgPool) {
    let pool = Db::from_pool(pool, ConnectionMode::Direct);
    // jobs.schema_migrations too, as `jobs migrate` creates it.
    sqlx::raw_sql(shared::migrate::BOOKKEEPING)
        .execute(&pool)
        .await
        .unwrap();
    let without: Vec<String> = sqlx::query_scalar(
        "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'jobs' AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        without.is_empty(),
        "without row-level security: {without:?}"
    );
    let roles: Vec<String> = sqlx::query_scalar(
        "SELECT rolname::text FROM pg_roles WHERE rolname IN ('anon', 'authenticated')",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        roles.len(),
        2,
        "scripts/stack.sh creates Supabase's API roles"
    );
    let granted: Vec<String> = sqlx::query_scalar(
        "SELECT grantee || ' ' || privilege_type || ' ' || table_name
         FROM information_schema.role_table_grants
         WHERE table_schema = 'jobs' AND grantee IN ('anon', 'authenticated')",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(granted.is_empty(), "granted to the API roles: {granted:?}");
}
