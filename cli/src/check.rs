//! `jobs check`: whether a database can run the jobs (design §5.1): the role sees every row,
//! every table, column, type and function the code uses is there as the facts of Tuturuuu's
//! real schema say, and the `jobs` schema is migrated. One line per check, each failure with
//! its fix. No index beyond production's is needed (design §10.3), so none is asked for.

use serde::Serialize;
use shared::db::Db;

use crate::real_schema::{Facts, not_mirrored};

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Works, but slower or less safe than it should be.
    Warn,
    Fail,
}

/// One line of `jobs check`.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub check: &'static str,
    pub status: Status,
    pub detail: String,
    /// What to do about a warning or failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Outcome {
    fn ok(check: &'static str, detail: impl Into<String>) -> Outcome {
        Outcome {
            check,
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    fn bad(
        check: &'static str,
        status: Status,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Outcome {
        Outcome {
            check,
            status,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Tables the jobs write (insert, update or delete), beyond reading.
const WRITTEN: &[&str] = &[
    "public.workspace_calendar_events",
    "public.calendar_auth_tokens",
    "public.calendar_sync_states",
    "public.calendar_sync_dashboard",
    "public.habit_calendar_events",
    "public.task_calendar_events",
    "public.habit_skipped_occurrences",
];

/// Functions the jobs call.
const FUNCTIONS: &[&str] = &[
    "private.upsert_scheduling_metadata(uuid, text, text, integer, integer, integer, integer, integer)",
];

/// Runs every check against `pool`.
///
/// # Errors
/// The catalog could not be read (the connection itself failing is the caller's).
pub async fn run(pool: &Db) -> Result<Vec<Outcome>, sqlx::Error> {
    let facts = Facts::embedded().map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let mut out = vec![role(pool, &facts).await?];
    out.push(tables(pool, &facts).await?);
    out.push(privileges(pool, &facts).await?);
    out.push(columns(pool, &facts).await?);
    out.push(enums(pool, &facts).await?);
    out.push(functions(pool).await?);
    out.push(migrations(pool).await?);
    Ok(out)
}

async fn role(pool: &Db, facts: &Facts) -> Result<Outcome, sqlx::Error> {
    let (user, bypass): (String, bool) = sqlx::query_as(
        "SELECT current_user::text, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(pool)
    .await?;
    if bypass {
        return Ok(Outcome::ok(
            "role",
            format!("{user} bypasses row-level security"),
        ));
    }
    let mut guarded = Vec::new();
    for table in facts.tables.keys() {
        let on: Option<bool> =
            sqlx::query_scalar("SELECT relrowsecurity FROM pg_class WHERE oid = to_regclass($1)")
                .bind(table)
                .fetch_optional(pool)
                .await?;
        if on == Some(true) {
            guarded.push(table.as_str());
        }
    }
    if guarded.is_empty() {
        return Ok(Outcome::ok(
            "role",
            format!("{user} does not bypass row-level security, and no table uses it"),
        ));
    }
    Ok(Outcome::bad(
        "role",
        Status::Fail,
        format!(
            "{user} does not bypass row-level security, which is on for {} table(s) the jobs \
             use ({}): it would read no rows and write none",
            guarded.len(),
            guarded.join(", ")
        ),
        "connect as Supabase's `postgres` role (BYPASSRLS), through the pooler's string for it",
    ))
}

async fn tables(pool: &Db, facts: &Facts) -> Result<Outcome, sqlx::Error> {
    let mut missing = Vec::new();
    for table in facts.tables.keys() {
        let found: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
            .bind(table)
            .fetch_one(pool)
            .await?;
        if found.is_none() {
            missing.push(table.as_str());
        }
    }
    Ok(if missing.is_empty() {
        Outcome::ok("tables", format!("all {} tables exist", facts.tables.len()))
    } else {
        Outcome::bad(
            "tables",
            Status::Fail,
            format!("missing: {}", missing.join(", ")),
            "point DATABASE_URL at Tuturuuu's database (or run `jobs migrate` for the local mirror)",
        )
    })
}

async fn privileges(pool: &Db, facts: &Facts) -> Result<Outcome, sqlx::Error> {
    let mut lacking = Vec::new();
    for table in facts.tables.keys() {
        let wanted = if WRITTEN.contains(&table.as_str()) {
            "SELECT, INSERT, UPDATE, DELETE"
        } else {
            "SELECT"
        };
        for privilege in wanted.split(", ") {
            let granted: Option<bool> = sqlx::query_scalar(
                "SELECT has_table_privilege(to_regclass($1), $2) WHERE to_regclass($1) IS NOT NULL",
            )
            .bind(table)
            .bind(privilege)
            .fetch_optional(pool)
            .await?;
            if granted == Some(false) {
                lacking.push(format!("{privilege} on {table}"));
            }
        }
    }
    Ok(if lacking.is_empty() {
        Outcome::ok("privileges", "the role may read and write what the jobs do")
    } else {
        Outcome::bad(
            "privileges",
            Status::Fail,
            format!("lacking {}", lacking.join(", ")),
            "connect as the tables' owner (`postgres`) or GRANT the privileges named",
        )
    })
}

async fn columns(pool: &Db, facts: &Facts) -> Result<Outcome, sqlx::Error> {
    let mut wrong = Vec::new();
    let mut checked = 0;
    for (table, t) in &facts.tables {
        let found: Vec<(String, String)> = sqlx::query_as(
            "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute
             WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
        )
        .bind(table)
        .fetch_all(pool)
        .await?;
        if found.is_empty() {
            continue;
        }
        for (column, c) in &t.columns {
            if not_mirrored(&format!("{table}.{column}:")).is_some() {
                continue;
            }
            checked += 1;
            match found.iter().find(|(name, _)| name == column) {
                None => wrong.push(format!("{table}.{column} is missing")),
                Some((_, kind)) if *kind != c.kind => wrong.push(format!(
                    "{table}.{column} is {kind}, the jobs expect {}",
                    c.kind
                )),
                Some(_) => {}
            }
        }
    }
    Ok(if wrong.is_empty() {
        Outcome::ok(
            "columns",
            format!("{checked} columns with the expected types"),
        )
    } else {
        Outcome::bad(
            "columns",
            Status::Fail,
            wrong.join("; "),
            "the schema is not the one these jobs were built for: compare it with \
             docs/real-schema.json and update the jobs first",
        )
    })
}

async fn enums(pool: &Db, facts: &Facts) -> Result<Outcome, sqlx::Error> {
    let mut missing = Vec::new();
    let mut extra = Vec::new();
    for (name, labels) in &facts.enums {
        let found: Vec<String> = sqlx::query_scalar(
            "SELECT enumlabel::text FROM pg_enum WHERE enumtypid = to_regtype('public.' || $1)
             ORDER BY enumsortorder",
        )
        .bind(name)
        .fetch_all(pool)
        .await?;
        if found.is_empty() {
            missing.push(format!("type {name}"));
            continue;
        }
        missing.extend(
            labels
                .iter()
                .filter(|l| !found.contains(l))
                .map(|l| format!("{name}.{l}")),
        );
        extra.extend(
            found
                .iter()
                .filter(|l| !labels.contains(l))
                .map(|l| format!("{name}.{l}")),
        );
    }
    Ok(if !missing.is_empty() {
        Outcome::bad(
            "enums",
            Status::Fail,
            format!("missing: {}", missing.join(", ")),
            "the schema predates what these jobs expect: apply Tuturuuu's migrations first",
        )
    } else if !extra.is_empty() {
        Outcome::bad(
            "enums",
            Status::Warn,
            format!("labels the jobs do not know: {}", extra.join(", ")),
            "the jobs read them as text and treat them like the default; teach the jobs the new labels",
        )
    } else {
        Outcome::ok(
            "enums",
            format!("{} enumerated types as expected", facts.enums.len()),
        )
    })
}

async fn functions(pool: &Db) -> Result<Outcome, sqlx::Error> {
    let mut lacking = Vec::new();
    for function in FUNCTIONS {
        let executable: Option<bool> = sqlx::query_scalar(
            "SELECT has_function_privilege(to_regprocedure($1), 'EXECUTE')
             WHERE to_regprocedure($1) IS NOT NULL",
        )
        .bind(function)
        .fetch_optional(pool)
        .await?;
        match executable {
            None => lacking.push(format!("{function} does not exist")),
            Some(false) => lacking.push(format!("{function} is not executable by this role")),
            Some(true) => {}
        }
    }
    Ok(if lacking.is_empty() {
        Outcome::ok("functions", "every function the jobs call is executable")
    } else {
        Outcome::bad(
            "functions",
            Status::Fail,
            lacking.join("; "),
            "connect as `postgres` (production grants EXECUTE only to postgres and service_role)",
        )
    })
}

async fn migrations(pool: &Db) -> Result<Outcome, sqlx::Error> {
    let applied = match shared::migrate::applied_versions(pool).await {
        Ok(applied) => applied,
        Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some("42501") => {
            return Ok(Outcome::bad(
                "migrations",
                Status::Fail,
                "the role may not read jobs.schema_migrations".to_owned(),
                "connect as `postgres`, which the jobs schema is meant for",
            ));
        }
        Err(err) => return Err(err),
    };
    let pending: Vec<String> = shared::MIGRATOR
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .map(|m| format!("{} {}", m.version, m.description))
        .collect();
    Ok(if pending.is_empty() {
        Outcome::ok(
            "migrations",
            format!("the jobs schema is migrated ({} migrations)", applied.len()),
        )
    } else {
        Outcome::bad(
            "migrations",
            Status::Fail,
            format!("not applied: {}", pending.join(", ")),
            "run `jobs migrate` with the same DATABASE_URL (direct or session mode), or ship `jobs migrations --supabase` through Tuturuuu's migrations",
        )
    })
}

/// The outcomes as lines: status, check, detail, and the fix where there is one.
pub fn render(outcomes: &[Outcome]) -> String {
    let mut text = String::new();
    for o in outcomes {
        let status = match o.status {
            Status::Ok => "ok  ",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        };
        text.push_str(&format!("{status}  {:<10}  {}\n", o.check, o.detail));
        if let Some(fix) = &o.fix {
            text.push_str(&format!("      {:<10}  fix: {fix}\n", ""));
        }
    }
    text
}

/// Whether any check failed.
pub fn failed(outcomes: &[Outcome]) -> bool {
    outcomes.iter().any(|o| o.status == Status::Fail)
}
