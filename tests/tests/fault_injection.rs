//! Fault injection: the calendar-sync function binary, run the way the local system runs it
//! (local Runtime API, the event source mapping's rules, FIFO queue with redrive), through a
//! sequence of faults: Google 5xx, 429, slow answers past the client timeout, 410, 401,
//! `invalid_grant`; database connections cut mid-transaction and the database unavailable; the
//! worker killed mid-batch; duplicate deliveries; bursts for one workspace and for many.
//!
//! After every fault the queue is drained and the invariants are checked against Postgres,
//! the fake calendars and the queues: Postgres equals the fake calendars, every message
//! succeeded or is in the DLQ with its error, no stored sync token is ahead of the stored data,
//! no lease is held, no run is left `running`. At the end no secret is in any log line and no
//! token in any message the worker sent. A table of what was injected is printed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use shared::db::Db;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use integration_tests::db_proxy::DbProxy;
use integration_tests::fake_google::{CLIENT_SECRET, EventVersion, FakeGoogle, Fault};
use integration_tests::fault_stack::{
    Fleet, Line, assert_nothing_left_running, proxied_database, slow_writes, table, tally,
};
use integration_tests::sqs_faults::FaultyProxy;
use integration_tests::sync_support::{
    assert_mirrors, connect_google, expected_rows, sync_binary_env, synced_rows,
};
use integration_tests::{
    Queues, build_function_binaries, fifo_queues, send, sqs, workspace, workspace_root,
};
use local_stack::event_source::EventSource;
use local_stack::fake_google::timed_event;
use serde_json::json;
use uuid::Uuid;

/// The deadline each invocation gets; the queue's visibility timeout outlasts it, as in the
/// template.
const INVOCATION: Duration = Duration::from_secs(8);
const VISIBILITY_SECONDS: u32 = 10;
/// Workspaces every fault runs over; the burst adds more.
const WORKSPACES: usize = 6;
const INSTANCES: usize = 2;
const DB_PASSWORD: &str = "fault-suite-db-password-9f3a";
const EVENTS: &str = "public.workspace_calendar_events";

struct Workspace {
    id: Uuid,
    account: String,
}

struct Suite {
    pool: Db,
    sqs: aws_sdk_sqs::Client,
    fake: FakeGoogle,
    db: DbProxy,
    sent_through: FaultyProxy,
    queues: Queues,
    fleet: Fleet,
    log: PathBuf,
    workspaces: Vec<Workspace>,
    /// Message ids of the current fault.
    batch: Vec<String>,
    round: usize,
    lines: Vec<Line>,
    /// When the current fault began.
    began: Instant,
}

