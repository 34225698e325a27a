//! Cold-start benchmark: each function binary is started against a local Lambda Runtime API
//! (`local_stack::runtime_api`), and its init time (process start to its first request for an
//! event) and peak memory after init (VmHWM) are compared with a hello-world `lambda_runtime`
//! binary built the same way, measured alternately in the same run (median of 9 starts).
//!
//! A second pass starts each function as the template deploys it: the database URL and the
//! Google client secret named by `*_SECRET_ID` and read at init from Secrets Manager (moto's,
//! in the local stack), and compares its init with hello-world plus the measured round trip of
//! one secret read (design §14.4).
//!
//! `scripts/bench.sh cold-start` builds the release binaries (the Lambda profile, for this
//! machine's architecture) and runs it. Under `cargo test` it runs once on the debug binaries.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use local_stack::runtime_api::LocalFunction;

const FUNCTIONS: [&str; 6] = [
    "orchestrator",
    "calendar-webhook",
    "calendar-sync",
    "calendar-full-sync",
    "schedule-task",
    "unified-schedule",
];

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let profile = if full { "release" } else { "debug" };
    let packages: Vec<&str> = std::iter::once("hello-lambda").chain(FUNCTIONS).collect();
    let bin_dir = integration_tests::build_binaries(full, &packages);
    let rounds = if full { 9 } else { 1 };
    let logs = root.join(".local/logs/cold-start");

    // Settings every function's config accepts; nothing is contacted during init.
    let env: Vec<(String, String)> = [
        ("DATABASE_URL", "postgres://bench@127.0.0.1:1/bench"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
        ("CALENDAR_SYNC_QUEUE_URL", "http://127.0.0.1:1/q1.fifo"),
        ("CALENDAR_FULL_SYNC_QUEUE_URL", "http://127.0.0.1:1/q2.fifo"),
        ("SCHEDULE_TASK_QUEUE_URL", "http://127.0.0.1:1/q3.fifo"),
        ("UNIFIED_SCHEDULE_QUEUE_URL", "http://127.0.0.1:1/q4.fifo"),
        ("DEAD_LETTER_QUEUE_URL", "http://127.0.0.1:1/dlq.fifo"),
        ("GOOGLE_CLIENT_ID", "bench"),
        ("GOOGLE_CLIENT_SECRET", "bench"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();

    let mut samples: Vec<(&str, Vec<Duration>, Vec<u64>)> = std::iter::once("hello-lambda")
        .chain(FUNCTIONS)
        .map(|name| (name, Vec::new(), Vec::new()))
        .collect();
    for _ in 0..rounds {
        for (name, inits, memory) in &mut samples {
            let (init, peak) = start_once(&bin_dir.join(*name), name, &env, &logs).await;
            inits.push(init);
            memory.push(peak);
        }
    }
    let median_init = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let median_kib = |v: &mut Vec<u64>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    let (_, hello_init, hello_mem) = &mut samples[0];
    let (base_init, base_mem) = (median_init(hello_init), median_kib(hello_mem));
    println!(
        "cold start ({profile} binaries, median of {rounds}), ratios to hello-lambda built the same way:"
    );
    println!(
        "  {:<20} {:>9} {:>7} {:>10} {:>7}",
        "function", "init ms", "ratio", "peak MiB", "ratio"
    );
    let mut rows = Vec::new();
    for (name, inits, memory) in &mut samples {
        let (init, mem) = (median_init(inits), median_kib(memory));
        if *name != "hello-lambda" {
            rows.push(format!(
                "| cold start: {name} init vs hello-world | {:.2} ms vs {:.2} ms | {:.2}× |\n\
                 | peak memory: {name} vs hello-world | {:.1} MiB vs {:.1} MiB | {:.2}× |",
                init.as_secs_f64() * 1000.0,
                base_init.as_secs_f64() * 1000.0,
                init.as_secs_f64() / base_init.as_secs_f64(),
                mem as f64 / 1024.0,
                base_mem as f64 / 1024.0,
                mem as f64 / base_mem as f64
            ));
        }
        println!(
            "  {:<20} {:>9.2} {:>6.2}x {:>10.1} {:>6.2}x",
            name,
            init.as_secs_f64() * 1000.0,
            init.as_secs_f64() / base_init.as_secs_f64(),
            mem as f64 / 1024.0,
            mem as f64 / base_mem as f64
        );
    }
    for row in rows {
        println!("{row}");
    }

    // As deployed: the secrets named, read at init from the local stack's Secrets Manager.
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL: the local stack (scripts/bench.sh starts it)");
    let (database_secret, google_secret) = create_secrets().await;
    let mut with_secrets: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "DATABASE_URL" | "GOOGLE_CLIENT_SECRET" | "AWS_ENDPOINT_URL"
            )
        })
        .cloned()
        .collect();
    with_secrets.extend([
        ("AWS_ENDPOINT_URL".to_owned(), endpoint.clone()),
        ("DATABASE_URL_SECRET_ID".to_owned(), database_secret.clone()),
        ("GOOGLE_CLIENT_SECRET_SECRET_ID".to_owned(), google_secret),
    ]);
    let mut trips = Vec::new();
    let mut inits: Vec<(&str, Vec<Duration>)> =
        FUNCTIONS.iter().map(|f| (*f, Vec::new())).collect();
    for _ in 0..rounds {
        trips.push(secret_round_trip(&database_secret).await);
        for (name, samples) in &mut inits {
            let (init, _) = start_once(&bin_dir.join(*name), name, &with_secrets, &logs).await;
            samples.push(init);
        }
    }
    let trip = median_init(&mut trips);
    println!(
        "with secrets read at init: one secret read from a new client in this (warm) process takes {:.2} ms (median)",
        trip.as_secs_f64() * 1000.0
    );
    for (name, samples) in &mut inits {
        let init = median_init(samples);
        // The function's own time reading its secrets (all of them, concurrently), as it logs
        // it: the round trip as a cold process pays it.
        let mut reads = secret_reads(&logs.join(format!("{name}.log")), rounds);
        let read = median_init(&mut reads);
        let bound = base_init.mul_f64(1.5) + read;
        println!(
            "| cold start with secrets: {name} init vs 1.5 × hello-world + its secret read ({:.2} ms) | \
             {:.2} ms vs {:.2} ms | {:.2}× |",
            read.as_secs_f64() * 1000.0,
            init.as_secs_f64() * 1000.0,
            bound.as_secs_f64() * 1000.0,
            init.as_secs_f64() / bound.as_secs_f64()
        );
    }
}

