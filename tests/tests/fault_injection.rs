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

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::SqsBatchResponse;
use integration_tests::db_proxy::DbProxy;
use integration_tests::fake_google::{CLIENT_ID, CLIENT_SECRET, EventVersion, FakeGoogle, Fault};
use integration_tests::sqs_faults::FaultyProxy;
use integration_tests::sync_support::{assert_mirrors, connect_google, expected_rows, synced_rows};
use integration_tests::{
    Queues, attribute, build_function_binaries, dead_letters, fifo_queues, send, sqs, workspace,
    workspace_root,
};
use jobs_cli::event_source::EventSource;
use jobs_cli::fake_google::timed_event;
use jobs_cli::runtime_api::LocalFunction;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

/// The deadline each invocation gets; the queue's visibility timeout outlasts it, as in the
/// template.
const INVOCATION: Duration = Duration::from_secs(8);
const VISIBILITY_SECONDS: u32 = 10;
/// Workspaces every fault runs over; the burst adds more.
const WORKSPACES: usize = 6;
const INSTANCES: usize = 2;
const DB_PASSWORD: &str = "fault-suite-db-password-9f3a";

struct Workspace {
    id: Uuid,
    account: String,
}

/// One line of the printed table.
struct Line {
    fault: &'static str,
    injected: String,
    messages: usize,
    outcome: String,
    seconds: f64,
}

struct Suite {
    pool: PgPool,
    sqs: aws_sdk_sqs::Client,
    fake: FakeGoogle,
    db: DbProxy,
    sent_through: FaultyProxy,
    queues: Queues,
    source: EventSource,
    binary: PathBuf,
    log: PathBuf,
    env: Vec<(String, String)>,
    functions: Vec<LocalFunction>,
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
        let pool = jobs_cli::connect().await.unwrap();
        let sqs = sqs().await;
        let fake = FakeGoogle::start().await.unwrap();
        let queues = fifo_queues(&sqs, VISIBILITY_SECONDS).await;
        let source = EventSource::new(sqs.clone(), &queues.queue_url)
            .await
            .unwrap();

        // The worker reaches Postgres through the proxy, with a password in its URL (the
        // local cluster trusts local connections, so it only has to stay out of the logs).
        let mut url = reqwest::Url::parse(&std::env::var("DATABASE_URL").unwrap()).unwrap();
        let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
        let db = DbProxy::start(&upstream).await;
        let (host, port) = db.address.rsplit_once(':').unwrap();
        url.set_host(Some(host)).unwrap();
        url.set_port(Some(port.parse().unwrap())).unwrap();
        url.set_password(Some(DB_PASSWORD)).unwrap();
        let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
        let sent_through = FaultyProxy::start(&endpoint, 0).await;

