//! Fault injection for the scheduling functions: the `unified-schedule` and `schedule-task`
//! binaries, run the way the local system runs them (local Runtime API, the event source
//! mapping's rules, FIFO queues with redrive), through database connections cut
//! mid-transaction, the database refusing connections, the worker killed mid-batch, and
//! duplicate deliveries.
//!
//! Every fault runs on fresh workspaces, each with a twin seeded identically. After the fault
//! the queues are drained and each workspace's calendar must equal what one clean run produces:
//! the same scheduling code run in-process on the twin, at the instant the binary's successful
//! run recorded (`now` in its result). Right after a cut or a kill, before any retry, the
//! calendar must still be the seeded one (nothing half-applied). No run may be left `running`,
//! no lease held, no message lost.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use shared::db::Db;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use integration_tests::db_proxy::DbProxy;
use integration_tests::fault_stack::{
    Background, Fleet, Line, assert_nothing_left_running, proxied_database, slow_writes,
    succeeded_result, table, tally,
};
use integration_tests::{
    Queues, build_function_binaries, event, fifo_queues, send, sqs, workspace, workspace_root,
};
use local_stack::event_source::EventSource;
use serde_json::json;
use uuid::Uuid;

const INVOCATION: Duration = Duration::from_secs(8);
const VISIBILITY_SECONDS: u32 = 10;
/// Workspaces per task and fault.
const WORKSPACES: usize = 3;
const DB_PASSWORD: &str = "schedule-faults-db-password-51c7";
const EVENTS: &str = "public.workspace_calendar_events";
const WINDOW_DAYS: u32 = 7;

/// The two scheduling tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Task {
    Unified,
    Legacy,
}

impl Task {
    const ALL: [Task; 2] = [Task::Unified, Task::Legacy];

    fn function(self) -> &'static str {
        match self {
            Task::Unified => "unified-schedule",
            Task::Legacy => "schedule-task",
        }
    }

    fn queue_variable(self) -> &'static str {
        match self {
            Task::Unified => "UNIFIED_SCHEDULE_QUEUE_URL",
            Task::Legacy => "SCHEDULE_TASK_QUEUE_URL",
        }
    }

    fn body(self, ws: Uuid) -> String {
        match self {
            Task::Unified => json!({ "ws_id": ws, "windowDays": WINDOW_DAYS }),
            Task::Legacy => json!({ "ws_id": ws }),
        }
        .to_string()
    }
}

/// A workspace under fault and its twin, seeded identically.
#[derive(Debug, Clone, Copy)]
struct Pair {
    task: Task,
    ws: Uuid,
    twin: Uuid,
}

/// An event as compared: title, start, end, locked.
type Shape = (String, DateTime<Utc>, DateTime<Utc>, bool);

/// Every event of `ws`, without ids, in order.
async fn calendar(pool: &Db, ws: Uuid) -> Vec<Shape> {
    sqlx::query_as(
        "SELECT title, start_at, end_at, locked FROM public.workspace_calendar_events
         WHERE ws_id = $1 ORDER BY start_at, end_at, title, locked",
    )
    .bind(ws)
    .fetch_all(pool)
    .await
    .unwrap()
}

struct Suite {
    pool: Db,
    sqs: aws_sdk_sqs::Client,
    db: DbProxy,
    queues: [Queues; 2],
    fleets: [Fleet; 2],
    log: std::path::PathBuf,
    /// Inputs are placed from here: the binaries read the process clock.
    seeded_from: DateTime<Utc>,
    pairs: Vec<Pair>,
    /// Message ids of the current fault, per task.
    batch: [Vec<String>; 2],
    lines: Vec<Line>,
    began: Instant,
}

