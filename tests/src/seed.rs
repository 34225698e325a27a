//! Rows the suites start from: workspaces, events, calendar tokens, habits, encryption keys.

// Test support: a failed set-up step should stop the test with its message.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use chrono::{DateTime, Utc};
use shared::db::Db;
use uuid::Uuid;

/// Gives `ws_id` a fresh workspace key, stored wrapped with `master` as the web app stores it,
/// and returns the key.
pub async fn encrypt_workspace(
    pool: &Db,
    ws_id: Uuid,
    master: &shared::encryption::MasterKey,
) -> shared::encryption::WorkspaceKey {
    let key = shared::encryption::WorkspaceKey::generate();
    sqlx::query(
        "INSERT INTO public.workspace_encryption_keys (ws_id, encrypted_key) VALUES ($1, $2)",
    )
    .bind(ws_id)
    .bind(master.wrap(&key).expect("wrapping the key"))
    .execute(pool)
    .await
    .expect("storing the workspace key");
    key
}

/// Inserts a workspace (and its creator) with `timezone`, and returns its id.
pub async fn workspace(pool: &Db, timezone: Option<&str>) -> Uuid {
    let user: Uuid = sqlx::query_scalar("INSERT INTO public.users DEFAULT VALUES RETURNING id")
        .fetch_one(pool)
        .await
        .expect("inserting a user");
    sqlx::query_scalar(
        "INSERT INTO public.workspaces (name, creator_id, timezone) VALUES ('Test', $1, $2) RETURNING id",
    )
    .bind(user)
    .bind(timezone)
    .fetch_one(pool)
    .await
    .expect("inserting a workspace")
}

/// Inserts an event and returns its id.
pub async fn event(
    pool: &Db,
    ws_id: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    locked: bool,
) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO public.workspace_calendar_events (ws_id, title, start_at, end_at, locked)
         VALUES ($1, 'Event', $2, $3, $4) RETURNING id",
    )
    .bind(ws_id)
    .bind(start)
    .bind(end)
    .bind(locked)
    .fetch_one(pool)
    .await
    .expect("inserting an event")
}

/// Adds a calendar token to `ws_id` (its creator's) and returns its id.
pub async fn calendar_token(pool: &Db, ws_id: Uuid, provider: &str, active: bool) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO public.calendar_auth_tokens
             (user_id, ws_id, access_token, refresh_token, provider, is_active, account_email)
         SELECT creator_id, id, 'access-secret', 'refresh-secret', $2, $3, gen_random_uuid()::text
         FROM public.workspaces WHERE id = $1
         RETURNING id",
    )
    .bind(ws_id)
    .bind(provider)
    .bind(active)
    .fetch_one(pool)
    .await
    .expect("inserting a calendar token")
}

/// Adds a habit to `ws_id`.
pub async fn habit(pool: &Db, ws_id: Uuid, active: bool, auto_schedule: bool, deleted: bool) {
    sqlx::query(
        "INSERT INTO public.workspace_habits (ws_id, name, is_active, auto_schedule, deleted_at)
         VALUES ($1, 'Read', $2, $3, CASE WHEN $4 THEN now() END)",
    )
    .bind(ws_id)
    .bind(active)
    .bind(auto_schedule)
    .bind(deleted)
    .execute(pool)
    .await
    .expect("inserting a habit");
}

/// Marks `ws_id` personal.
pub async fn make_personal(pool: &Db, ws_id: Uuid) {
    sqlx::query("UPDATE public.workspaces SET personal = true WHERE id = $1")
        .bind(ws_id)
        .execute(pool)
        .await
        .expect("updating a workspace");
}
