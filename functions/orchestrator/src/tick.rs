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

/// What a tick fans out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanOut {
    /// One message per workspace of the task's audience, on the task's queue.
    Task(JobKind),
    /// One `calendar-sync` per calendar whose push channel expires soon or is no longer
    /// wanted: that sync renews or stops it (design §13).
    RenewWatchChannels,
}

impl FanOut {
    /// The name in the input's `fan_out` and in run keys and deduplication ids.
    pub fn as_str(self) -> &'static str {
        match self {
            FanOut::Task(task) => task.as_str(),
            FanOut::RenewWatchChannels => "renew-watch-channels",
        }
    }

    /// The task whose queue gets the messages.
    pub fn queue(self) -> JobKind {
        match self {
            FanOut::Task(task) => task,
            FanOut::RenewWatchChannels => JobKind::CalendarSync,
        }
    }
}

impl std::fmt::Display for FanOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FanOut {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == FanOut::RenewWatchChannels.as_str() {
            return Ok(FanOut::RenewWatchChannels);
        }
        s.parse::<JobKind>().map(FanOut::Task).map_err(|_| {
            format!(
                "unknown fan-out `{s}` (expected one of calendar-sync, calendar-full-sync, \
                 schedule-task, unified-schedule, renew-watch-channels)"
            )
        })
    }
}

/// A parsed invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    pub fan_out: FanOut,
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
        let fan_out = input
            .fan_out
            .ok_or(TickError::MissingFanOut)?
            .parse::<FanOut>()
            .map_err(TickError::UnknownTask)?;
        let scheduled_at = match input.scheduled_at {
            None => now,
            Some(raw) => DateTime::parse_from_rfc3339(raw.trim())
                .map_err(|_| TickError::BadTime(raw.clone()))?
                .with_timezone(&Utc),
        };
        Ok(Tick {
            fan_out,
            scheduled_at,
        })
    }

    /// The tick as it appears in deduplication ids, e.g. `2026-11-26T18:45:00Z`.
    pub fn label(&self) -> String {
        self.scheduled_at.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// `<fan-out>:<tick>`: the orchestrator's own run key in the ledger.
    pub fn run_key(&self) -> String {
        format!("{}:{}", self.fan_out, self.label())
    }

    /// `<fan-out>:<key>:<tick>`: the message's deduplication id (design §3). The key is the
    /// workspace id, or the channel id for `renew-watch-channels` (a calendar id can be too
    /// long for the 128 characters SQS allows).
    pub fn deduplication_id(&self, key: impl std::fmt::Display) -> String {
        format!("{}:{key}:{}", self.fan_out, self.label())
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
        assert_eq!(tick.fan_out, FanOut::Task(JobKind::CalendarSync));
        assert_eq!(tick.label(), "2026-11-26T18:45:00Z");
        let ws = uuid::Uuid::nil();
        assert_eq!(
            tick.deduplication_id(ws),
            format!("calendar-sync:{ws}:2026-11-26T18:45:00Z")
        );
        assert!(tick.deduplication_id(ws).len() <= 128);
    }

    #[test]
    fn renewal_is_a_fan_out_onto_the_calendar_sync_queue() {
        let tick = Tick::parse(
            json!({"fan_out": "renew-watch-channels", "scheduled_at": "2026-11-26T18:00:00Z"}),
            now(),
        )
        .unwrap();
        assert_eq!(tick.fan_out, FanOut::RenewWatchChannels);
        assert_eq!(tick.fan_out.queue(), JobKind::CalendarSync);
        assert_eq!(tick.run_key(), "renew-watch-channels:2026-11-26T18:00:00Z");
        assert_eq!(
            tick.fan_out.as_str().parse::<FanOut>().unwrap(),
            tick.fan_out
        );
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