        // Later entries override the stack's: the worker goes through both proxies.
        let mut env = jobs_cli::local::stack_env();
        env.extend(
            [
                ("AWS_ENDPOINT_URL", sent_through.url.as_str()),
                ("DATABASE_URL", url.as_str()),
                ("CALENDAR_SYNC_QUEUE_URL", queues.queue_url.as_str()),
                ("DEAD_LETTER_QUEUE_URL", queues.dlq_url.as_str()),
                ("GOOGLE_CLIENT_ID", CLIENT_ID),
                ("GOOGLE_CLIENT_SECRET", CLIENT_SECRET),
                ("GOOGLE_CALENDAR_API_URL", fake.api_url.as_str()),
                ("GOOGLE_OAUTH_TOKEN_URL", fake.token_url.as_str()),
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
        let mut suite = Suite {
            pool,
            sqs,
            fake,
            db,
            sent_through,
            queues,
            source,
            binary,
            log,
            env,
            functions: Vec::new(),
            workspaces: Vec::new(),
            batch: Vec::new(),
            round: 0,
            lines: Vec::new(),
            began: Instant::now(),
        };
        for _ in 0..INSTANCES {
            let function = suite.start_function().await;
            suite.functions.push(function);
        }
        suite.add_workspaces(WORKSPACES, 12).await;
        suite
    }

    async fn start_function(&self) -> LocalFunction {
        let mut function =
            LocalFunction::start(&self.binary, "calendar-sync", &self.env, &self.log)
                .await
                .unwrap();
        function.ready(Duration::from_secs(30)).await.unwrap();
        function
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

    /// Polls and invokes with every instance until nothing is visible or in flight.
    async fn drain(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(150);
        let mut running = Vec::new();
        for mut function in self.functions.drain(..) {
            let source = self.source.clone();
            running.push(tokio::spawn(async move {
                loop {
                    assert!(Instant::now() < deadline, "the queue did not drain in time");
                    let Some(event) = source.poll().await.unwrap() else {
                        if source.is_empty().await.unwrap() {
                            return function;
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    };
                    let payload = serde_json::to_value(&event).unwrap();
                    match function.invoke(&payload, INVOCATION).await {
                        Ok(value) => {
                            let response: SqsBatchResponse = serde_json::from_value(value).unwrap();
                            source.settle(&event, &response).await.unwrap();
                        }
                        // The whole batch returns after the visibility timeout.
                        Err(err) => eprintln!("invocation failed: {err:#}"),
                    }
                }
            }));
        }
        for function in running {
            self.functions.push(function.await.unwrap());
        }
    }

    /// Invokes one batch with the first instance in the background.
    async fn invoke_in_background(
        &mut self,
    ) -> tokio::task::JoinHandle<(LocalFunction, anyhow::Result<serde_json::Value>)> {
        let event = self.source.poll().await.unwrap().expect("a visible batch");
        let mut function = self.functions.remove(0);
        let source = self.source.clone();
        tokio::spawn(async move {
            let result = function
                .invoke(&serde_json::to_value(&event).unwrap(), INVOCATION)
                .await;
            if let Ok(value) = &result {
                let response: SqsBatchResponse = serde_json::from_value(value.clone()).unwrap();
                source.settle(&event, &response).await.unwrap();
            }
            (function, result)
        })
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
        self.drain().await;
        let injected = injected(self);
        for ws in &self.workspaces {
            assert_mirrors(&self.pool, ws.id, &self.fake, &ws.account, "primary").await;
        }
        self.assert_no_token_ahead().await;

        let running: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs.runs WHERE ws_id = ANY($1) AND status = 'running'",
        )
        .bind(self.ws_ids())
        .fetch_one(&self.pool)
        .await
        .unwrap();
        assert_eq!(running, 0, "{fault}: runs left running after the drain");
        let held: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs.leases WHERE ws_id = ANY($1) AND expires_at > now()",
        )
        .bind(self.ws_ids())
        .fetch_one(&self.pool)
        .await
        .unwrap();
        assert_eq!(held, 0, "{fault}: leases still held after the drain");

        // Every message: its last run succeeded (or found it done), or it is in the DLQ with
        // its error.
        let letters = dead_letters(&self.sqs, &self.queues.dlq_url).await;
        let dead: HashMap<String, String> = letters
            .iter()
            .filter_map(|l| {
                let original = attribute(l, "original_message_id")
                    .or_else(|| l.message_id().map(str::to_owned))?;
                Some((original, attribute(l, "error").unwrap_or_default()))
            })
            .collect();
        let (mut succeeded, mut skipped, mut in_dlq, mut retried) = (0, 0, 0, 0);
        for message in &self.batch {
            let runs: Vec<(String, Option<String>)> = sqlx::query_as(
                "SELECT status, error FROM jobs.runs WHERE message_id = $1 ORDER BY started_at, finished_at",
            )
            .bind(message)
            .fetch_all(&self.pool)
            .await
            .unwrap();
            retried += runs.iter().filter(|r| r.0 == "failed").count();
            match runs.last().map(|r| r.0.as_str()) {
                Some("succeeded") => succeeded += 1,
                Some("skipped") => skipped += 1,
                _ => {
                    let error = dead
                        .get(message)
                        .unwrap_or_else(|| panic!("{fault}: message {message} neither succeeded nor is in the DLQ ({runs:?})"));
                    let error = Some(error.as_str())
                        .filter(|e| !e.is_empty())
                        .or_else(|| runs.last().and_then(|r| r.1.as_deref()));
                    assert!(
                        error.is_some_and(|e| !e.is_empty()),
                        "{fault}: dead letter {message} has no error"
                    );
                    in_dlq += 1;
                }
            }
        }
        assert_eq!(in_dlq, expect_dead, "{fault}: messages in the DLQ");
        self.lines.push(Line {
            fault,
            injected,
            messages: self.batch.len(),
            outcome: format!(
                "{succeeded} succeeded, {skipped} already done, {in_dlq} in DLQ; {retried} failed attempts; Postgres = Google"
            ),
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

    /// Slows every row written for `ws_id` inside Postgres, so a transaction is open long
    /// enough to be cut. Returns the statement that removes it.
    async fn slow_writes(&self, ws_id: Uuid) -> String {
        let name = format!("fault_suite_slow_{}", ws_id.simple());
        sqlx::query(
            "CREATE OR REPLACE FUNCTION public.fault_suite_slow_write() RETURNS trigger
             LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.05); RETURN NEW; END $$",
        )
        .execute(&self.pool)
        .await
        .unwrap();
        sqlx::query(&format!(
            "CREATE TRIGGER {name} BEFORE INSERT OR UPDATE ON public.workspace_calendar_events
             FOR EACH ROW WHEN (NEW.ws_id = '{ws_id}') EXECUTE FUNCTION public.fault_suite_slow_write()"
        ))
        .execute(&self.pool)
        .await
        .unwrap();
        format!("DROP TRIGGER {name} ON public.workspace_calendar_events")
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
    let all = 0..WORKSPACES;

    // The first sync of every workspace, fault-free.
    suite.enqueue(all.clone()).await;
    suite
        .settle("none (first sync)", |_: &Suite| "-".to_owned(), 0)
        .await;

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

    suite.change_calendars(all.clone());
    suite.fake.expire_sync_tokens();
    suite.enqueue(all.clone()).await;
    suite
        .settle(
            "Google 410 (sync tokens expired)",
            |_: &Suite| format!("{WORKSPACES} tokens"),
            0,
        )
        .await;

    let refreshes = suite.fake.refresh_calls();
    suite.change_calendars(all.clone());
    for ws in &suite.workspaces {
        suite.fake.expire_access_tokens(&ws.account);
    }
    suite.enqueue(all.clone()).await;
    suite
        .settle(
            "Google 401 (access tokens expired)",
            |s: &Suite| format!("{} refreshes", s.fake.refresh_calls() - refreshes),
            0,
        )
        .await;

    // A transaction cut while it writes: the page rolls back, no token moves, the retry
    // converges.
    let undo = suite.slow_writes(suite.workspaces[0].id).await;
    suite.add_events(0, 30);
    suite.enqueue(0..1).await;
    let invocation = suite.invoke_in_background().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let cut = suite.db.connections_cut();
    let open = suite.db.cut_all();
    assert!(open > 0, "no database connection was open to cut");
    let (function, result) = invocation.await.unwrap();
    suite.functions.insert(0, function);
    eprintln!(
        "invocation with a cut connection: {:?}",
        result.map(|r| r.to_string())
    );
    suite.assert_no_token_ahead().await;
    sqlx::query(&undo).execute(&suite.pool).await.unwrap();
    suite
        .settle(
            "database connections cut mid-transaction",
            |s: &Suite| format!("{} connections", s.db.connections_cut() - cut),
            0,
        )
        .await;

    // The database gone for a few seconds while messages arrive.
    let refused = suite.db.connections_refused();
    suite.change_calendars(all.clone());
    suite.db.set_down(true);
    suite.enqueue(all.clone()).await;
    let drained = {
        let invocation = suite.invoke_in_background().await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        suite.db.set_down(false);
        invocation.await.unwrap()
    };
    suite.functions.insert(0, drained.0);
    suite
        .settle(
            "database unavailable for 3 s",
            |s: &Suite| {
                format!(
                    "{} connections refused",
                    s.db.connections_refused() - refused
                )
            },
            0,
        )
        .await;

    // The worker killed mid-batch: the batch comes back after the visibility timeout, what was
    // done is found done, the lease of the killed run does not block its redelivery.
    let undo = suite.slow_writes(suite.workspaces[1].id).await;
    suite.add_events(1, 30);
    suite.change_calendars(2..WORKSPACES);
    suite.enqueue(1..WORKSPACES).await;
    let pid = suite.functions[0].pid().unwrap();
    let invocation = suite.invoke_in_background().await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let (_, result) = invocation.await.unwrap();
    assert!(
        result.is_err(),
        "the killed invocation cannot have answered"
    );
    suite.assert_no_token_ahead().await;
    let restarted = suite.start_function().await;
    suite.functions.insert(0, restarted);
    sqlx::query(&undo).execute(&suite.pool).await.unwrap();
    suite
        .settle(
            "worker killed mid-batch",
            |_: &Suite| "1 process".to_owned(),
            0,
        )
        .await;

    // The same messages again (a producer retrying, SQS's at-least-once): each found done,
    // Google not called.
    suite.change_calendars(all.clone());
    let mut originals = Vec::new();
    for ws in &suite.workspaces {
        let dedup = Uuid::new_v4().to_string();
        let body = json!({ "ws_id": ws.id }).to_string();
        originals.push((ws.id.to_string(), dedup.clone(), body.clone()));
        suite.batch.push(
            send(
                &suite.sqs,
                &suite.queues.queue_url,
                &ws.id.to_string(),
                &dedup,
                &body,
            )
            .await,
        );
    }
    suite.drain().await;
    let calls = suite.fake.list_calls();
    // One round at a time: SQS drops a resend whose id is still in the queue.
    for _ in 0..3 {
        for (group, dedup, body) in &originals {
            suite
                .batch
                .push(send(&suite.sqs, &suite.queues.queue_url, group, dedup, body).await);
        }
        suite.drain().await;
    }
    suite
        .settle(
            "duplicate deliveries",
            |_: &Suite| format!("{} redeliveries", 3 * WORKSPACES),
            0,
        )
        .await;
    assert_eq!(
        suite.fake.list_calls(),
        calls,
        "a duplicate delivery called Google"
    );

    // invalid_grant: that workspace's message is dead with its error, the others succeed.
    suite.change_calendars(1..WORKSPACES);
    suite.fake.revoke(&suite.workspaces[0].account);
    suite.enqueue(all.clone()).await;
    suite
        .settle(
            "Google invalid_grant (grant revoked)",
            |_: &Suite| "1 account".to_owned(),
            1,
        )
        .await;

    // Bursts: hundreds of messages for one workspace, then one for each of many.
    suite.change_calendars(1..2);
    for _ in 0..200 {
        suite.enqueue(1..2).await;
    }
    suite
        .settle(
            "burst for one workspace",
            |_: &Suite| "200 messages".to_owned(),
            0,
        )
        .await;
    suite.add_workspaces(120, 3).await;
    let many = WORKSPACES..suite.workspaces.len();
    suite.enqueue(many.clone()).await;
    suite.change_calendars(many.clone());
    suite.enqueue(many).await;
    suite
        .settle(
            "burst over many workspaces",
            |_: &Suite| "240 messages".to_owned(),
            0,
        )
        .await;

    for function in suite.functions.drain(..) {
        function.stop().await.unwrap();
    }

    // Nothing secret in any log line or message.
    let log = std::fs::read_to_string(&suite.log).unwrap();
    assert!(
        log.matches("record processed").count() >= 400,
        "the log holds the run"
    );
    let mut secrets = suite.fake.tokens_handed_out();
    secrets.extend([CLIENT_SECRET.to_owned(), DB_PASSWORD.to_owned()]);
    let sends = suite.sent_through.sends();
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

    let rows: Vec<Vec<String>> = suite
        .lines
        .iter()
        .map(|l| {
            vec![
                l.fault.to_owned(),
                l.injected.clone(),
                l.messages.to_string(),
                l.outcome.clone(),
                format!("{:.1}", l.seconds),
            ]
        })
        .collect();
    eprintln!(
        "\n{}",
        jobs_cli::ops::table(
            &["fault", "injected", "messages", "outcome", "seconds"],
            &rows
        )
    );
}

/// Now in whole minutes, as calendar events are.
fn minute_now() -> chrono::DateTime<chrono::Utc> {
    use chrono::DurationRound as _;
    chrono::Utc::now()
        .duration_trunc(chrono::TimeDelta::minutes(1))
        .unwrap()
}
