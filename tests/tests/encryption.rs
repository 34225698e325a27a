//! Workspace keys read from Postgres: when encryption applies, and when it must stop the work.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use integration_tests::workspace;
use shared::config::Secret;
use shared::encryption::{MasterKey, WorkspaceKey, workspace_key};
use shared::error::ErrorKind;
use sqlx::PgPool;

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_stored_key_unwraps_only_with_its_master_key(pool: PgPool) {
    let master = MasterKey::derive(&Secret::new("master one")).unwrap();
    let key = WorkspaceKey::generate();
    let encrypted = workspace(&pool, None).await;
    sqlx::query(
        "INSERT INTO public.workspace_encryption_keys (ws_id, encrypted_key) VALUES ($1, $2)",
    )
    .bind(encrypted)
    .bind(master.wrap(&key).unwrap())
    .execute(&pool)
    .await
    .unwrap();
    let plain = workspace(&pool, None).await;

    let found = workspace_key(&pool, Some(&master), encrypted)
        .await
        .unwrap()
        .expect("a key for the encrypted workspace");
    let sealed = key.encrypt("Board meeting").unwrap();
    assert_eq!(found.decrypt(&sealed).unwrap(), "Board meeting");

    assert!(
        workspace_key(&pool, Some(&master), plain)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        workspace_key(&pool, None, encrypted)
            .await
            .unwrap()
            .is_none()
    );

    let other = MasterKey::derive(&Secret::new("master two")).unwrap();
    let err = workspace_key(&pool, Some(&other), encrypted)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
    assert!(err.to_string().contains("ENCRYPTION_MASTER_KEY"), "{err}");
}
