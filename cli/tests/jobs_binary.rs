//! The `jobs` binary's argument handling: bad input is refused with a message naming the
//! problem, before anything is sent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn jobs(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_jobs"))
        .args(args)
        // Nothing here may reach a queue or a database.
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("DATABASE_URL")
        .output()
        .expect("running jobs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn enqueue_refuses_an_invalid_payload_naming_the_field() {
    let ws = "0de00000-0000-4000-8000-000000000001";
    let (code, stderr) = jobs(&[
        "enqueue",
        "unified-schedule",
        &format!(r#"{{"ws_id":"{ws}","windowDays":3}}"#),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("windowDays"), "{stderr}");
    let (code, stderr) = jobs(&["enqueue", "calendar-sync", r#"{"ws_id":"not-a-uuid"}"#]);
    assert_eq!(code, 2);
    assert!(stderr.contains("ws_id"), "{stderr}");
}

#[test]
fn unknown_tasks_and_statuses_are_refused() {
    let (code, stderr) = jobs(&["enqueue", "calendar", "{}"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown task `calendar`"), "{stderr}");
    let (code, stderr) = jobs(&["runs", "--status", "done"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("--status done"), "{stderr}");
}
