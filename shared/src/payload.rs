//! Typed message payloads (design §3).
//!
//! Field names keep the original TypeScript payloads (`ws_id`, camelCase options) so the web
//! app can switch producers without renaming. Unknown fields are ignored: changes are additive
//! only. Tokens sent by old producers (`access_token`, `refresh_token`) are dropped on parse and
//! so can never be used or logged.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::job_kind::JobKind;

/// A body that cannot become a payload. Every variant names what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("message has no body")]
    NoBody,
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
    #[error("field `{field}` is missing")]
    Missing { field: String },
    #[error("field `{field}` is invalid: {reason}")]
    Invalid { field: String, reason: String },
}

/// A task's message body.
pub trait JobPayload: Serialize + DeserializeOwned + JsonSchema + Send + Sync + 'static {
    /// The task whose queue carries this payload.
    const KIND: JobKind;

    /// The workspace the message is about (also its `MessageGroupId`).
    fn ws_id(&self) -> Uuid;

    /// Range and shape checks that serde cannot express.
    ///
    /// # Errors
    /// The first invalid field.
    fn validate(&self) -> Result<(), PayloadError> {
        Ok(())
    }

    /// Parses and validates a message body.
    ///
    /// # Errors
    /// A [`PayloadError`] naming the field at fault.
    fn parse(body: &str) -> Result<Self, PayloadError> {
        let value: serde_json::Value =
            serde_json::from_str(body).map_err(|err| PayloadError::NotJson(err.to_string()))?;
        if !value.is_object() {
            return Err(PayloadError::Invalid {
                field: "$".to_owned(),
                reason: "the body must be a JSON object".to_owned(),
            });
        }
        let payload: Self = serde_path_to_error::deserialize(value).map_err(|err| {
            let path = err.path().to_string();
            let reason = err.into_inner().to_string();
            match missing_field(&reason) {
                Some(field) => PayloadError::Missing { field },
                None => PayloadError::Invalid {
                    field: brief(&path),
                    reason: brief(&reason),
                },
            }
        })?;
        payload.validate()?;
        Ok(payload)
    }
}

/// serde quotes the offending value in its message; errors are logged and stored with the run
/// and the dead letter, so a huge value is cut rather than repeated.
fn brief(text: &str) -> String {
    const MAX_CHARS: usize = 120;
    match text.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// serde reports a missing field at the parent path with the field's name in backticks.
fn missing_field(reason: &str) -> Option<String> {
    let rest = reason.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}

fn non_empty(field: &str, value: Option<&str>) -> Result<(), PayloadError> {
    match value {
        Some(v) if v.trim().is_empty() => Err(PayloadError::Invalid {
            field: field.to_owned(),
            reason: "must not be empty".to_owned(),
        }),
        _ => Ok(()),
    }
}

/// `calendar-sync`: incremental Google Calendar sync of one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CalendarSyncPayload {
    /// The workspace to sync.
    pub ws_id: Uuid,
    /// Only this Google calendar id; absent means every enabled connection.
    #[serde(
        rename = "calendarId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub calendar_id: Option<String>,
}

impl JobPayload for CalendarSyncPayload {
    const KIND: JobKind = JobKind::CalendarSync;

    fn ws_id(&self) -> Uuid {
        self.ws_id
    }

    fn validate(&self) -> Result<(), PayloadError> {
        non_empty("calendarId", self.calendar_id.as_deref())
    }
}

/// `calendar-full-sync`: full re-sync of one workspace over the full window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CalendarFullSyncPayload {
    /// The workspace to sync.
    pub ws_id: Uuid,
    /// Only this Google calendar id; absent means every enabled connection.
    #[serde(
        rename = "calendarId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub calendar_id: Option<String>,
}

impl JobPayload for CalendarFullSyncPayload {
    const KIND: JobKind = JobKind::CalendarFullSync;

    fn ws_id(&self) -> Uuid {
        self.ws_id
    }

    fn validate(&self) -> Result<(), PayloadError> {
        non_empty("calendarId", self.calendar_id.as_deref())
    }
}

/// `schedule-task`: legacy auto-schedule of one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleTaskPayload {
    /// The workspace whose unlocked future events are re-packed.
    pub ws_id: Uuid,
}

impl JobPayload for ScheduleTaskPayload {
    const KIND: JobKind = JobKind::ScheduleTask;