impl Suite {
    async fn start() -> Suite {
        let binaries = build_function_binaries();
        let pool = local_stack::connect().await.unwrap();
        let sqs = sqs().await;
        let (db, url) = proxied_database(DB_PASSWORD).await;
        let log = workspace_root().join(format!(
            ".local/logs/test/schedule-faults-{}.log",
            Uuid::new_v4().simple()
        ));
        let mut queues = Vec::new();
        let mut fleets = Vec::new();
        for task in Task::ALL {
            let q = fifo_queues(&sqs, VISIBILITY_SECONDS).await;
            let mut env = local_stack::local::stack_env();
            env.extend(
                [
                    ("DATABASE_URL", url.as_str()),
                    (
                        "DATABASE_CONNECTION_MODE",
                        integration_tests::connection_mode().name(),
                    ),
                    (task.queue_variable(), q.queue_url.as_str()),
                    ("DEAD_LETTER_QUEUE_URL", q.dlq_url.as_str()),
                    ("DEADLINE_MARGIN_SECONDS", "1"),
                    ("RUST_LOG", "debug"),
                ]
                .map(|(k, v)| (k.to_owned(), v.to_owned())),
            );
            let source = EventSource::new(sqs.clone(), &q.queue_url).await.unwrap();
            let binary = binaries.join(task.function());
            fleets.push(
                Fleet::start(&binary, task.function(), env, &log, source, 2, INVOCATION).await,
            );
            queues.push(q);
        }
        Suite {
            pool,
            sqs,
            db,
            queues: queues.try_into().unwrap(),
            fleets: fleets.try_into().unwrap(),
            log,
            seeded_from: Utc::now(),
            pairs: Vec::new(),
            batch: [Vec::new(), Vec::new()],
            lines: Vec::new(),
            began: Instant::now(),
        }
    }

    fn index(task: Task) -> usize {
        Task::ALL.iter().position(|t| *t == task).unwrap()
    }

    /// Habits for unified-schedule, at fixed local times in Berlin.
    async fn seed_habits(&self, ws: Uuid) {
        for (name, minutes, ideal) in [
            ("Run", 30, "07:30"),
            ("Lunch walk", 20, "12:15"),
            ("Read", 45, "18:00"),
            ("Stretch", 15, "21:30"),
        ] {
            sqlx::query(
                "INSERT INTO public.workspace_habits (ws_id, name, duration_minutes, ideal_time, start_date)
                 VALUES ($1, $2, $3, $4::time, '2026-01-01')",
            )
            .bind(ws)
            .bind(name)
            .bind(minutes)
            .bind(ideal)
            .execute(&self.pool)
            .await
            .unwrap();
        }
    }

    /// Unlocked events scattered over the coming weeks (and a locked one) for schedule-task to
    /// pack into working hours.
    async fn seed_events(&self, ws: Uuid) {
        let from = self.seeded_from;
        for i in 0..24i64 {
            let start = from + chrono::Duration::hours(7 + i * 13);
            let minutes = 15 + (i % 4) * 15;
            event(
                &self.pool,
                ws,
                start,
                start + chrono::Duration::minutes(minutes),
                false,
            )
            .await;
        }
        let locked = from + chrono::Duration::days(1);
        event(
            &self.pool,
            ws,
            locked,
            locked + chrono::Duration::hours(2),
            true,
        )
        .await;
    }

    /// Fresh pairs for every task, seeded.
    async fn new_pairs(&mut self) -> Vec<Pair> {
        let mut pairs = Vec::new();
        for task in Task::ALL {
            for _ in 0..WORKSPACES {
                let ws = workspace(&self.pool, Some("Europe/Berlin")).await;
                let twin = workspace(&self.pool, Some("Europe/Berlin")).await;
                for id in [ws, twin] {
                    match task {
                        Task::Unified => self.seed_habits(id).await,
                        Task::Legacy => self.seed_events(id).await,
                    }
                }
                pairs.push(Pair { task, ws, twin });
            }
        }
        self.pairs.extend(pairs.iter().copied());
        pairs
    }

    /// Sends one message per pair, keeping `(group, dedup, body)` of each for resending.
    async fn enqueue(&mut self, pairs: &[Pair]) -> Vec<(Task, String, String, String)> {
        let mut sent = Vec::new();
        for pair in pairs {
            let group = pair.ws.to_string();
            let dedup = Uuid::new_v4().to_string();
            let body = pair.task.body(pair.ws);
            let i = Self::index(pair.task);
            let id = send(&self.sqs, &self.queues[i].queue_url, &group, &dedup, &body).await;
            self.batch[i].push(id);
            sent.push((pair.task, group, dedup, body));
        }
        sent
    }

    async fn drain(&mut self) {
        let [unified, legacy] = &mut self.fleets;
        tokio::join!(unified.drain(), legacy.drain());
    }

