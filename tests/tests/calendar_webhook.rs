//! The calendar webhook (design §13) against a real Postgres and the local SQS server: a burst
//! of notifications is one sync, forged or unknown notifications enqueue nothing, and a slow
//! SQS gets a 500 in time instead of a hung request.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use shared::db::Db;
use std::time::Duration;

use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use aws_lambda_events::http::{HeaderMap, HeaderValue};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use calendar_webhook::{Config, Outcome, Webhook};
use integration_tests::{
    Queues, drain_queue, fifo_queues, sqs, system_attribute, test_now, workspace,
};
use lambda_runtime::LambdaEvent;
use shared::config::Secret;
use shared::jobs::worker::Function as _;
use shared::watch_channels::token_hash;
use sqlx::PgPool;
use uuid::Uuid;

const TOKEN: &str = "channel-secret-0123456789";

fn webhook(
    pool: &Db,
    sqs: aws_sdk_sqs::Client,
    queues: &Queues,
    answer_within: Duration,
) -> Webhook {
    Webhook {
        pool: pool.clone(),
        sqs,
        config: Config {
            database_url: Secret::new("unused: the pool is given"),
            database_mode: integration_tests::connection_mode(),
            queue_url: queues.queue_url.clone(),
            answer_within,
        },
    }
}

/// A live channel on `ws`'s `primary` calendar; returns its id and resource id.
async fn open_channel(pool: &Db, ws: Uuid) -> (String, String) {
    let (channel, resource) = (
        Uuid::new_v4().to_string(),
        format!("res-{}", Uuid::new_v4().simple()),
    );
    sqlx::query(
        "INSERT INTO jobs.watch_channels
             (ws_id, auth_token_id, calendar_id, channel_id, resource_id, token_hash, expires_at)
         VALUES ($1, $2, 'primary', $3, $4, $5, $6)",
    )
    .bind(ws)
    .bind(Uuid::new_v4())
    .bind(&channel)
    .bind(&resource)
    .bind(token_hash(TOKEN).to_vec())
    .bind(test_now() + chrono::Duration::days(7))
    .execute(pool)
    .await
    .unwrap();
    (channel, resource)
}

