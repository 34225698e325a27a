//! Workspace keys read from Postgres: when encryption applies, and when it must stop the work.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use integration_tests::{encrypt_workspace, workspace};
use shared::config::Secret;
use shared::encryption::{MasterKey, workspace_key};
use shared::error::ErrorKind;
use sqlx::PgPool;

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_stored_key_unwraps_only_with_its_master_key(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let master = MasterKey::derive(&Secret::new("master one")).unwrap();
    let encrypted = workspace(&pool, None).await;
    let key = encrypt_workspace(&pool, encrypted, &master).await;
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
