//! Secrets read at init (design §14.4): a function binary given only the name of a Secrets
//! Manager secret (moto's, in the local stack) reads the database URL from it and does its work;
//! a secret it cannot read fails its init naming the variable and the secret, never a value.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use integration_tests::{build_function_binaries, calendar_token, fifo_queues, sqs, workspace};
use local_stack::runtime_api::LocalFunction;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

async fn secrets() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&shared::aws::sdk_config().await)
}

/// The orchestrator's settings without `DATABASE_URL`, every task queue being `queue`.
fn env_without_database(queue: &str, secret_id: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = local_stack::local::stack_env()
        .into_iter()
        .filter(|(k, _)| k != "DATABASE_URL")
        .collect();
    for var in [
        "CALENDAR_SYNC_QUEUE_URL",
        "CALENDAR_FULL_SYNC_QUEUE_URL",
        "SCHEDULE_TASK_QUEUE_URL",
        "UNIFIED_SCHEDULE_QUEUE_URL",
    ] {
        env.push((var.to_owned(), queue.to_owned()));
    }
    env.push(("DATABASE_URL_SECRET_ID".to_owned(), secret_id.to_owned()));
    env
}

/// Starts the orchestrator binary with `env`; returns it and its log.
async fn start_orchestrator(env: &[(String, String)]) -> (LocalFunction, std::path::PathBuf) {
    let binary = build_function_binaries().join("orchestrator");
    let log = integration_tests::workspace_root().join(format!(
        ".local/logs/test/secrets-{}.log",
        Uuid::new_v4().simple()
    ));
    let function = LocalFunction::start(&binary, "orchestrator", env, &log)
        .await
        .unwrap();
    (function, log)
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_function_reads_its_database_url_from_secrets_manager_at_init(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let ws = workspace(&pool, None).await;
    calendar_token(&pool, ws, "google", true).await;
    let database = pool
        .pool()
        .connect_options()
        .get_database()
        .unwrap()
        .to_owned();
    let direct = std::env::var("DATABASE_URL").unwrap();
    let url = format!("{}/{database}", direct.rsplit_once('/').unwrap().0);
    let secret_id = format!("test/database-url-{}", Uuid::new_v4().simple());
    secrets()
        .await
        .create_secret()
        .name(&secret_id)
        .secret_string(&url)
        .send()
        .await
        .unwrap();

    let sqs = sqs().await;
    let queues = fifo_queues(&sqs, 30).await;
    let (mut function, log) =
        start_orchestrator(&env_without_database(&queues.queue_url, &secret_id)).await;
    function.ready(Duration::from_secs(30)).await.unwrap();
    let result = function
        .invoke(
            &json!({ "fan_out": "calendar-sync", "scheduled_at": "2026-12-08T00:00:00Z" }),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    function.stop().await.unwrap();
    assert_eq!(result["enqueued"], 1, "{result}");

    let visible = sqs
        .get_queue_attributes()
        .queue_url(&queues.queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    let count = visible
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
        .cloned();
    assert_eq!(
        count.as_deref(),
        Some("1"),
        "one calendar-sync for the workspace"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(!logged.contains(&url), "the database URL was logged");
}

#[tokio::test]
async fn a_secret_that_cannot_be_read_fails_init_naming_variable_and_secret() {
    let sqs = sqs().await;
    let queues = fifo_queues(&sqs, 30).await;
    let missing = format!("test/no-such-secret-{}", Uuid::new_v4().simple());
    let (mut function, log) =
        start_orchestrator(&env_without_database(&queues.queue_url, &missing)).await;
    let err = function
        .ready(Duration::from_secs(30))
        .await
        .unwrap_err()
        .to_string();
    let _ = function.stop().await;
    assert!(err.contains("exited during init"), "{err}");
    // What it said on its way out (stderr, where Lambda's init error goes too).
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(said.contains("DATABASE_URL"), "{said}");
    assert!(said.contains(&missing), "{said}");
    assert!(said.contains("ResourceNotFound"), "{said}");
}
