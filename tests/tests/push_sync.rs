//! Push-driven sync (design §13) end to end in one process: the sync worker opens a channel
//! at the fake Google Calendar, which POSTs its notifications over HTTP to the
//! `calendar-webhook` handler served the way its Function URL serves it; the sync messages it
//! enqueues go through the local SQS server to the same worker, and rows are read back from
//! Postgres.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use shared::db::Db;
use std::time::Duration;

use aws_lambda_events::http::HeaderMap;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use axum::http::StatusCode;
use calendar_webhook::{Config as WebhookConfig, Webhook};
use google_sync::sync::SyncJob;
use google_sync::sync::watch::WatchConfig;
use integration_tests::fake_google::{FakeGoogle, timed_event};
use integration_tests::sync_support::{
    assert_mirrors, connect_google, run_next_batch, sync_config, sync_worker,
};
use integration_tests::{
    Queues, drain_queue, fifo_queues, send, sqs, system_attribute, test_now, workspace,
};
use orchestrator::{FanOutOptions, Tick, fan_out};
use serde_json::json;
use shared::config::Secret;
use shared::jobs::runner::Runner;
use shared::payload::CalendarSyncPayload;
use sqlx::PgPool;
use uuid::Uuid;

const ACCOUNT: &str = "push";

/// The webhook behind a local HTTP address.
async fn serve_webhook(hook: Webhook) -> String {
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |headers: HeaderMap| {
            let hook = hook.clone();
            async move {
                StatusCode::from_u16(hook.receive(&headers).await.status())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

struct Push {
    pool: Db,
    sqs: aws_sdk_sqs::Client,
    queues: Queues,
    fake: FakeGoogle,
    runner: Runner,
    job: SyncJob<CalendarSyncPayload>,
    ws: Uuid,
}

impl Push {
    /// A workspace with one connected calendar of three events, its sync worker pushing to
    /// `address` (the webhook when `None`).
    async fn new(pool: Db, address: Option<&str>) -> Push {
        let sqs = sqs().await;
        let queues = fifo_queues(&sqs, 60).await;
        let fake = FakeGoogle::start().await.unwrap();
        fake.set_now(test_now());
        fake.allow_plain_http_addresses(true);
        let hook = Webhook {
            pool: pool.clone(),
            sqs: sqs.clone(),
            config: WebhookConfig {
                database_url: Secret::new("unused: the pool is given"),
                database_mode: integration_tests::connection_mode(),
                queue_url: queues.queue_url.clone(),
                answer_within: Duration::from_secs(5),
            },
        };
        let served = serve_webhook(hook).await;
        let mut config = sync_config(&queues, &fake);
        config.watch = Some(WatchConfig {
            address: address.unwrap_or(&served).to_owned(),
            ttl: Duration::from_secs(7 * 86_400),
            renew_before: Duration::from_secs(86_400),
        });
        let (runner, job) = sync_worker(&pool, &sqs, &config);
        let ws = workspace(&pool, Some("Europe/Berlin")).await;
        let grant = fake.add_account(ACCOUNT);
        for i in 0..3 {
            fake.put_event(ACCOUNT, "primary", event(i));
        }
        connect_google(&pool, ws, &grant, None, &["primary"]).await;
        Push {
            pool,
            sqs,
            queues,
            fake,
            runner,
            job,
            ws,
        }
    }

    /// Sends a polling sync of the workspace, as the 15-minute fan-out does.
    async fn poll(&self) {
        let body = json!({ "ws_id": self.ws }).to_string();
        send(
            &self.sqs,
            &self.queues.queue_url,
            &self.ws.to_string(),
            &Uuid::new_v4().to_string(),
            &body,
        )
        .await;
    }

    /// Runs the orchestrator's `renew-watch-channels` tick at the tests' instant onto the sync
    /// queue; returns how many calendars it sent a sync for.
    async fn renewal_tick(&self) -> u64 {
        let tick = Tick::parse(
            json!({ "fan_out": "renew-watch-channels", "scheduled_at": test_now().to_rfc3339() }),
            test_now(),
        )
        .unwrap();
        let summary = fan_out::fan_out(
            &self.pool,
            &self.sqs,
            &self.queues.queue_url,
            &tick,
            FanOutOptions::default(),
        )
        .await
        .unwrap();
        assert_eq!(summary.failed, 0);
        summary.enqueued
    }

    /// Runs the next batch of the queue through the worker and settles it, as Lambda does;
    /// every record must succeed. Returns the batch's deduplication ids.
    async fn run_next(&self) -> Vec<String> {
        let (event, response) = run_next_batch(
            &self.sqs,
            &self.queues,
            &self.runner,
            &self.job,
            Duration::from_secs(60),
        )
        .await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
        event
            .records
            .iter()
            .filter_map(|r| r.attributes.get("MessageDeduplicationId").cloned())
            .collect()
    }

    /// Runs the one sync waiting in the queue: nothing is left after it, and Postgres mirrors
    /// the calendar.
    async fn run_the_one_sync(&self) {
        self.run_next().await;
        assert!(
            drain_queue(&self.sqs, &self.queues.queue_url)
                .await
                .is_empty(),
            "exactly one sync"
        );
        assert_mirrors(&self.pool, self.ws, &self.fake, ACCOUNT, "primary").await;
    }

    /// The result of the workspace's latest run.
    async fn last_result(&self) -> serde_json::Value {
        sqlx::query_scalar(
            "SELECT result FROM jobs.runs WHERE ws_id = $1 ORDER BY started_at DESC LIMIT 1",
        )
        .bind(self.ws)
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    /// (channel id, resource id, stopped) of every channel of the calendar, oldest first.
    async fn channels(&self) -> Vec<(String, Option<String>, bool)> {
        sqlx::query_as(
            "SELECT channel_id, resource_id, stopped_at IS NOT NULL FROM jobs.watch_channels
             WHERE ws_id = $1 AND calendar_id = 'primary' ORDER BY created_at, id",
        )
        .bind(self.ws)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    /// Waits until `count` notifications were answered; returns their statuses.
    async fn answered(&self, count: usize) -> Vec<u16> {
        for _ in 0..500 {
            let statuses = self.fake.notification_statuses();
            if statuses.len() >= count {
                return statuses;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "only {:?} of {count} notifications were answered",
            self.fake.notification_statuses()
        );
    }
}

fn event(i: i64) -> serde_json::Value {
    timed_event(
        &format!("e{i}"),
        &format!("Event {i}"),
        test_now() + chrono::Duration::hours(i + 1),
        30,
    )
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_burst_of_changes_in_google_is_one_pushed_sync(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let push = Push::new(pool, None).await;
    push.poll().await;
    push.run_next().await;
    assert_mirrors(&push.pool, push.ws, &push.fake, ACCOUNT, "primary").await;
    let channels = push.channels().await;
    assert_eq!(channels.len(), 1, "the first sync opened a channel");
    assert_eq!(channels[0].1.as_deref(), Some("resource-push-primary"));
    assert_eq!(push.fake.channels().len(), 1);
    assert_eq!(
        push.answered(1).await,
        [200],
        "the channel's sync message is acknowledged"
    );
    assert!(
        drain_queue(&push.sqs, &push.queues.queue_url)
            .await
            .is_empty(),
        "sync enqueues nothing"
    );

    // 20 changes, half of them notified twice: every notification is accepted, one sync waits.
    for i in 3..23 {
        push.fake.duplicate_notifications(i % 2 == 0);
        push.fake.put_event(ACCOUNT, "primary", event(i));
    }
    let statuses = push.answered(1 + 30).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    push.run_the_one_sync().await;
    assert_eq!(
        push.channels().await.len(),
        1,
        "a live channel is kept, not reopened"
    );
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn renewal_keeps_exactly_one_live_channel(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let push = Push::new(pool, None).await;
    push.poll().await;
    push.run_next().await;
    assert_eq!(
        push.renewal_tick().await,
        0,
        "a fresh channel is left alone"
    );
    // The channel expires within the renewal margin (a day): the renewal fan-out sends a sync
    // for its calendar, which replaces it.
    sqlx::query("UPDATE jobs.watch_channels SET expires_at = $1")
        .bind(test_now() + chrono::Duration::hours(3))
        .execute(&push.pool)
        .await
        .unwrap();
    let old = push.channels().await[0].0.clone();
    assert_eq!(push.renewal_tick().await, 1);
    push.run_next().await;

    let channels = push.channels().await;
    assert_eq!(channels.len(), 2);
    assert_eq!(
        (channels[0].0.as_str(), channels[0].2),
        (old.as_str(), true),
        "the old channel is stopped"
    );
    assert!(!channels[1].2, "the new channel is live");
    assert_eq!(push.fake.stop_calls(), 1);
    let at_google: Vec<String> = push.fake.channels().into_iter().map(|c| c.id).collect();
    assert_eq!(
        at_google,
        [channels[1].0.clone()],
        "Google holds only the new channel"
    );

    // A change is notified on the new channel and synced.
    push.fake.put_event(ACCOUNT, "primary", event(9));
    push.answered(3).await;
    push.run_next().await;
    assert_mirrors(&push.pool, push.ws, &push.fake, ACCOUNT, "primary").await;
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn disabling_a_connection_stops_its_channel(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let push = Push::new(pool, None).await;
    push.poll().await;
    push.run_next().await;
    assert_eq!(push.fake.channels().len(), 1);

    sqlx::query("UPDATE public.calendar_connections SET is_enabled = false WHERE ws_id = $1")
        .bind(push.ws)
        .execute(&push.pool)
        .await
        .unwrap();
    assert_eq!(
        push.renewal_tick().await,
        1,
        "the unwanted channel gets a sync"
    );
    push.run_next().await;
    assert!(push.channels().await.iter().all(|c| c.2), "stopped here");
    assert_eq!(push.fake.stop_calls(), 1);
    assert!(push.fake.channels().is_empty(), "and at Google");
    assert_eq!(push.renewal_tick().await, 0, "nothing left to renew");
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_revoked_grant_stops_its_channels(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let push = Push::new(pool, None).await;
    push.poll().await;
    push.run_next().await;
    assert!(!push.channels().await[0].2);

    push.fake.revoke(ACCOUNT);
    push.poll().await;
    // A revoked grant fails the sync permanently: the record is not left for a retry.
    push.run_next().await;
    assert!(
        push.channels().await.iter().all(|c| c.2),
        "the revoked token's channel is stopped"
    );
    // Google still sends until the channel expires: refused, nothing enqueued.
    push.fake.put_event(ACCOUNT, "primary", event(7));
    assert_eq!(push.answered(2).await[1], 404);
    let pushed = drain_queue(&push.sqs, &push.queues.queue_url)
        .await
        .iter()
        .filter_map(|m| system_attribute(m, MessageSystemAttributeName::MessageDeduplicationId))
        .filter(|id| id.starts_with("push:"))
        .count();
    assert_eq!(pushed, 0, "no pushed sync");
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn with_the_webhook_down_the_poll_still_converges(pool: PgPool) {
    let pool = integration_tests::db(pool);
    // Nothing listens at this address: every notification goes unanswered.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let push = Push::new(pool, Some(&address)).await;
    push.poll().await;
    push.run_next().await;
    for i in 3..8 {
        push.fake.put_event(ACCOUNT, "primary", event(i));
    }
    push.fake.cancel_event(ACCOUNT, "primary", "e0");
    let statuses = push.answered(7).await;
    assert!(statuses.iter().all(|s| *s == 0), "{statuses:?}");
    assert!(
        drain_queue(&push.sqs, &push.queues.queue_url)
            .await
            .is_empty()
    );

    push.poll().await;
    push.run_next().await;
    assert_mirrors(&push.pool, push.ws, &push.fake, ACCOUNT, "primary").await;
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn out_of_order_notifications_are_one_sync(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let push = Push::new(pool, None).await;
    // Everything Google sends from here on, the channel's `sync` included, arrives in reverse.
    push.fake.hold_notifications(true);
    push.poll().await;
    push.run_next().await;
    for i in 3..8 {
        push.fake.duplicate_notifications(i % 2 == 0);
        push.fake.put_event(ACCOUNT, "primary", event(i));
    }
    push.fake.cancel_event(ACCOUNT, "primary", "e1");
    assert!(push.fake.notification_statuses().is_empty(), "all held");
    push.fake.hold_notifications(false);

    // 1 sync + 5 changes (2 of them twice) + 1 cancellation.
    let statuses = push.answered(9).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    push.run_the_one_sync().await;
    assert_eq!(push.channels().await.len(), 1);
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_change_after_a_sync_began_listing_is_another_sync(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let push = Push::new(pool, None).await;
    push.poll().await;
    push.run_next().await;
    let channel = push.channels().await[0].0.clone();
    push.answered(1).await;

    push.fake.put_event(ACCOUNT, "primary", event(5));
    push.answered(2).await;
    assert_eq!(push.run_next().await, [format!("push:{channel}:0")]);
    // Right after that sync listed the calendar (the tests' clock has not moved): a message of
    // its own, not taken for the one just handled (SQS remembers ids for 5 minutes; the local
    // server forgets them once deleted, so the id is what shows it).
    push.fake.put_event(ACCOUNT, "primary", event(6));
    push.answered(3).await;
    assert_eq!(push.run_next().await, [format!("push:{channel}:1")]);
    assert_mirrors(&push.pool, push.ws, &push.fake, ACCOUNT, "primary").await;
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_calendar_google_will_not_watch_is_remembered_and_polled(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let push = Push::new(pool, None).await;
    // A read-only calendar (holidays, birthdays): Google refuses to watch it.
    push.fake.make_unwatchable(ACCOUNT, "primary");
    push.poll().await;
    push.run_next().await;
    assert_eq!(push.fake.watch_calls(), 1);
    assert!(
        push.channels().await.is_empty(),
        "no channel is kept for it"
    );
    let result = push.last_result().await;
    assert_eq!(
        result["watch_failures"], 0,
        "not a failure: polling covers it"
    );
    let remembered: Vec<String> =
        sqlx::query_scalar("SELECT reason FROM jobs.unwatchable_calendars WHERE ws_id = $1")
            .bind(push.ws)
            .fetch_all(&push.pool)
            .await
            .unwrap();
    assert_eq!(remembered, ["pushNotSupportedForRequestedResource"]);

    // Later syncs poll it without asking Google again.
    push.fake.put_event(ACCOUNT, "primary", event(7));
    push.poll().await;
    push.run_next().await;
    assert_eq!(push.fake.watch_calls(), 1);
    assert_mirrors(&push.pool, push.ws, &push.fake, ACCOUNT, "primary").await;
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn google_refuses_a_webhook_address_that_is_not_https(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let push = Push::new(pool, None).await;
    push.fake.allow_plain_http_addresses(false);
    push.poll().await;
    push.run_next().await;
    assert!(
        push.channels().await.is_empty(),
        "nothing kept of a refused channel"
    );
    let result = push.last_result().await;
    assert_eq!(
        result["watch_failures"], 1,
        "counted, and the sync still succeeded"
    );
    assert_mirrors(&push.pool, push.ws, &push.fake, ACCOUNT, "primary").await;
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_calendar_with_the_longest_legal_id_gets_its_channel(pool: PgPool) {
    let pool = integration_tests::db(pool);
    // calendar_connections.calendar_id allows 1,000 characters; its channel row keeps it whole.
    let push = Push::new(pool, None).await;
    let long = "w".repeat(1_000);
    push.fake.add_calendar(ACCOUNT, &long);
    push.fake.put_event(ACCOUNT, &long, event(9));
    sqlx::query(
        "INSERT INTO public.calendar_connections (ws_id, calendar_id, calendar_name, auth_token_id)
         SELECT ws_id, $2, 'Wide', id FROM public.calendar_auth_tokens WHERE ws_id = $1",
    )
    .bind(push.ws)
    .bind(&long)
    .execute(&push.pool)
    .await
    .unwrap();
    push.poll().await;
    push.run_next().await;
    let opened: Vec<(String, bool)> = sqlx::query_as(
        "SELECT calendar_id, resource_id IS NOT NULL FROM jobs.watch_channels
         WHERE ws_id = $1 AND stopped_at IS NULL ORDER BY calendar_id",
    )
    .bind(push.ws)
    .fetch_all(&push.pool)
    .await
    .unwrap();
    assert_eq!(opened, [("primary".to_owned(), true), (long.clone(), true)]);
    assert_mirrors(&push.pool, push.ws, &push.fake, ACCOUNT, &long).await;
    assert_eq!(push.last_result().await["watch_failures"], 0);
}