    /// The calendar of every pair is still as seeded (the twin is never run before the end).
    async fn assert_untouched(&self, pairs: &[Pair], fault: &str) {
        for pair in pairs {
            assert_eq!(
                calendar(&self.pool, pair.ws).await,
                calendar(&self.pool, pair.twin).await,
                "{fault}: {} half-applied a schedule to {}",
                pair.task.function(),
                pair.ws
            );
        }
    }

    /// Drains, then checks each pair against one clean run and every invariant.
    async fn settle(&mut self, fault: &'static str, injected: String, pairs: &[Pair]) {
        self.drain().await;
        let ws_ids: Vec<Uuid> = self.pairs.iter().map(|p| p.ws).collect();
        assert_nothing_left_running(&self.pool, &ws_ids, fault).await;

        let mut outcomes = Vec::new();
        let mut messages = 0;
        for task in Task::ALL {
            let i = Self::index(task);
            let tally = tally(
                &self.pool,
                &self.sqs,
                &self.queues[i].dlq_url,
                &self.batch[i],
                fault,
            )
            .await;
            assert_eq!(
                tally.in_dlq,
                0,
                "{fault}: {} messages in the DLQ",
                task.function()
            );
            messages += self.batch[i].len();
            outcomes.push(format!("{}: {tally}", task.function()));
        }
        for pair in pairs {
            let now = self.worked_from(*pair).await;
            let expected = self.clean_run(*pair, now).await;
            assert!(
                !expected.is_empty(),
                "{fault}: the clean run placed nothing"
            );
            assert_eq!(
                calendar(&self.pool, pair.ws).await,
                expected,
                "{fault}: {} left {} different from one clean run at {now}",
                pair.task.function(),
                pair.ws
            );
        }
        self.lines.push(Line {
            fault,
            injected,
            messages,
            outcome: format!("{}; calendar = one clean run", outcomes.join("; ")),
            seconds: self.began.elapsed().as_secs_f64(),
        });
        eprintln!(
            "checked after {fault} ({:.1} s)",
            self.began.elapsed().as_secs_f64()
        );
        self.batch = [Vec::new(), Vec::new()];
        self.began = Instant::now();
    }

    /// The instant the successful run for `pair` worked from.
    async fn worked_from(&self, pair: Pair) -> DateTime<Utc> {
        let i = Self::index(pair.task);
        for message in &self.batch[i] {
            let Some(result) = succeeded_result(&self.pool, message).await else {
                continue;
            };
            if result["ws_id"] == json!(pair.ws) {
                return serde_json::from_value(result["now"].clone()).unwrap();
            }
        }
        panic!("no successful {} run for {}", pair.task.function(), pair.ws);
    }

    /// What one clean run at `now` makes of the twin.
    async fn clean_run(&self, pair: Pair, now: DateTime<Utc>) -> Vec<Shape> {
        match pair.task {
            Task::Unified => {
                unified_schedule::schedule_workspace(
                    &self.pool,
                    None,
                    pair.twin,
                    None,
                    WINDOW_DAYS,
                    now,
                )
                .await
                .unwrap();
            }
            Task::Legacy => {
                schedule_task::store::reschedule(&self.pool, pair.twin, now)
                    .await
                    .unwrap();
            }
        }
        calendar(&self.pool, pair.twin).await
    }

    /// Holds every write of the first pair of each task open long enough to be cut or killed.
    /// Returns those pairs and the statements that undo it.
    async fn slow_first_of_each(&self, pairs: &[Pair]) -> (Vec<Pair>, Vec<String>) {
        let mut slowed = Vec::new();
        let mut undo = Vec::new();
        for task in Task::ALL {
            let first = *pairs.iter().find(|p| p.task == task).unwrap();
            undo.push(slow_writes(&self.pool, EVENTS, first.ws).await);
            slowed.push(first);
        }
        (slowed, undo)
    }

    /// The next batch of each task invoked in the background.
    async fn invoke_both(&mut self) -> [Background; 2] {
        let [unified, legacy] = &mut self.fleets;
        [
            unified.invoke_in_background().await,
            legacy.invoke_in_background().await,
        ]
    }

    /// Waits for both background invocations; their answers do not matter here.
    async fn finish_both(&mut self, running: [Background; 2]) {
        for (fleet, background) in self.fleets.iter_mut().zip(running) {
            let _ = fleet.finish(background).await;
        }
    }