    fn ws_id(&self) -> Uuid {
        self.ws_id
    }
}

/// `unified-schedule`: smart scheduling of habits (and one user's tasks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UnifiedSchedulePayload {
    /// The workspace to schedule.
    pub ws_id: Uuid,
    /// Days ahead to schedule, 7 to 90; default 30.
    #[serde(
        rename = "windowDays",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 7, max = 90))]
    pub window_days: Option<i64>,
    /// Accepted for compatibility with the original producers.
    #[serde(
        rename = "forceReschedule",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub force_reschedule: Option<bool>,
    /// Also schedule this user's tasks, from their scheduling settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
}

impl UnifiedSchedulePayload {
    /// The scheduling window used when `windowDays` is absent.
    pub const DEFAULT_WINDOW_DAYS: i64 = 30;

    /// `windowDays`, or its default.
    pub fn window_days(&self) -> i64 {
        self.window_days.unwrap_or(Self::DEFAULT_WINDOW_DAYS)
    }
}

impl JobPayload for UnifiedSchedulePayload {
    const KIND: JobKind = JobKind::UnifiedSchedule;

    fn ws_id(&self) -> Uuid {
        self.ws_id
    }

    fn validate(&self) -> Result<(), PayloadError> {
        match self.window_days {
            Some(days) if !(7..=90).contains(&days) => Err(PayloadError::Invalid {
                field: "windowDays".to_owned(),
                reason: format!("must be between 7 and 90, got {days}"),
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WS: &str = "6f1c2a9e-3b7d-4c2e-9a51-0d4e8b7f2c11";

    #[test]
    fn unknown_fields_and_old_tokens_are_ignored() {
        let body = format!(
            r#"{{"ws_id":"{WS}","access_token":"ya29.secret","refresh_token":"1//r","extra":[1]}}"#
        );
        let payload = CalendarSyncPayload::parse(&body).unwrap();
        assert_eq!(payload.ws_id.to_string(), WS);
        assert_eq!(payload.calendar_id, None);
        assert!(!serde_json::to_string(&payload).unwrap().contains("secret"));
    }

    #[test]
    fn a_missing_ws_id_is_named() {
        let err = ScheduleTaskPayload::parse(r#"{"wsId":"x"}"#).unwrap_err();
        assert_eq!(
            err,
            PayloadError::Missing {
                field: "ws_id".to_owned()
            }
        );
        assert_eq!(err.to_string(), "field `ws_id` is missing");
    }

    #[test]
    fn a_non_uuid_ws_id_is_named() {
        let err = ScheduleTaskPayload::parse(r#"{"ws_id":"not-a-uuid"}"#).unwrap_err();
        assert!(
            matches!(&err, PayloadError::Invalid { field, .. } if field == "ws_id"),
            "{err:?}"
        );
    }

    #[test]
    fn malformed_json_and_non_objects_are_rejected() {
        assert!(matches!(
            ScheduleTaskPayload::parse("{not json"),
            Err(PayloadError::NotJson(_))
        ));
        assert!(matches!(
            ScheduleTaskPayload::parse("[1,2]"),
            Err(PayloadError::Invalid { field, .. }) if field == "$"
        ));
    }

    #[test]
    fn window_days_out_of_range_is_named() {
        let err = UnifiedSchedulePayload::parse(&format!(r#"{{"ws_id":"{WS}","windowDays":3}}"#))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "field `windowDays` is invalid: must be between 7 and 90, got 3"
        );
        let err = UnifiedSchedulePayload::parse(&format!(r#"{{"ws_id":"{WS}","windowDays":"x"}}"#))
            .unwrap_err();
        assert!(matches!(&err, PayloadError::Invalid { field, .. } if field == "windowDays"));
        let ok =
            UnifiedSchedulePayload::parse(&format!(r#"{{"ws_id":"{WS}","forceReschedule":true}}"#))
                .unwrap();
        assert_eq!(ok.window_days(), 30);
        assert_eq!(ok.force_reschedule, Some(true));
    }

    #[test]
    fn an_empty_calendar_id_is_named() {
        let err =
            CalendarFullSyncPayload::parse(&format!(r#"{{"ws_id":"{WS}","calendarId":" "}}"#))
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "field `calendarId` is invalid: must not be empty"
        );
    }
}
