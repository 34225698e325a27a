//! The invocation input: which task to fan out, for which scheduled tick.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use shared::job_kind::JobKind;

/// What EventBridge Scheduler sends:
/// `{"fan_out": "<task>", "scheduled_at": "<aws.scheduler.scheduled-time>"}`.
#[derive(Debug, Clone, Deserialize)]
struct Input {
    fan_out: Option<String>,
    scheduled_at: Option<String>,
}

/// A parsed invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    pub task: JobKind,
    /// The schedule's time, not the invocation's: a retried or late invocation of the same
    /// tick carries the same value, so its messages get the same deduplication ids.
    pub scheduled_at: DateTime<Utc>,
}

/// An invocation input that names no tick.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TickError {
    #[error("the input is not a JSON object with `fan_out` and `scheduled_at`: {0}")]
    Shape(String),
    #[error("field `fan_out` is missing")]
    MissingFanOut,
    #[error("field `fan_out` is invalid: {0}")]
    UnknownTask(String),
    #[error("field `scheduled_at` is invalid: expected an RFC 3339 time, got {0:?}")]
    BadTime(String),
}

impl Tick {
    /// Parses the input. A missing `scheduled_at` (a manual, on-demand invocation) means
    /// `now`, so each manual run is a tick of its own.
    ///
    /// # Errors
    /// The input names no known task or has an unreadable time.
    pub fn parse(input: serde_json::Value, now: DateTime<Utc>) -> Result<Self, TickError> {
        let input: Input =
            serde_json::from_value(input).map_err(|err| TickError::Shape(err.to_string()))?;
        let task = input
            .fan_out
            .ok_or(TickError::MissingFanOut)?
            .parse::<JobKind>()
            .map_err(|err| TickError::UnknownTask(err.to_string()))?;
        let scheduled_at = match input.scheduled_at {
            None => now,
            Some(raw) => DateTime::parse_from_rfc3339(raw.trim())
                .map_err(|_| TickError::BadTime(raw.clone()))?
                .with_timezone(&Utc),
        };
        Ok(Tick { task, scheduled_at })
    }

    /// The tick as it appears in deduplication ids, e.g. `2026-11-26T18:45:00Z`.
    pub fn label(&self) -> String {
        self.scheduled_at.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// `<task>:<tick>`: the orchestrator's own run key in the ledger.
    pub fn run_key(&self) -> String {
        format!("{}:{}", self.task, self.label())
    }

    /// `<task>:<ws_id>:<tick>`: the message's deduplication id (design §3).
    pub fn deduplication_id(&self, ws_id: uuid::Uuid) -> String {
        format!("{}:{ws_id}:{}", self.task, self.label())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-26T18:45:12Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_scheduler_input_becomes_a_tick() {
        let tick = Tick::parse(
            json!({"fan_out": "calendar-sync", "scheduled_at": "2026-11-26T18:45:00Z"}),
            now(),
        )
        .unwrap();
        assert_eq!(tick.task, JobKind::CalendarSync);
        assert_eq!(tick.label(), "2026-11-26T18:45:00Z");
        let ws = uuid::Uuid::nil();
        assert_eq!(
            tick.deduplication_id(ws),
            format!("calendar-sync:{ws}:2026-11-26T18:45:00Z")
        );
        assert!(tick.deduplication_id(ws).len() <= 128);
    }

    #[test]
    fn offsets_normalise_to_utc_and_a_manual_run_uses_now() {
        let tick = Tick::parse(
            json!({"fan_out": "unified-schedule", "scheduled_at": "2026-11-26T19:45:00+01:00"}),
            now(),
        )
        .unwrap();
        assert_eq!(tick.label(), "2026-11-26T18:45:00Z");
        let manual = Tick::parse(json!({"fan_out": "calendar-full-sync"}), now()).unwrap();
        assert_eq!(manual.label(), "2026-11-26T18:45:12Z");
    }

    #[test]
    fn bad_inputs_name_the_field() {
        let unknown = Tick::parse(json!({"fan_out": "send-emails"}), now()).unwrap_err();
        assert!(matches!(unknown, TickError::UnknownTask(_)));
        assert!(unknown.to_string().contains("fan_out"), "{unknown}");
        assert!(unknown.to_string().contains("send-emails"), "{unknown}");
        assert_eq!(
            Tick::parse(json!({}), now()).unwrap_err(),
            TickError::MissingFanOut
        );
        let time = Tick::parse(
            json!({"fan_out": "schedule-task", "scheduled_at": "yesterday"}),
            now(),
        )
        .unwrap_err();
        assert!(time.to_string().contains("scheduled_at"), "{time}");
        assert!(matches!(
            Tick::parse(json!([1, 2]), now()).unwrap_err(),
            TickError::Shape(_)
        ));
    }
}
