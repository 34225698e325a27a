//! Static security checks over the code that runs in production (`shared`, `google-sync`, `functions`, `cli`):
//! SQL is only ever fixed text with bound parameters. The template's IAM and encryption rules
//! are checked by `scripts/check_template.py`; secrets in logs and tokens in queue messages by
//! the fault-injection and local-system suites, which capture both.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use integration_tests::workspace_root;

const SQL_STARTS: [&str; 11] = [
    "SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "CREATE", "DROP", "ALTER", "COPY", "TRUNCATE",
    "GRANT",
];
const QUERY_CALLS: [&str; 7] = [
    "query(",
    "query_as(",
    "query_scalar(",
    "query_as::<",
    "query_scalar::<",
    "copy_in_raw(",
    "execute(",
];

/// Where a piece of Rust source builds SQL from anything but literals: SQL text in a
/// `format!`/`write!`/`push_str`, a query built from a `String`, or the escape hatches.
fn sql_building(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (number, line) in source.lines().enumerate() {
        let at = |what: &str| format!("line {}: {what}: {}", number + 1, line.trim());
        for builder in ["format!(", "write!(", "writeln!(", "push_str("] {
            let mut rest = line;
            while let Some(index) = rest.find(builder) {
                rest = &rest[index + builder.len()..];
                let text = rest
                    .trim_start_matches(|c: char| c != '"')
                    .trim_start_matches('"')
                    .trim_start()
                    .to_uppercase();
                if SQL_STARTS
                    .iter()
                    .any(|k| text.starts_with(&format!("{k} ")))
                {
                    found.push(at("SQL built with a formatting macro"));
                }
            }
        }
        for call in QUERY_CALLS {
            if let Some(index) = line.find(call) {
                let argument = &line[index + call.len()..];
                if ["format!", ".to_string()", "String::", "&sql_text", " + "]
                    .iter()
                    .any(|bad| argument.contains(bad))
                {
                    found.push(at("a query from a built string"));
                }
            }
        }
        for hatch in ["raw_sql(", "QueryBuilder", "AssertSqlSafe"] {
            if line.contains(hatch) {
                found.push(at(hatch));
            }
        }
    }
    found
}

#[test]
fn production_sql_is_fixed_text_with_bound_parameters() {
    let root = workspace_root();
    let mut files = Vec::new();
    for dir in ["shared/src", "google-sync/src", "cli/src"] {
        integration_tests::rust_files(&root.join(dir), &mut files);
    }
    for function in std::fs::read_dir(root.join("functions")).unwrap() {
        integration_tests::rust_files(&function.unwrap().path().join("src"), &mut files);
    }
    assert!(
        files.len() > 30,
        "the scan found the sources ({})",
        files.len()
    );
    let mut findings = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).unwrap();
        // The migration runner runs the migration files (multi-statement text embedded at build
        // time, never built from input) and its own fixed bookkeeping: the simple protocol's
        // `raw_sql` is the only way to send several statements, and there only.
        let runs_migrations = file.ends_with("shared/src/migrate.rs");
        for finding in sql_building(&source) {
            if runs_migrations && finding.contains(": raw_sql(: ") {
                continue;
            }
            findings.push(format!("{}: {finding}", file.display()));
        }
    }
    assert!(findings.is_empty(), "{}", findings.join("\n"));
}

#[test]
fn the_check_catches_sql_built_from_strings() {
    for bad in [
        r#"let sql = format!("SELECT * FROM t WHERE id = {id}");"#,
        r#"sqlx::query(&format!("DELETE FROM t WHERE id = '{id}'"))"#,
        r#"sqlx::query_as::<_, Row>(&(base.to_string() + filter))"#,
        r#"text.push_str(" update t set x = 1");"#,
        r#"sqlx::raw_sql(statements)"#,
    ] {
        assert!(!sql_building(bad).is_empty(), "not caught: {bad}");
    }
    for good in [
        r#"sqlx::query("SELECT 1 WHERE id = $1").bind(id)"#,
        r#"format!("selected {n} rows")"#,
        r#"sqlx::query(statement).bind(ws)"#,
    ] {
        assert!(sql_building(good).is_empty(), "wrongly caught: {good}");
    }
}