    async fn run_all(&self, statements: &[String]) {
        for statement in statements {
            sqlx::query(statement).execute(&self.pool).await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scheduling_survives_faults_and_leaves_one_clean_runs_calendar() {
    let started = Instant::now();
    let mut suite = Suite::start().await;
    eprintln!("set up in {:.1} s", started.elapsed().as_secs_f64());
    suite.began = Instant::now();

    let pairs = suite.new_pairs().await;
    suite.enqueue(&pairs).await;
    suite
        .settle("none (first run)", "-".to_owned(), &pairs)
        .await;

    // Connections cut while a schedule is being written: the transaction rolls back whole.
    let pairs = suite.new_pairs().await;
    let (slowed, undo) = suite.slow_first_of_each(&pairs).await;
    suite.enqueue(&pairs).await;
    let cut = suite.db.connections_cut();
    let running = suite.invoke_both().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        suite.db.cut_all() > 0,
        "no database connection was open to cut"
    );
    suite.finish_both(running).await;
    suite.run_all(&undo).await;
    suite.assert_untouched(&slowed, "connections cut").await;
    let injected = format!("{} connections", suite.db.connections_cut() - cut);
    suite
        .settle("database connections cut mid-transaction", injected, &pairs)
        .await;

    // The database refusing connections while messages arrive.
    let pairs = suite.new_pairs().await;
    let refused = suite.db.connections_refused();
    suite.db.set_down(true);
    suite.enqueue(&pairs).await;
    let running = suite.invoke_both().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    suite.db.set_down(false);
    suite.finish_both(running).await;
    let injected = format!(
        "{} connections refused",
        suite.db.connections_refused() - refused
    );
    suite
        .settle("database unavailable for 3 s", injected, &pairs)
        .await;

    // Each worker killed mid-batch, inside its write: the batch returns after the visibility
    // timeout and the lease of the killed run does not block it.
    let pairs = suite.new_pairs().await;
    let (slowed, undo) = suite.slow_first_of_each(&pairs).await;
    suite.enqueue(&pairs).await;
    let [unified, legacy] = suite.invoke_both().await;
    let after = Duration::from_millis(700);
    {
        let [u, l] = &mut suite.fleets;
        tokio::join!(u.kill_first(unified, after), l.kill_first(legacy, after));
    }
    suite.assert_untouched(&slowed, "worker killed").await;
    suite.run_all(&undo).await;
    suite
        .settle("worker killed mid-batch", "2 processes".to_owned(), &pairs)
        .await;

    // The same messages again, three times: found done, the calendar not rewritten.
    let pairs = suite.new_pairs().await;
    let originals = suite.enqueue(&pairs).await;
    suite.drain().await;
    let mut before = Vec::new();
    for pair in &pairs {
        before.push(calendar(&suite.pool, pair.ws).await);
    }
    for _ in 0..3 {
        for (task, group, dedup, body) in &originals {
            let i = Suite::index(*task);
            let id = send(&suite.sqs, &suite.queues[i].queue_url, group, dedup, body).await;
            suite.batch[i].push(id);
        }
        suite.drain().await;
    }
    for (pair, before) in pairs.iter().zip(&before) {
        assert_eq!(
            &calendar(&suite.pool, pair.ws).await,
            before,
            "a duplicate delivery changed the calendar"
        );
    }
    let skipped: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs.runs WHERE ws_id = ANY($1) AND status = 'skipped'",
    )
    .bind(pairs.iter().map(|p| p.ws).collect::<Vec<_>>())
    .fetch_one(&suite.pool)
    .await
    .unwrap();
    assert_eq!(
        skipped,
        3 * pairs.len() as i64,
        "every redelivery found done"
    );
    suite
        .settle(
            "duplicate deliveries",
            format!("{} redeliveries", 3 * pairs.len()),
            &pairs,
        )
        .await;

    for fleet in &mut suite.fleets {
        fleet.stop().await;
    }
    let log = std::fs::read_to_string(&suite.log).unwrap();
    assert!(
        log.matches("record processed").count() >= 8 * WORKSPACES,
        "the log holds the runs"
    );
    assert!(
        !log.contains(DB_PASSWORD),
        "the database password is in the log"
    );
    eprintln!("\n{}", table(&suite.lines));
}
