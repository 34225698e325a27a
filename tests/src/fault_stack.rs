//! What the fault suites share: a function binary run the way `jobs local` runs it (instances
//! behind local Runtime APIs, fed by the local event source), Postgres reached through a proxy
//! that can cut or refuse connections, a way to hold a transaction open long enough to cut it,
//! and the invariants checked after every fault.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::SqsBatchResponse;
use local_stack::event_source::EventSource;
use local_stack::runtime_api::LocalFunction;
use shared::db::Db;
use uuid::Uuid;

use crate::db_proxy::DbProxy;
use crate::{attribute, dead_letters};

/// How long one fault may take to drain.
const DRAIN_LIMIT: Duration = Duration::from_secs(150);

/// Instances of one function binary and the event source feeding them.
#[derive(Debug)]
pub struct Fleet {
    pub name: &'static str,
    pub source: EventSource,
    pub functions: Vec<LocalFunction>,
    binary: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    invocation: Duration,
}

impl Fleet {
    /// Starts `instances` of `binary` as function `name`, each invocation given `invocation`.
    pub async fn start(
        binary: &Path,
        name: &'static str,
        env: Vec<(String, String)>,
        log: &Path,
        source: EventSource,
        instances: usize,
        invocation: Duration,
    ) -> Fleet {
        let mut fleet = Fleet {
            name,
            source,
            functions: Vec::new(),
            binary: binary.to_owned(),
            env,
            log: log.to_owned(),
            invocation,
        };
        for _ in 0..instances {
            let function = fleet.start_function().await;
            fleet.functions.push(function);
        }
        fleet
    }

    /// One more instance, initialised.
    pub async fn start_function(&self) -> LocalFunction {
        let mut function = LocalFunction::start(&self.binary, self.name, &self.env, &self.log)
            .await
            .unwrap();
        function.ready(Duration::from_secs(30)).await.unwrap();
        function
    }

    /// Polls and invokes with every instance until nothing is visible or in flight.
    pub async fn drain(&mut self) {
        let deadline = Instant::now() + DRAIN_LIMIT;
        let invocation = self.invocation;
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
                    match function.invoke_batch(&event, invocation).await {
                        Ok(response) => {
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

    /// Invokes the next visible batch with the first instance in the background; `finish`
    /// puts the instance back.
    pub async fn invoke_in_background(&mut self) -> Background {
        let event = self.source.poll().await.unwrap().expect("a visible batch");
        let mut function = self.functions.remove(0);
        let pid = function.pid().unwrap();
        let source = self.source.clone();
        let invocation = self.invocation;
        Background(
            tokio::spawn(async move {
                let result = function
                    .invoke(&serde_json::to_value(&event).unwrap(), invocation)
                    .await;
                if let Ok(value) = &result {
                    let response: SqsBatchResponse = serde_json::from_value(value.clone()).unwrap();
                    source.settle(&event, &response).await.unwrap();
                }
                (function, result)
            }),
            pid,
        )
    }

    /// Waits for `background` and puts its instance back first in line.
    pub async fn finish(&mut self, background: Background) -> anyhow::Result<serde_json::Value> {
        let (function, result) = background.0.await.unwrap();
        self.functions.insert(0, function);
        result
    }

    /// Kills the first instance with SIGKILL while `background` runs on it, checks that the
    /// invocation got no answer, and starts a fresh instance in its place.
    pub async fn kill_first(&mut self, background: Background, after: Duration) {
        let pid = background.1;
        tokio::time::sleep(after).await;
        let killed = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let (_, result) = background.0.await.unwrap();
        assert!(
            result.is_err(),
            "the killed invocation cannot have answered"
        );
        let restarted = self.start_function().await;
        self.functions.insert(0, restarted);
    }

    /// Stops every instance.
    pub async fn stop(&mut self) {
        for function in self.functions.drain(..) {
            function.stop().await.unwrap();
        }
    }
}

/// A batch being invoked in the background, and the pid of the instance running it.
#[derive(Debug)]
pub struct Background(
    tokio::task::JoinHandle<(LocalFunction, anyhow::Result<serde_json::Value>)>,
    u32,
);

/// A proxy in front of the test database (or of the pooler, in the pooled pass) and the URL
/// that reaches Postgres through it, with `password` in it (the local cluster and the pooler
/// trust local connections; the password only has to stay out of the logs). The workers are
/// given [`crate::connection_mode`] with it.
pub async fn proxied_database(password: &str) -> (DbProxy, String) {
    let mut url = reqwest::Url::parse(&std::env::var("DATABASE_URL").unwrap()).unwrap();
    if let Some(pooler) = crate::pooler_url() {
        let pooler = reqwest::Url::parse(&pooler).unwrap();
        url.set_host(pooler.host_str()).unwrap();
        url.set_port(pooler.port()).unwrap();
    }
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let db = DbProxy::start(&upstream).await;
    let (host, port) = db.address.rsplit_once(':').unwrap();
    url.set_host(Some(host)).unwrap();
    url.set_port(Some(port.parse().unwrap())).unwrap();
    url.set_password(Some(password)).unwrap();
    (db, url.to_string())
}

/// Slows every row written for `ws_id` into `table` inside Postgres, so a transaction is open
/// long enough to be cut or killed. Returns the statement that removes it.
pub async fn slow_writes(pool: &Db, table: &str, ws_id: Uuid) -> String {
    let name = format!("fault_suite_slow_{}", ws_id.simple());
    sqlx::query(
        "CREATE OR REPLACE FUNCTION public.fault_suite_slow_write() RETURNS trigger
         LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.05); RETURN NEW; END $$",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(&format!(
        "CREATE TRIGGER {name} BEFORE INSERT OR UPDATE ON {table}
         FOR EACH ROW WHEN (NEW.ws_id = '{ws_id}') EXECUTE FUNCTION public.fault_suite_slow_write()"
    ))
    .execute(pool)
    .await
    .unwrap();
    format!("DROP TRIGGER {name} ON {table}")
}

/// No run of `ws_ids` is left `running` and no lease of theirs is still held.
pub async fn assert_nothing_left_running(pool: &Db, ws_ids: &[Uuid], fault: &str) {
    let running: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs.runs WHERE ws_id = ANY($1) AND status = 'running'",
    )
    .bind(ws_ids)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(running, 0, "{fault}: runs left running after the drain");
    let held: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs.leases WHERE ws_id = ANY($1) AND expires_at > now()",
    )
    .bind(ws_ids)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(held, 0, "{fault}: leases still held after the drain");
}

