//! Building the binaries that suites and benchmarks run as processes.

// Test support: a failed set-up step should stop the test with its message.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

/// The workspace's root directory.
pub fn workspace_root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds binaries and returns their directory. Release (for benchmarks): the named packages
/// with the Lambda profile. Debug: bins and tests together, which resolve the same features as
/// the test command, so the dependencies `cargo test` just built are reused and only the
/// binaries are linked (`--all-targets` would also build the benchmarks in release mode).
pub fn build_binaries(release: bool, packages: &[&str]) -> std::path::PathBuf {
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = std::process::Command::new(cargo);
    command.current_dir(&root).args(["build", "--quiet"]);
    if release {
        command.arg("--release");
        for package in packages {
            command.args(["-p", package]);
        }
    } else {
        command.args(["--workspace", "--bins", "--tests"]);
    }
    let status = command.status().expect("running cargo build");
    assert!(status.success(), "building the binaries failed");
    root.join("target")
        .join(if release { "release" } else { "debug" })
}

/// The debug function binaries, built as the test command builds them.
pub fn build_function_binaries() -> std::path::PathBuf {
    build_binaries(false, &[])
}

/// Every `.rs` file under `dir`, for the suites that read the sources.
pub fn rust_files(dir: &std::path::Path, into: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}
