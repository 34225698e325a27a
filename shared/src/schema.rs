//! JSON Schemas of the payloads, generated from the Rust types and checked in under
//! `schemas/` so the TypeScript producers validate against the same contract.

use crate::job_kind::JobKind;
use crate::payload::{
    CalendarFullSyncPayload, CalendarSyncPayload, JobPayload, ScheduleTaskPayload,
    UnifiedSchedulePayload,
};

fn render<P: JobPayload>() -> (JobKind, String) {
    let schema = schemars::schema_for!(P);
    let text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    (P::KIND, format!("{text}\n"))
}

/// Every task's schema as `(task, pretty JSON)`, in catalogue order. The checked-in file is
/// `schemas/<task>.schema.json`.
pub fn all() -> Vec<(JobKind, String)> {
    vec![
        render::<CalendarSyncPayload>(),
        render::<CalendarFullSyncPayload>(),
        render::<ScheduleTaskPayload>(),
        render::<UnifiedSchedulePayload>(),
    ]
}

/// The checked-in file name of a task's schema.
pub fn file_name(task: JobKind) -> String {
    format!("{task}.schema.json")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// Fails when a payload type changed without regenerating the checked-in schemas.
    /// `UPDATE_SCHEMAS=1 cargo test -p shared schemas` rewrites them.
    #[test]
    fn checked_in_schemas_match_the_payload_types() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas");
        let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
        for (task, generated) in all() {
            let path = dir.join(file_name(task));
            if update {
                std::fs::write(&path, &generated).unwrap();
            }
            let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
            assert_eq!(
                checked_in,
                generated,
                "{} is stale: run `UPDATE_SCHEMAS=1 cargo test -p shared schemas`",
                path.display()
            );
        }
    }

    #[test]
    fn schemas_require_ws_id_and_bound_window_days() {
        let schemas = all();
        for (_, text) in &schemas {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(value["required"], serde_json::json!(["ws_id"]));
            assert_eq!(value["properties"]["ws_id"]["format"], "uuid");
        }
        let unified: serde_json::Value = serde_json::from_str(&schemas[3].1).unwrap();
        assert_eq!(unified["properties"]["windowDays"]["minimum"], 7);
        assert_eq!(unified["properties"]["windowDays"]["maximum"], 90);
    }
}