/// The last `rounds` secret-read times a function logged (`elapsed_ms` of "secrets read").
fn secret_reads(log: &Path, rounds: usize) -> Vec<Duration> {
    let text = std::fs::read_to_string(log).unwrap();
    let reads: Vec<Duration> = text
        .lines()
        .filter(|line| line.contains("secrets read from Secrets Manager"))
        .filter_map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).ok()?;
            Some(Duration::from_secs_f64(
                value["elapsed_ms"].as_f64()? / 1000.0,
            ))
        })
        .collect();
    assert!(
        reads.len() >= rounds,
        "{} logged no secret reads",
        log.display()
    );
    reads[reads.len() - rounds..].to_vec()
}

async fn secrets_client() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&shared::aws::sdk_config().await)
}

/// The two secrets the functions read, under names of this run.
async fn create_secrets() -> (String, String) {
    let client = secrets_client().await;
    let suffix = std::process::id();
    let database = format!("cold-start/database-url-{suffix}");
    let google = format!("cold-start/google-client-secret-{suffix}");
    for (name, value) in [
        (&database, "postgres://bench@127.0.0.1:1/bench"),
        (&google, "bench"),
    ] {
        client
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .unwrap();
    }
    (database, google)
}

/// One secret read on a new client, as a cold function makes it.
async fn secret_round_trip(secret: &str) -> Duration {
    let started = std::time::Instant::now();
    let client = secrets_client().await;
    client
        .get_secret_value()
        .secret_id(secret)
        .send()
        .await
        .unwrap();
    started.elapsed()
}

async fn start_once(
    binary: &Path,
    name: &str,
    env: &[(String, String)],
    logs: &Path,
) -> (Duration, u64) {
    let mut function = LocalFunction::start(binary, name, env, &logs.join(format!("{name}.log")))
        .await
        .unwrap();
    let init = function.ready(Duration::from_secs(30)).await.unwrap();
    let peak_kib = integration_tests::peak_memory_kib(function.pid().unwrap());
    function.stop().await.unwrap();
    (init, peak_kib)
}