/// What became of a fault's messages.
#[derive(Debug, Default)]
pub struct Tally {
    pub succeeded: usize,
    pub skipped: usize,
    pub in_dlq: usize,
    /// Failed attempts before the last one.
    pub retried: usize,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} succeeded, {} already done, {} in DLQ; {} failed attempts",
            self.succeeded, self.skipped, self.in_dlq, self.retried
        )
    }
}

/// Every message: its last run succeeded (or found it done), or it is in the DLQ at
/// `dlq_url` with its error.
pub async fn tally(
    pool: &Db,
    sqs: &aws_sdk_sqs::Client,
    dlq_url: &str,
    messages: &[String],
    fault: &str,
) -> Tally {
    let letters = dead_letters(sqs, dlq_url).await;
    let dead: HashMap<String, String> = letters
        .iter()
        .filter_map(|l| {
            let original = attribute(l, "original_message_id")
                .or_else(|| l.message_id().map(str::to_owned))?;
            Some((original, attribute(l, "error").unwrap_or_default()))
        })
        .collect();
    let mut tally = Tally::default();
    for message in messages {
        let runs: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT status, error FROM jobs.runs WHERE message_id = $1 ORDER BY started_at, finished_at",
        )
        .bind(message)
        .fetch_all(pool)
        .await
        .unwrap();
        tally.retried += runs.iter().filter(|r| r.0 == "failed").count();
        match runs.last().map(|r| r.0.as_str()) {
            Some("succeeded") => tally.succeeded += 1,
            Some("skipped") => tally.skipped += 1,
            _ => {
                let error = dead.get(message).unwrap_or_else(|| {
                    panic!(
                        "{fault}: message {message} neither succeeded nor is in the DLQ ({runs:?})"
                    )
                });
                let error = Some(error.as_str())
                    .filter(|e| !e.is_empty())
                    .or_else(|| runs.last().and_then(|r| r.1.as_deref()));
                assert!(
                    error.is_some_and(|e| !e.is_empty()),
                    "{fault}: dead letter {message} has no error"
                );
                tally.in_dlq += 1;
            }
        }
    }
    tally
}

/// The result of the run that did the work of `message` (its last succeeded run).
pub async fn succeeded_result(pool: &Db, message: &str) -> Option<serde_json::Value> {
    sqlx::query_scalar(
        "SELECT result FROM jobs.runs WHERE message_id = $1 AND status = 'succeeded'
         ORDER BY finished_at DESC LIMIT 1",
    )
    .bind(message)
    .fetch_optional(pool)
    .await
    .unwrap()
    .flatten()
}

/// One line of a fault suite's printed table.
#[derive(Debug)]
pub struct Line {
    pub fault: &'static str,
    pub injected: String,
    pub messages: usize,
    pub outcome: String,
    pub seconds: f64,
}

/// The table of `lines`, as the suites print it.
pub fn table(lines: &[Line]) -> String {
    let rows: Vec<Vec<String>> = lines
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
    local_stack::table::table(
        &["fault", "injected", "messages", "outcome", "seconds"],
        &rows,
    )
}
