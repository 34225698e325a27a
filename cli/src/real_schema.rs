//! What the jobs expect of Tuturuuu's real schema (`docs/real-schema.json`, derived from a
//! database built from Tuturuuu's own migrations by `scripts/schema_facts.py`), and the same
//! facts read back from a database's catalog, so the two can be compared line by line: the
//! mirror's catalog test and `jobs check` both use it (design §5).

use std::collections::BTreeMap;

use serde::Deserialize;
use shared::db::Db;

/// The facts file, embedded at build time.
pub const FACTS_JSON: &str = include_str!("../../docs/real-schema.json");

/// Tuturuuu's schema as far as the jobs depend on it.
#[derive(Debug, Clone, Deserialize)]
pub struct Facts {
    /// Enumerated types (in `public`) and their labels in order.
    pub enums: BTreeMap<String, Vec<String>>,
    /// Tables by `schema.table`.
    pub tables: BTreeMap<String, Table>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Table {
    pub rls: bool,
    pub columns: BTreeMap<String, Column>,
    /// Check constraints: name → definition.
    pub checks: BTreeMap<String, String>,
    /// Unique indexes: name → definition (`btree (…) WHERE …`).
    pub unique: BTreeMap<String, String>,
    /// Other indexes' definitions.
    pub indexes: Vec<String>,
    pub foreign_keys: Vec<String>,
    pub triggers: BTreeMap<String, Trigger>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Column {
    /// As `format_type` names it (`timestamp with time zone`, an enum's name, …).
    #[serde(rename = "type")]
    pub kind: String,
    pub null: bool,
    pub default: Option<String>,
    /// The characters (none for json) and bytes the text-limit trigger allows.
    pub limit: Option<Limit>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub struct Limit {
    pub chars: Option<u32>,
    pub bytes: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Trigger {
    /// `BEFORE INSERT OR UPDATE` and the like.
    pub when: String,
    /// `enforce_strict_text_field_limits()`.
    pub function: String,
}

/// Facts the local mirror deliberately leaves out, each with why: a line of the facts that
/// contains the pattern is not expected of the mirror, and `jobs check` does not ask for it
/// (the jobs never touch it).
pub const NOT_MIRRORED: &[(&str, &str)] = &[
    (
        "public.tasks.embedding:",
        "a pgvector column: needs the extension, never read by the jobs",
    ),
    ("hnsw (embedding", "the pgvector index on tasks.embedding"),
    (
        "normalize_workspace_user_search_text",
        "the web app's search index (pg_trgm and its function)",
    ),
    (
        "REFERENCES handles(",
        "users.handle's table, outside the jobs' reach",
    ),
    (
        "REFERENCES auth.users(",
        "Supabase's auth.users, outside the jobs' reach",
    ),
    (
        "REFERENCES task_board_status_templates(",
        "board templates, outside the jobs' reach",
    ),
    ("trigger audit_", "the audit log's triggers (schema audit)"),
    ("trigger add_ws_creator_tr", "workspace membership tables"),
    (
        "trigger create_system_calendars_on_workspace",
        "the web app's workspace set-up",
    ),
    (
        "trigger enforce_unique_personal_workspace_tr",
        "the web app's workspace rules",
    ),
    (
        "trigger trg_prevent_personal_workspace_deletion",
        "the web app's workspace rules",
    ),
    (
        "trigger trigger_initialize_workspace_admin_permission",
        "workspace permission tables",
    ),
    (
        "trigger workspaces_ensure_creator_membership",
        "workspace membership tables",
    ),
    (
        "trigger auto_create_personal_workspace_tr",
        "the web app's sign-up flow",
    ),
    (
        "trigger trg_create_personal_workspace_for_new_user",
        "the web app's sign-up flow",
    ),
    (
        "trigger on_user_delete_clean_draft_assignees",
        "task draft tables",
    ),
    (
        "trigger enforce_task_capacity_after_task_change",
        "board capacity tables",
    ),
    (
        "trigger lock_task_capacity_before_task_change",
        "board capacity tables",
    ),
    ("trigger notify_on_task_updated", "the notification tables"),
    ("trigger task_created_trigger", "the notification tables"),
    (
        "trigger store_task_metadata_before_delete_trigger",
        "task history tables",
    ),
    (
        "trigger task_timestamps_trigger",
        "the task board's bookkeeping",
    ),
    (
        "trigger trigger_assign_task_display_number",
        "the task board's bookkeeping",
    ),
    (
        "trigger trigger_remove_blockers_on_completion",
        "task relation tables",
    ),
    (
        "trigger create_default_lists_on_board_creation",
        "board templates",
    ),
    (
        "trigger trg_enforce_extended_estimation",
        "the task board's bookkeeping",
    ),
];

/// Why `line` is not expected of the mirror, if it is one of [`NOT_MIRRORED`].
pub fn not_mirrored(line: &str) -> Option<&'static str> {
    NOT_MIRRORED
        .iter()
        .find(|(pattern, _)| line.contains(pattern))
        .map(|(_, why)| *why)
}

/// The trigger that applies the per-column text limits.
pub const LIMIT_TRIGGER: &str = "enforce_strict_text_field_limits";

impl Facts {
    /// The embedded facts.
    ///
    /// # Errors
    /// The embedded file does not parse (a broken build).
    pub fn embedded() -> Result<Facts, serde_json::Error> {
        serde_json::from_str(FACTS_JSON)
    }

    /// Every fact as one line (`table: what`), the form in which facts and catalogs are
    /// compared.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, labels) in &self.enums {
            out.push(format!("enum {name}: {}", labels.join(", ")));
        }
        for (name, table) in &self.tables {
            if table.rls {
                out.push(format!("{name}: row-level security on"));
            }
            for (column, c) in &table.columns {
                out.push(format!("{name}.{column}: type {}", c.kind));
                out.push(format!("{name}.{column}: {}", nullability(c.null)));
                if let Some(default) = &c.default {
                    out.push(format!("{name}.{column}: default {}", normalise(default)));
                }
                if let Some(limit) = c.limit {
                    out.push(format!("{name}.{column}: {}", limit_line(limit)));
                }
            }
            for (check, definition) in &table.checks {
                out.push(format!("{name}: check {check} {definition}"));
            }
            for (index, definition) in &table.unique {
                out.push(format!("{name}: unique {index} {definition}"));
            }
            out.extend(numbered(
                table.indexes.iter().map(|d| format!("{name}: index {d}")),
            ));
            for key in &table.foreign_keys {
                out.push(format!("{name}: {key}"));
            }
            for (trigger, t) in &table.triggers {
                out.push(format!(
                    "{name}: trigger {trigger} {} → {}",
                    t.when, t.function
                ));
            }
        }
        out.sort();
        out
    }
}

fn nullability(null: bool) -> &'static str {
    if null { "nullable" } else { "not null" }
}

