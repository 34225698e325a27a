//! The whole system locally (`jobs local`, the README's first command), on small data: the real
//! function binaries behind local Runtime APIs, every orchestrator fired, every queue drained.
//! Afterwards every message is accounted for, Postgres matches the fake calendars, and the
//! summary agrees with `jobs.runs`. The changes made in Google after the drain reached Postgres
//! through the push path: one pushed sync each.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::time::Duration;

use integration_tests::sync_support::assert_mirrors;
use integration_tests::{
    attribute, build_function_binaries, dead_letters, send, sqs, workspace_root,
};
use local_stack::local::{self, Options};
use serde_json::{Value, json};
use shared::job_kind::JobKind;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_local_system_runs_every_task_end_to_end() {
    let bin_dir = build_function_binaries();
    let sqs = sqs().await;
    let pool = local_stack::connect().await.unwrap();

    // A message for a workspace that does not exist: it must end in the DLQ with its error.
    let poison_ws = Uuid::new_v4();
    let unified_url = std::env::var(JobKind::UnifiedSchedule.queue_url_var()).unwrap();
    let unified_dlq = shared::jobs::dead_letter::queue_url_of(&sqs, &unified_url)
        .await
        .unwrap();
    let poison_id = send(
        &sqs,
        &unified_url,
        &poison_ws.to_string(),
        &Uuid::new_v4().to_string(),
        &json!({ "ws_id": poison_ws }).to_string(),
    )
    .await;

    let options = Options {
        bin_dir,
        log_dir: workspace_root().join(".local/logs/test"),
        sync_workspaces: 2,
        events_per_calendar: 40,
        habits: 8,
        concurrency: 2,
        budget: Duration::from_secs(150),
        progress: false,
    };
    let (summary, fake) = local::run(&options).await.unwrap();
    eprintln!("{}", local::render(&summary));
    assert_eq!(summary.left_in_queues, 0, "every task queue was drained");

    // One change per calendar in Google after the drain, each synced by the one pushed sync
    // its notification enqueued; Postgres holds exactly what the fake calendars hold.
    assert_eq!(summary.push.seconds.len(), options.sync_workspaces);
    let pushed: Vec<(String, String)> = sqlx::query_as(
        "SELECT task, status FROM jobs.runs WHERE started_at >= $1 AND task <> 'orchestrator'",
    )
    .bind(summary.push.started_at)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        pushed,
        vec![("calendar-sync".to_owned(), "succeeded".to_owned()); options.sync_workspaces],
        "one pushed sync per change"
    );
    assert!(local::render(&summary).contains("changes made in Google"));
    for n in 0..options.sync_workspaces {
        assert_mirrors(
            &pool,
            local::sync_workspace(n),
            &fake,
            &local::account(n),
            "primary",
        )
        .await;
    }
    let habit_events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM public.habit_calendar_events h
         JOIN public.workspace_habits w ON w.id = h.habit_id WHERE w.ws_id = $1",
    )
    .bind(local::habit_workspace())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(habit_events > 0, "the habit workspace was scheduled");

    // Every message ended succeeded (or skipped as already done) or dead, and each dead one is
    // in its DLQ with its error.
    let runs: Vec<(String, String, String, Option<Value>)> = sqlx::query_as(
        "SELECT task, message_id, status, result FROM jobs.runs
         WHERE started_at >= $1 AND started_at < $2 AND task <> 'orchestrator'
         ORDER BY started_at",
    )
    .bind(summary.started_at)
    .bind(summary.push.started_at)
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut last: HashMap<String, (String, String)> = HashMap::new();
    for (task, message, status, _) in &runs {
        last.insert(message.clone(), (task.clone(), status.clone()));
    }
    for (message, (task, status)) in &last {
        assert!(
            ["succeeded", "skipped", "dead"].contains(&status.as_str()),
            "{task} message {message} ended {status}"
        );
    }
    assert_eq!(last[&poison_id].1, "dead");
    let letters = dead_letters(&sqs, &unified_dlq).await;
    let letter = letters
        .iter()
        .find(|l| attribute(l, "original_message_id").as_deref() == Some(poison_id.as_str()))
        .expect("the poison message is in the DLQ");
    assert!(
        attribute(letter, "error")
            .unwrap()
            .contains("does not exist")
    );

    // The summary's numbers are jobs.runs's.
    for line in &summary.tasks {
        let of_task = runs.iter().filter(|r| r.0 == line.task);
        let count = |status: &str| of_task.clone().filter(|r| r.2 == status).count() as i64;
        assert_eq!(
            (line.succeeded, line.failed, line.dead, line.skipped),
            (
                count("succeeded"),
                count("failed"),
                count("dead"),
                count("skipped")
            ),
            "{}",
            line.task
        );
        let number = |r: &Value, key: &str| r.get(key).and_then(Value::as_i64).unwrap_or(0);
        let synced: i64 = of_task
            .clone()
            .filter(|r| r.2 == "succeeded" && line.task.starts_with("calendar-"))
            .filter_map(|r| r.3.as_ref())
            .map(|r| number(r, "inserted") + number(r, "updated") + number(r, "deleted"))
            .sum();
        assert_eq!(line.events_synced, synced, "{}", line.task);
        assert_eq!(
            line.received,
            of_task.clone().count(),
            "{}: one run per delivery",
            line.task
        );
    }
    let sync = summary
        .tasks
        .iter()
        .find(|t| t.task == "calendar-sync")
        .unwrap();
    assert!(sync.succeeded >= 2, "{sync:?}");
    // Whichever sync of a workspace runs second finds little to write; the full sync always
    // lists the whole window, writing what is new and finding the rest unchanged.
    let full = summary
        .tasks
        .iter()
        .find(|t| t.task == "calendar-full-sync")
        .unwrap();
    let number = |r: &Value, key: &str| r.get(key).and_then(Value::as_i64).unwrap_or(0);
    let listed_and_stored: i64 = runs
        .iter()
        .filter(|r| r.0 == "calendar-full-sync" && r.2 == "succeeded")
        .filter_map(|r| r.3.as_ref())
        .map(|r| number(r, "inserted") + number(r, "updated") + number(r, "unchanged"))
        .sum();
    assert!(
        full.succeeded >= 2 && listed_and_stored >= 80,
        "{full:?}: {listed_and_stored} events listed and stored"
    );
    let unified = summary
        .tasks
        .iter()
        .find(|t| t.task == "unified-schedule")
        .unwrap();
    assert!(unified.dead >= 1 && unified.succeeded >= 1, "{unified:?}");
    assert!(local::render(&summary).contains("calendar-full-sync"));

    // No secret in any line the functions logged during the run.
    let mut secrets = fake.tokens_handed_out();
    secrets.push(local_stack::fake_google::CLIENT_SECRET.to_owned());
    let channels = fake.channels();
    assert_eq!(
        channels.len(),
        options.sync_workspaces,
        "one channel per calendar"
    );
    secrets.extend(channels.into_iter().map(|c| c.token));
    let mut lines = 0;
    for entry in std::fs::read_dir(&options.log_dir).unwrap() {
        let log = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        lines += log.lines().count();
        for secret in &secrets {
            assert!(!log.contains(secret.as_str()), "a secret is in a log line");
        }
    }
    assert!(lines > 20, "the functions logged the run ({lines} lines)");
}