fn headers(
    channel: &str,
    resource: &str,
    state: &str,
    token: Option<&str>,
    number: u64,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        headers.insert(name, HeaderValue::from_str(value).unwrap());
    };
    set("x-goog-channel-id", channel);
    set("x-goog-resource-id", resource);
    set("x-goog-resource-state", state);
    set("x-goog-message-number", &number.to_string());
    set(
        "x-goog-resource-uri",
        "https://www.googleapis.com/calendar/v3/calendars/primary/events",
    );
    if let Some(token) = token {
        set("x-goog-channel-token", token);
    }
    headers
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_burst_of_notifications_is_one_sync(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let sqs = sqs().await;
    let queues = fifo_queues(&sqs, 30).await;
    let hook = webhook(&pool, sqs.clone(), &queues, Duration::from_secs(5));
    let ws = workspace(&pool, None).await;
    let (channel, resource) = open_channel(&pool, ws).await;

    // The channel's first message is `sync`: acknowledged, nothing to do.
    let first = hook
        .receive(&headers(&channel, &resource, "sync", Some(TOKEN), 1))
        .await;
    assert_eq!(first, Outcome::Acknowledged);
    // 20 changes before a sync lists the calendar, notified out of order: one message name.
    let unlisted = format!("push:{channel}:0");
    for n in (2..22).rev() {
        let outcome = hook
            .receive(&headers(&channel, &resource, "exists", Some(TOKEN), n))
            .await;
        assert_eq!(
            outcome,
            Outcome::Enqueued {
                deduplication_id: unlisted.clone()
            }
        );
    }
    let messages = drain_queue(&sqs, &queues.queue_url).await;
    assert_eq!(messages.len(), 1, "one sync for the burst");
    assert_eq!(
        system_attribute(
            &messages[0],
            MessageSystemAttributeName::MessageDeduplicationId
        ),
        Some(unlisted.clone())
    );
    let body: serde_json::Value = serde_json::from_str(messages[0].body().unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "ws_id": ws, "calendarId": "primary" })
    );
    assert_eq!(
        system_attribute(&messages[0], MessageSystemAttributeName::MessageGroupId),
        Some(ws.to_string())
    );

    // Once a sync has begun listing, a change (it may have missed) is a new sync, however
    // soon it comes.
    shared::watch_channels::begin_listing(&pool, ws, "primary")
        .await
        .unwrap();
    let later = hook
        .receive(&headers(&channel, &resource, "exists", Some(TOKEN), 22))
        .await;
    assert_eq!(
        later,
        Outcome::Enqueued {
            deduplication_id: format!("push:{channel}:1")
        }
    );
    assert_eq!(drain_queue(&sqs, &queues.queue_url).await.len(), 1);
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn forged_and_unknown_notifications_enqueue_nothing(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let sqs = sqs().await;
    let queues = fifo_queues(&sqs, 30).await;
    let hook = webhook(&pool, sqs.clone(), &queues, Duration::from_secs(5));
    let ws = workspace(&pool, None).await;
    let (channel, resource) = open_channel(&pool, ws).await;
    let (stopped, stopped_resource) = open_channel(&pool, ws).await;
    sqlx::query("UPDATE jobs.watch_channels SET stopped_at = now() WHERE channel_id = $1")
        .bind(&stopped)
        .execute(&pool)
        .await
        .unwrap();

    let cases = [
        (
            headers(&channel, &resource, "exists", Some("guessed-token"), 2),
            Outcome::WrongToken,
        ),
        (
            headers(&channel, &resource, "exists", None, 2),
            Outcome::WrongToken,
        ),
        (
            headers(&channel, "someone-elses-resource", "exists", Some(TOKEN), 2),
            Outcome::UnknownChannel,
        ),
        (
            headers("no-such-channel", &resource, "exists", Some(TOKEN), 2),
            Outcome::UnknownChannel,
        ),
        (
            headers(&stopped, &stopped_resource, "exists", Some(TOKEN), 2),
            Outcome::UnknownChannel,
        ),
        (
            headers(&channel, &resource, "not_exists", Some(TOKEN), 2),
            Outcome::Acknowledged,
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(hook.receive(&request).await, expected);
    }
    let mut unreadable = headers(&channel, &resource, "exists", Some(TOKEN), 2);
    unreadable.remove("x-goog-resource-state");
    assert!(
        matches!(hook.receive(&unreadable).await, Outcome::BadRequest(reason) if reason.contains("x-goog-resource-state"))
    );

    // Through the Lambda handler, as the Function URL delivers it: the status Google sees.
    let mut request = LambdaFunctionUrlRequest::default();
    request.headers = headers(&channel, &resource, "exists", Some("guessed-token"), 3);
    let response = hook
        .handle(LambdaEvent::new(
            request,
            lambda_runtime::Context::default(),
        ))
        .await
        .unwrap();
    assert_eq!(response.status_code, 403);

    // The sample event in events/ is what a Function URL delivers: it parses, and names no
    // channel of this database.
    let sample: LambdaFunctionUrlRequest = serde_json::from_str(
        &std::fs::read_to_string(
            integration_tests::workspace_root().join("events/calendar-webhook.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let response = hook
        .handle(LambdaEvent::new(sample, lambda_runtime::Context::default()))
        .await
        .unwrap();
    assert_eq!(response.status_code, 404);

    assert!(
        drain_queue(&sqs, &queues.queue_url).await.is_empty(),
        "nothing was enqueued"
    );
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_slow_queue_gets_a_500_in_time(pool: PgPool) {
    let pool = integration_tests::db(pool);
    // An "SQS" that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = silent.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let config = aws_sdk_sqs::config::Builder::from(&shared::aws::sdk_config().await)
        .endpoint_url(format!("http://{address}"))
        .build();
    let slow = aws_sdk_sqs::Client::from_conf(config);
    let real = sqs().await;
    let queues = fifo_queues(&real, 30).await;
    let hook = webhook(&pool, slow, &queues, Duration::from_millis(300));
    let ws = workspace(&pool, None).await;
    let (channel, resource) = open_channel(&pool, ws).await;

    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        hook.receive(&headers(&channel, &resource, "exists", Some(TOKEN), 2)),
    )
    .await
    .expect("the webhook answers instead of waiting for SQS");
    assert!(
        matches!(&outcome, Outcome::Unavailable(reason) if reason.contains("300 ms")),
        "{outcome:?}"
    );
    assert_eq!(outcome.status(), 500, "Google is told to send it again");
    holder.abort();
}
