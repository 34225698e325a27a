//! The crates' layering, read from `cargo metadata`: every dependency between workspace crates
//! points down (shared ← google-sync ← functions ← local-stack ← cli ← tests), so there is no
//! cycle and no function depends on another; the Google sync code (and its HTTP client) reaches
//! only the two sync functions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use integration_tests::workspace_root;

/// Each workspace crate's layer; a crate may depend only on crates of a lower layer.
fn layer(name: &str, manifest: &str) -> u8 {
    match name {
        "shared" => 0,
        "google-sync" => 1,
        "local-stack" => 3,
        "jobs-cli" => 4,
        "integration-tests" => 5,
        "hello-lambda" => 0,
        _ if manifest.contains("/functions/") => 2,
        _ => panic!("{name} ({manifest}) has no layer: add it here and to the README's layout"),
    }
}

/// Workspace crate → (its manifest, the crates it depends on: workspace ones and all others).
fn graph() -> BTreeMap<String, (String, BTreeSet<String>)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .unwrap();
    assert!(output.status.success(), "cargo metadata failed");
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|package| {
            let deps = package["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .collect();
            (
                package["name"].as_str().unwrap().to_owned(),
                (package["manifest_path"].as_str().unwrap().to_owned(), deps),
            )
        })
        .collect()
}

#[test]
fn workspace_dependencies_only_point_down() {
    let graph = graph();
    assert!(graph.len() >= 10, "the workspace's crates were read");
    let mut upward = Vec::new();
    for (name, (manifest, deps)) in &graph {
        for dep in deps {
            if let Some((dep_manifest, _)) = graph.get(dep)
                && layer(dep, dep_manifest) >= layer(name, manifest)
            {
                upward.push(format!("{name} -> {dep}"));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "dependencies that do not point down: {upward:?}"
    );
}

#[test]
fn only_the_sync_functions_use_the_google_sync_crate_and_its_http_client() {
    let graph = graph();
    let users = |crate_name: &str| -> BTreeSet<&str> {
        graph
            .iter()
            .filter(|(name, (_, deps))| *name != "integration-tests" && deps.contains(crate_name))
            .map(|(name, _)| name.as_str())
            .collect()
    };
    assert_eq!(
        users("google-sync"),
        BTreeSet::from(["calendar-full-sync", "calendar-sync"])
    );
    // Besides the sync code, only the local stand-ins (never deployed): the fake Google Calendar
    // POSTs its push notifications with it.
    assert_eq!(
        users("reqwest"),
        BTreeSet::from(["google-sync", "local-stack"])
    );
}

#[test]
fn the_code_reaches_postgres_only_through_shared_db() {
    // Design §14.1: `Db` and `Tx` make every query unnamed and pin it in transaction mode. A
    // raw pool or connection elsewhere would bypass that (and fail the pooled pass only where a
    // suite happens to reach it): only `shared::db`, and migrations (which need a session), may
    // hold one.
    let root = workspace_root();
    let allowed = ["shared/src/db.rs", "shared/src/migrate.rs"];
    let raw = [
        "PgPool",
        "PgConnection",
        "PgPoolOptions",
        "Transaction<",
        "pool().",
    ];
    let mut files = Vec::new();
    for dir in [
        "shared/src",
        "google-sync/src",
        "functions",
        "cli/src",
        "local-stack/src",
    ] {
        integration_tests::rust_files(&root.join(dir), &mut files);
    }
    assert!(
        files.len() > 20,
        "the sources were not found under {}",
        root.display()
    );
    let mut found = Vec::new();
    for file in files {
        let relative = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if allowed.contains(&relative.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if let Some(word) = raw.iter().find(|w| line.contains(*w)) {
                found.push(format!("{relative}:{}: {word}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "reach Postgres through shared::db::{{Db, Tx}} instead:\n{}",
        found.join("\n")
    );
}