fn limit_line(limit: Limit) -> String {
    match limit.chars {
        Some(chars) => format!("limit {chars} characters / {} bytes", limit.bytes),
        None => format!("limit {} bytes", limit.bytes),
    }
}

/// Schema prefixes the catalog prints or not depending on the search path.
fn normalise(expression: &str) -> String {
    expression.replace("extensions.", "").replace("auth.", "")
}

/// Repeated lines (two identical indexes) made distinct, so a set comparison counts them.
fn numbered(lines: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    lines
        .map(|line| {
            let n = seen.entry(line.clone()).or_default();
            *n += 1;
            if *n == 1 {
                line
            } else {
                format!("{line} (#{n})")
            }
        })
        .collect()
}

/// The same facts, read from `pool`'s catalog, for the tables and enums `facts` names
/// (nothing about other tables). Column limits are read from the arguments of the mirror's
/// limit trigger; production's trigger takes none, so on production there are no limit lines.
///
/// # Errors
/// The catalog could not be read.
pub async fn catalog_lines(pool: &Db, facts: &Facts) -> Result<Vec<String>, sqlx::Error> {
    let mut out = Vec::new();
    for name in facts.enums.keys() {
        let labels: Vec<String> = sqlx::query_scalar(
            "SELECT e.enumlabel::text FROM pg_enum e
             WHERE e.enumtypid = to_regtype('public.' || $1)
             ORDER BY e.enumsortorder",
        )
        .bind(name)
        .fetch_all(pool)
        .await?;
        if !labels.is_empty() {
            out.push(format!("enum {name}: {}", labels.join(", ")));
        }
    }
    for name in facts.tables.keys() {
        let rls: Option<bool> =
            sqlx::query_scalar("SELECT relrowsecurity FROM pg_class WHERE oid = to_regclass($1)")
                .bind(name)
                .fetch_optional(pool)
                .await?;
        let Some(rls) = rls else { continue };
        if rls {
            out.push(format!("{name}: row-level security on"));
        }
        let columns: Vec<(String, String, bool, Option<String>)> = sqlx::query_as(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
                    pg_get_expr(d.adbin, d.adrelid)
             FROM pg_attribute a
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
        )
        .bind(name)
        .fetch_all(pool)
        .await?;
        for (column, kind, null, default) in columns {
            out.push(format!("{name}.{column}: type {kind}"));
            out.push(format!("{name}.{column}: {}", nullability(null)));
            if let Some(default) = default {
                out.push(format!("{name}.{column}: default {}", normalise(&default)));
            }
        }
        let constraints: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT conname::text, contype::text, pg_get_constraintdef(oid)
             FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype IN ('c', 'f')",
        )
        .bind(name)
        .fetch_all(pool)
        .await?;
        for (constraint, kind, definition) in constraints {
            if kind == "c" {
                out.push(format!("{name}: check {constraint} {definition}"));
            } else {
                out.push(format!("{name}: {definition}"));
            }
        }
        let indexes: Vec<(String, bool, String)> = sqlx::query_as(
            "SELECT c.relname::text, x.indisunique, pg_get_indexdef(x.indexrelid)
             FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
             WHERE x.indrelid = to_regclass($1)
             ORDER BY c.relname",
        )
        .bind(name)
        .fetch_all(pool)
        .await?;
        let mut plain = Vec::new();
        for (index, unique, definition) in indexes {
            let definition = definition
                .split_once(" USING ")
                .map_or(definition.as_str(), |(_, d)| d)
                .to_owned();
            if unique {
                out.push(format!("{name}: unique {index} {definition}"));
            } else {
                plain.push(format!("{name}: index {definition}"));
            }
        }
        plain.sort();
        out.extend(numbered(plain.into_iter()));
        let triggers: Vec<(String, String, Vec<u8>)> = sqlx::query_as(
            "SELECT tgname::text, pg_get_triggerdef(oid), tgargs
             FROM pg_trigger WHERE tgrelid = to_regclass($1) AND NOT tgisinternal",
        )
        .bind(name)
        .fetch_all(pool)
        .await?;
        for (trigger, definition, args) in triggers {
            out.push(format!("{name}: {}", trigger_line(&trigger, &definition)));
            if trigger == LIMIT_TRIGGER {
                out.extend(limit_lines(name, &args));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `trigger NAME WHEN → FUNCTION()` from `CREATE TRIGGER NAME WHEN ON t FOR EACH ROW EXECUTE
/// FUNCTION f(args)`.
fn trigger_line(name: &str, definition: &str) -> String {
    let rest = definition
        .strip_prefix("CREATE TRIGGER ")
        .and_then(|d| d.strip_prefix(name))
        .unwrap_or(definition)
        .trim_start();
    let when = rest.split(" ON ").next().unwrap_or(rest);
    let function = definition
        .split("EXECUTE FUNCTION ")
        .nth(1)
        .and_then(|f| f.split('(').next())
        .unwrap_or("?");
    format!("trigger {name} {when} → {function}()")
}

/// The limit trigger's arguments (column, characters or '', bytes; NUL-separated) as lines.
fn limit_lines(table: &str, args: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(args);
    let parts: Vec<&str> = text.split('\0').collect();
    parts
        .chunks_exact(3)
        .filter_map(|chunk| {
            let bytes = chunk[2].parse().ok()?;
            let chars = chunk[1].parse().ok();
            Some(format!(
                "{table}.{}: {}",
                chunk[0],
                limit_line(Limit { chars, bytes })
            ))
        })
        .collect()
}

/// Lines of `expected` that `actual` lacks, and lines of `actual` that `expected` lacks.
pub fn difference(expected: &[String], actual: &[String]) -> (Vec<String>, Vec<String>) {
    let e: std::collections::BTreeSet<&String> = expected.iter().collect();
    let a: std::collections::BTreeSet<&String> = actual.iter().collect();
    (
        e.difference(&a).map(|s| (*s).clone()).collect(),
        a.difference(&e).map(|s| (*s).clone()).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_facts_parse_and_name_the_tables_the_jobs_use() {
        let facts = Facts::embedded().unwrap();
        for table in [
            "public.workspace_calendar_events",
            "public.calendar_sync_dashboard",
            "public.workspace_habits",
        ] {
            assert!(facts.tables.contains_key(table), "{table}");
        }
        assert_eq!(
            facts.enums["time_of_day_preference"],
            ["morning", "afternoon", "evening", "night"]
        );
    }

    #[test]
    fn triggers_and_limits_read_back_as_facts_say_them() {
        assert_eq!(
            trigger_line(
                "t1",
                "CREATE TRIGGER t1 BEFORE INSERT OR UPDATE ON public.x FOR EACH ROW EXECUTE FUNCTION f('a', '1', '2')"
            ),
            "trigger t1 BEFORE INSERT OR UPDATE → f()"
        );
        assert_eq!(
            limit_lines("public.x", b"a\x001\x002\x00j\x00\x009\x00"),
            [
                "public.x.a: limit 1 characters / 2 bytes",
                "public.x.j: limit 9 bytes"
            ]
        );
    }
}