impl Suite {
    async fn start() -> Suite {
        let binary = build_function_binaries().join("calendar-sync");
        let pool = local_stack::connect().await.unwrap();
        let sqs = sqs().await;
        let fake = FakeGoogle::start().await.unwrap();
        let queues = fifo_queues(&sqs, VISIBILITY_SECONDS).await;
        let source = EventSource::new(sqs.clone(), &queues.queue_url)
            .await
            .unwrap();

        // The worker reaches Postgres through the proxy, with a password in its URL.
        let (db, url) = proxied_database(DB_PASSWORD).await;
        let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
        let sent_through = FaultyProxy::start(&endpoint, 0).await;

        // Later entries override the stack's: the worker goes through both proxies.
        let mut env = sync_binary_env(&queues, &fake);
        env.extend(
            [
                ("AWS_ENDPOINT_URL", sent_through.url.as_str()),
                ("DATABASE_URL", url.as_str()),
                ("GOOGLE_REQUEST_TIMEOUT_SECONDS", "1"),
                ("SYNC_CHECKPOINT_MARGIN_SECONDS", "1"),
                ("DEADLINE_MARGIN_SECONDS", "1"),
                ("RUST_LOG", "debug"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        let log = workspace_root().join(format!(
            ".local/logs/test/fault-injection-{}.log",
            Uuid::new_v4().simple()
        ));
        let fleet = Fleet::start(
            &binary,
            "calendar-sync",
            env,
            &log,
            source,
            INSTANCES,
            INVOCATION,
        )
        .await;
        let mut suite = Suite {
            pool,
            sqs,
            fake,
            db,
            sent_through,
            queues,
            fleet,
            log,
            workspaces: Vec::new(),
            batch: Vec::new(),
            round: 0,
            lines: Vec::new(),
            began: Instant::now(),
        };
        suite.add_workspaces(WORKSPACES, 12).await;
        suite
    }

    async fn add_workspaces(&mut self, count: usize, events: usize) {
        let now = minute_now();
        for _ in 0..count {
            let id = workspace(&self.pool, Some("Europe/Berlin")).await;
            let account = format!("fault-{}", id.simple());
            let grant = self.fake.add_account(&account);
            for i in 0..events {
                self.fake.put_event(
                    &account,
                    "primary",
                    timed_event(
                        &format!("e{i:03}"),
                        &format!("Event {i}"),
                        now + chrono::Duration::hours(i as i64 * 5 - 24),
                        30,
                    ),
                );
            }
            connect_google(&self.pool, id, &grant, None, &["primary"]).await;
            self.workspaces.push(Workspace { id, account });
        }
    }

    /// Changes every calendar of `which`: one event added, one moved, one cancelled.
    fn change_calendars(&mut self, which: std::ops::Range<usize>) {
        self.round += 1;
        let now = minute_now();
        let round = self.round;
        for ws in &self.workspaces[which] {
            let added = format!("r{round:03}");
            self.fake.put_event(
                &ws.account,
                "primary",
                timed_event(
                    &added,
                    &format!("Round {round}"),
                    now + chrono::Duration::hours(round as i64),
                    45,
                ),
            );
            let live: Vec<String> = self
                .fake
                .events(&ws.account, "primary")
                .iter()
                .filter_map(|e| e["id"].as_str().map(str::to_owned))
                .filter(|id| *id != added)
                .collect();
            if let [first, .., last] = live.as_slice() {
                self.fake.put_event(
                    &ws.account,
                    "primary",
                    timed_event(
                        first,
                        "Moved",
                        now + chrono::Duration::days(2 + round as i64),
                        60,
                    ),
                );
                self.fake.cancel_event(&ws.account, "primary", last);
            }
        }
    }

    /// Sends one calendar-sync message per workspace of `which`.
    async fn enqueue(&mut self, which: std::ops::Range<usize>) {
        for index in which {
            let ws = self.workspaces[index].id;
            let id = send(
                &self.sqs,
                &self.queues.queue_url,
                &ws.to_string(),
                &Uuid::new_v4().to_string(),
                &json!({ "ws_id": ws }).to_string(),
            )
            .await;
            self.batch.push(id);
        }
    }

    fn ws_ids(&self) -> Vec<Uuid> {
        self.workspaces.iter().map(|w| w.id).collect()
    }

    /// Every stored sync token covers only changes the stored rows already hold: each event
    /// whose last change is at or before the token's point is stored exactly as the fake has
    /// it (cancelled ones absent).
    async fn assert_no_token_ahead(&self) {
        let tokens: Vec<(Uuid, Option<String>)> = sqlx::query_as(
            "SELECT ws_id, sync_token FROM public.calendar_sync_states WHERE ws_id = ANY($1)",
        )
        .bind(self.ws_ids())
        .fetch_all(&self.pool)
        .await
        .unwrap();
        for (ws_id, token) in tokens {
            let Some(point) = token
                .as_deref()
                .and_then(|t| t.rsplit('-').next())
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let ws = self.workspaces.iter().find(|w| w.id == ws_id).unwrap();
            let stored = synced_rows(&self.pool, ws_id, "primary").await;
            for EventVersion {
                event,
                seq,
                cancelled,
            } in self.fake.versions(&ws.account, "primary")
            {
                if seq > point {
                    continue;
                }
                let id = event["id"].as_str().unwrap();
                let row = stored.iter().find(|r| r.external_event_id == id);
                if cancelled {
                    assert!(
                        row.is_none(),
                        "{ws_id}: token at {point} but cancelled {id} is stored"
                    );
                } else {
                    assert_eq!(
                        row,
                        expected_rows(std::slice::from_ref(&event)).first(),
                        "{ws_id}: token at {point} but {id} (changed at {seq}) is not stored as it is"
                    );
                }
            }
        }
    }

    /// Drains, checks every invariant, and records the table line.
    async fn settle(
        &mut self,
        fault: &'static str,
        injected: impl FnOnce(&Suite) -> String,
        expect_dead: usize,
    ) {
        self.fleet.drain().await;
        let injected = injected(self);
        for ws in &self.workspaces {
            assert_mirrors(&self.pool, ws.id, &self.fake, &ws.account, "primary").await;
        }
        self.assert_no_token_ahead().await;
        assert_nothing_left_running(&self.pool, &self.ws_ids(), fault).await;
        let tally = tally(
            &self.pool,
            &self.sqs,
            &self.queues.dlq_url,
            &self.batch,
            fault,
        )
        .await;
        assert_eq!(tally.in_dlq, expect_dead, "{fault}: messages in the DLQ");
        self.lines.push(Line {
            fault,
            injected,
            messages: self.batch.len(),
            outcome: format!("{tally}; Postgres = Google"),
            seconds: self.began.elapsed().as_secs_f64(),
        });
        eprintln!(
            "checked after {fault} ({:.1} s)",
            self.began.elapsed().as_secs_f64()
        );
        self.batch.clear();
        self.began = Instant::now();
    }

    /// Changes every calendar, queues `faults` for Google's next answers, sends one message
    /// per workspace and settles.
    async fn google_faults(
        &mut self,
        fault: &'static str,
        faults: impl IntoIterator<Item = Fault>,
    ) {
        let served = self.fake.faults_served();
        self.change_calendars(0..WORKSPACES);
        self.fake.inject(faults);
        self.enqueue(0..WORKSPACES).await;
        self.settle(
            fault,
            move |s: &Suite| format!("{} answers", s.fake.faults_served() - served),
            0,
        )
        .await;
    }

    /// Adds `count` events to the calendar of workspace `index`, so its next sync writes them.
    fn add_events(&mut self, index: usize, count: usize) {
        self.round += 1;
        let now = minute_now();
        for i in 0..count {
            self.fake.put_event(
                &self.workspaces[index].account,
                "primary",
                timed_event(
                    &format!("b{:03}x{i:03}", self.round),
                    "Bulk",
                    now + chrono::Duration::hours(i as i64 + 1),
                    15,
                ),
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn faults_leave_postgres_equal_to_google_and_every_message_accounted_for() {
    let started = Instant::now();
    let mut suite = Suite::start().await;
    eprintln!("set up in {:.1} s", started.elapsed().as_secs_f64());
    suite.began = Instant::now();

    suite.first_sync().await;
    suite
        .google_faults(
            "Google 5xx",
            [500, 503, 502, 500, 500, 503, 500].map(Fault::Status),
        )
        .await;
    suite
        .google_faults(
            "Google 429 + Retry-After",
            [Fault::RateLimited { retry_after: 1 }; 4],
        )
        .await;
    suite
        .google_faults(
            "Google slower than the client timeout",
            [Fault::Slow(Duration::from_millis(1500)); 3],
        )
        .await;
    suite.sync_tokens_expire().await;
    suite.access_tokens_expire().await;
    suite.database_cut_mid_transaction().await;
    suite.database_down_for_a_while().await;
    suite.worker_killed_mid_batch().await;
    suite.duplicate_deliveries().await;
    suite.grant_revoked().await;
    suite.bursts().await;
    suite.fleet.stop().await;
    suite.assert_no_secret_leaked();
    eprintln!("\n{}", table(&suite.lines));
}

/// The phases of the suite, in the order the test runs them; each ends in [`Suite::settle`].
impl Suite {
    /// The first sync of every workspace, fault-free.
    async fn first_sync(&mut self) {
        self.enqueue(0..WORKSPACES).await;
        self.settle("none (first sync)", |_: &Suite| "-".to_owned(), 0)
            .await;
    }

    async fn sync_tokens_expire(&mut self) {
        self.change_calendars(0..WORKSPACES);
        self.fake.expire_sync_tokens();
        self.enqueue(0..WORKSPACES).await;
        self.settle(
            "Google 410 (sync tokens expired)",
            |_: &Suite| format!("{WORKSPACES} tokens"),
            0,
        )
        .await;
    }

    async fn access_tokens_expire(&mut self) {
        let refreshes = self.fake.refresh_calls();
        self.change_calendars(0..WORKSPACES);
        for ws in &self.workspaces {
            self.fake.expire_access_tokens(&ws.account);
        }
        self.enqueue(0..WORKSPACES).await;
        self.settle(
            "Google 401 (access tokens expired)",
            move |s: &Suite| format!("{} refreshes", s.fake.refresh_calls() - refreshes),
            0,
        )
        .await;
    }

    /// A transaction cut while it writes: the page rolls back, no token moves, the retry
    /// converges.
    async fn database_cut_mid_transaction(&mut self) {
        let undo = slow_writes(&self.pool, EVENTS, self.workspaces[0].id).await;
        self.add_events(0, 30);
        self.enqueue(0..1).await;
        let invocation = self.fleet.invoke_in_background().await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        let cut = self.db.connections_cut();
        let open = self.db.cut_all();
        assert!(open > 0, "no database connection was open to cut");
        let result = self.fleet.finish(invocation).await;
        eprintln!(
            "invocation with a cut connection: {:?}",
            result.map(|r| r.to_string())
        );
        self.assert_no_token_ahead().await;
        sqlx::query(&undo).execute(&self.pool).await.unwrap();
        self.settle(
            "database connections cut mid-transaction",
            move |s: &Suite| format!("{} connections", s.db.connections_cut() - cut),
            0,
        )
        .await;
    }

    /// The database gone for a few seconds while messages arrive.
    async fn database_down_for_a_while(&mut self) {
        let refused = self.db.connections_refused();
        self.change_calendars(0..WORKSPACES);
        self.db.set_down(true);
        self.enqueue(0..WORKSPACES).await;
        let invocation = self.fleet.invoke_in_background().await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        self.db.set_down(false);
        let _ = self.fleet.finish(invocation).await;
        self.settle(
            "database unavailable for 3 s",
            move |s: &Suite| {
                format!(
                    "{} connections refused",
                    s.db.connections_refused() - refused
                )
            },
            0,
        )
        .await;
    }

    /// The worker killed mid-batch: the batch comes back after the visibility timeout, what was
    /// done is found done, the lease of the killed run does not block its redelivery.
    async fn worker_killed_mid_batch(&mut self) {
        let undo = slow_writes(&self.pool, EVENTS, self.workspaces[1].id).await;
        self.add_events(1, 30);
        self.change_calendars(2..WORKSPACES);
        self.enqueue(1..WORKSPACES).await;
        let invocation = self.fleet.invoke_in_background().await;
        self.fleet
            .kill_first(invocation, Duration::from_millis(700))
            .await;
        self.assert_no_token_ahead().await;
        sqlx::query(&undo).execute(&self.pool).await.unwrap();
        self.settle(
            "worker killed mid-batch",
            |_: &Suite| "1 process".to_owned(),
            0,
        )
        .await;
    }

    /// The same messages again (a producer retrying, SQS's at-least-once): each found done,
    /// Google not called.
    async fn duplicate_deliveries(&mut self) {
        self.change_calendars(0..WORKSPACES);
        let mut originals = Vec::new();
        for ws in &self.workspaces {
            let dedup = Uuid::new_v4().to_string();
            let body = json!({ "ws_id": ws.id }).to_string();
            originals.push((ws.id.to_string(), dedup.clone(), body.clone()));
            self.batch.push(
                send(
                    &self.sqs,
                    &self.queues.queue_url,
                    &ws.id.to_string(),
                    &dedup,
                    &body,
                )
                .await,
            );
        }
        self.fleet.drain().await;
        let calls = self.fake.list_calls();
        // One round at a time: SQS drops a resend whose id is still in the queue.
        for _ in 0..3 {
            for (group, dedup, body) in &originals {
                self.batch
                    .push(send(&self.sqs, &self.queues.queue_url, group, dedup, body).await);
            }
            self.fleet.drain().await;
        }
        self.settle(
            "duplicate deliveries",
            |_: &Suite| format!("{} redeliveries", 3 * WORKSPACES),
            0,
        )
        .await;
        assert_eq!(
            self.fake.list_calls(),
            calls,
            "a duplicate delivery called Google"
        );
    }

    /// invalid_grant: that workspace's message is dead with its error, the others succeed.
    async fn grant_revoked(&mut self) {
        self.change_calendars(1..WORKSPACES);
        self.fake.revoke(&self.workspaces[0].account);
        self.enqueue(0..WORKSPACES).await;
        self.settle(
            "Google invalid_grant (grant revoked)",
            |_: &Suite| "1 account".to_owned(),
            1,
        )
        .await;
    }

    /// Hundreds of messages for one workspace, then one for each of many.
    async fn bursts(&mut self) {
        self.change_calendars(1..2);
        for _ in 0..200 {
            self.enqueue(1..2).await;
        }
        self.settle(
            "burst for one workspace",
            |_: &Suite| "200 messages".to_owned(),
            0,
        )
        .await;
        self.add_workspaces(120, 3).await;
        let many = WORKSPACES..self.workspaces.len();
        self.enqueue(many.clone()).await;
        self.change_calendars(many.clone());
        self.enqueue(many).await;
        self.settle(
            "burst over many workspaces",
            |_: &Suite| "240 messages".to_owned(),
            0,
        )
        .await;
    }

    /// No token, client secret or database password in any log line or message the worker
    /// sent.
    fn assert_no_secret_leaked(&self) {
        let log = std::fs::read_to_string(&self.log).unwrap();
        assert!(
            log.matches("record processed").count() >= 400,
            "the log holds the run"
        );
        let mut secrets = self.fake.tokens_handed_out();
        secrets.extend([CLIENT_SECRET.to_owned(), DB_PASSWORD.to_owned()]);
        let sends = self.sent_through.sends();
        assert!(!sends.is_empty(), "the worker sent messages (dead letters)");
        for secret in &secrets {
            assert!(!log.contains(secret.as_str()), "a secret is in the log");
            assert!(
                !sends.iter().any(|s| s.contains(secret.as_str())),
                "a token went into a queue message"
            );
        }
        let tokens_seen: HashSet<&str> = secrets.iter().map(String::as_str).collect();
        assert!(
            tokens_seen.len() > 2 * WORKSPACES,
            "tokens were refreshed and checked"
        );
    }
}

/// Now in whole minutes, as calendar events are.
fn minute_now() -> chrono::DateTime<chrono::Utc> {
    use chrono::DurationRound as _;
    chrono::Utc::now()
        .duration_trunc(chrono::TimeDelta::minutes(1))
        .unwrap()
}
