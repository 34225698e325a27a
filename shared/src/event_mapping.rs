//! Google Calendar event → `workspace_calendar_events` row (reference §3.2, §6.3, §6.4).
//!
//! Pure: no I/O. Cancelled events become deletes; the others become rows with Tuturuuu's
//! colour names, all-day dates at UTC midnight (as the web app stores them), `locked = true`
//! (synced events are obstacles for the scheduler), and text clamped to the database's limits
//! (by characters and UTF-8 bytes; for encrypted text, so the ciphertext fits).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::encryption::{EncryptionError, WorkspaceKey};

/// The fields of a Google `Event` resource the sync reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoogleEvent {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub color_id: Option<String>,
    #[serde(default)]
    pub start: Option<EventTime>,
    #[serde(default)]
    pub end: Option<EventTime>,
    #[serde(default)]
    pub updated: Option<DateTime<Utc>>,
}

/// `start` / `end`: `dateTime` for timed events, `date` for all-day ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTime {
    #[serde(default)]
    pub date_time: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
}

/// Where the events come from: the workspace and the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub ws_id: Uuid,
    /// The Google calendar id (`primary`, an address, …).
    pub calendar_id: String,
    /// The connection's `workspace_calendar_id`, stored as `source_calendar_id`.
    pub source_calendar_id: Option<Uuid>,
}

/// One row to upsert, keyed by `(ws_id, provider, external_calendar_id, external_event_id)`.
/// The writer adds what is the same for every synced row: `provider = 'google'`,
/// `google_event_id`/`google_calendar_id` (the legacy columns), `locked = true`,
/// `sync_status = 'synced'` and `last_synced_at = now()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub ws_id: Uuid,
    pub external_event_id: String,
    pub external_calendar_id: String,
    pub source_calendar_id: Option<Uuid>,
    pub title: String,
    pub description: String,
    pub location: String,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub color: &'static str,
    pub external_updated_at: Option<DateTime<Utc>>,
    pub is_encrypted: bool,
}

/// What the sync does with one Google event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Upsert(Box<EventRow>),
    /// A cancelled event: delete the row with this `external_event_id`.
    Delete(String),
}

/// An event that cannot become a row. It is skipped and counted; it never fails the page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("event has no id")]
    NoId,
    #[error("event {id}: field `{field}` is missing or unreadable")]
    BadTime { id: String, field: &'static str },
    #[error("event {id}: ends at or before it starts")]
    EmptyInterval { id: String },
    #[error("event {id}: {source}")]
    Encryption { id: String, source: EncryptionError },
}

/// Limits of the database's checks: (characters, UTF-8 bytes).
pub const TITLE_LIMIT: (usize, usize) = (255, 1020);
pub const DESCRIPTION_LIMIT: (usize, usize) = (10_000, 40_000);
pub const LOCATION_LIMIT: (usize, usize) = (1_000, 4_000);

/// Maps one event. `key` is the workspace's encryption key, when it has one.
///
/// # Errors
/// See [`MappingError`].
pub fn map_event(
    event: &GoogleEvent,
    origin: &Origin,
    key: Option<&WorkspaceKey>,
) -> Result<Change, MappingError> {
    if event.id.trim().is_empty() {
        return Err(MappingError::NoId);
    }
    if event.status.as_deref() == Some("cancelled") {
        return Ok(Change::Delete(event.id.clone()));
    }
    let id = &event.id;
    let start_at = instant(event.start.as_ref()).ok_or_else(|| MappingError::BadTime {
        id: id.clone(),
        field: "start",
    })?;
    let end_at = instant(event.end.as_ref()).ok_or_else(|| MappingError::BadTime {
        id: id.clone(),
        field: "end",
    })?;
    if end_at <= start_at {
        return Err(MappingError::EmptyInterval { id: id.clone() });
    }
    let title = event
        .summary
        .as_deref()
        .filter(|summary| !summary.trim().is_empty())
        .unwrap_or("Untitled Event");
    let text = |value: &str, limit: (usize, usize)| -> Result<String, MappingError> {
        let encrypt_error = |source| MappingError::Encryption {
            id: id.clone(),
            source,
        };
        match key {
            None => Ok(clamp(value, limit.0, limit.1).to_owned()),
            Some(key) => key
                .encrypt(clamp(value, limit.0, ciphertext_budget(limit.0)))
                .map_err(encrypt_error),
        }
    };
    Ok(Change::Upsert(Box::new(EventRow {
        ws_id: origin.ws_id,
        external_event_id: id.clone(),
        external_calendar_id: origin.calendar_id.clone(),
        source_calendar_id: origin.source_calendar_id,
        title: text(title, TITLE_LIMIT)?,
        description: text(
            event.description.as_deref().unwrap_or_default(),
            DESCRIPTION_LIMIT,
        )?,
        location: text(
            event.location.as_deref().unwrap_or_default(),
            LOCATION_LIMIT,
        )?,
        start_at,
        end_at,
        color: color(event.color_id.as_deref()),
        external_updated_at: event.updated,
        is_encrypted: key.is_some(),
    })))
}

/// Tuturuuu's colour for a Google `colorId`; missing, `7` and unknown ones are `BLUE`.
pub fn color(color_id: Option<&str>) -> &'static str {
    match color_id.map(str::trim) {
        Some("1") => "RED",
        Some("2") => "GREEN",
        Some("3") => "GRAY",
        Some("4") => "PINK",
        Some("5") => "YELLOW",
        Some("6") => "ORANGE",
        Some("8") => "CYAN",
        Some("9") => "PURPLE",
        Some("10") => "INDIGO",
        _ => "BLUE",
    }
}

/// A timed event's instant, or an all-day date at UTC midnight (Google's exclusive end date
/// is kept as it is).
fn instant(time: Option<&EventTime>) -> Option<DateTime<Utc>> {
    let time = time?;
    if let Some(date_time) = time.date_time.as_deref().filter(|s| !s.is_empty()) {
        return DateTime::parse_from_rfc3339(date_time)
            .ok()
            .map(|t| t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(time.date.as_deref()?, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

/// The longest prefix of `value` with at most `max_chars` characters and `max_bytes` bytes.
pub fn clamp(value: &str, max_chars: usize, max_bytes: usize) -> &str {
    let mut end = 0;
    for (count, (index, c)) in value.char_indices().enumerate() {
        if count == max_chars || index + c.len_utf8() > max_bytes {
            return &value[..end];
        }
        end = index + c.len_utf8();
    }
    value
}

/// Plaintext bytes whose encrypted form (base64 of IV 12 + text + tag 16) fits `max_chars`.
pub fn ciphertext_budget(max_chars: usize) -> usize {
    (max_chars / 4 * 3).saturating_sub(28)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn origin() -> Origin {
        Origin {
            ws_id: Uuid::nil(),
            calendar_id: "team@example.com".to_owned(),
            source_calendar_id: None,
        }
    }

    fn event(value: serde_json::Value) -> GoogleEvent {
        serde_json::from_value(value).unwrap()
    }

    fn row(change: Change) -> EventRow {
        match change {
            Change::Upsert(row) => *row,
            Change::Delete(id) => panic!("expected an upsert, got a delete of {id}"),
        }
    }

    #[test]
    fn a_timed_event_becomes_a_locked_row() {
        let mapped = row(map_event(
            &event(json!({
                "id": "abc_20261201T090000Z", "status": "confirmed", "summary": "Standup",
                "description": "Daily", "location": "Room 1", "colorId": "10",
                "start": { "dateTime": "2026-12-01T10:00:00+01:00" },
                "end": { "dateTime": "2026-12-01T10:15:00+01:00" },
                "updated": "2026-11-20T08:00:00.000Z"
            })),
            &origin(),
            None,
        )
        .unwrap());
        assert_eq!(mapped.external_event_id, "abc_20261201T090000Z");
        assert_eq!(mapped.external_calendar_id, "team@example.com");
        assert_eq!(mapped.title, "Standup");
        assert_eq!(mapped.location, "Room 1");
        assert_eq!(mapped.color, "INDIGO");
        assert_eq!(mapped.start_at.to_rfc3339(), "2026-12-01T09:00:00+00:00");
        assert_eq!(mapped.end_at.to_rfc3339(), "2026-12-01T09:15:00+00:00");
        assert!(mapped.external_updated_at.is_some());
        assert!(!mapped.is_encrypted);
    }

    #[test]
    fn all_day_events_sit_at_utc_midnight_and_untitled_ones_get_a_title() {
        let mapped = row(map_event(
            &event(json!({
                "id": "holiday", "summary": "  ",
                "start": { "date": "2026-12-24" }, "end": { "date": "2026-12-26" }
            })),
            &origin(),
            None,
        )
        .unwrap());
        assert_eq!(mapped.title, "Untitled Event");
        assert_eq!(mapped.description, "");
        assert_eq!(mapped.color, "BLUE");
        assert_eq!(mapped.start_at.to_rfc3339(), "2026-12-24T00:00:00+00:00");
        assert_eq!(mapped.end_at.to_rfc3339(), "2026-12-26T00:00:00+00:00");
    }

    #[test]
    fn cancelled_events_are_deletes_even_without_times() {
        assert_eq!(
            map_event(
                &event(json!({ "id": "gone", "status": "cancelled" })),
                &origin(),
                None
            ),
            Ok(Change::Delete("gone".to_owned()))
        );
    }

    #[test]
    fn unusable_events_are_named() {
        let no_end = map_event(
            &event(json!({ "id": "x", "start": { "date": "2026-12-01" } })),
            &origin(),
            None,
        );
        assert_eq!(
            no_end,
            Err(MappingError::BadTime {
                id: "x".to_owned(),
                field: "end"
            })
        );
        let zero = map_event(
            &event(json!({ "id": "z",
                "start": { "dateTime": "2026-12-01T10:00:00Z" },
                "end": { "dateTime": "2026-12-01T10:00:00Z" } })),
            &origin(),
            None,
        );
        assert!(matches!(zero, Err(MappingError::EmptyInterval { .. })));
        let bad = map_event(
            &event(json!({ "id": "b",
                "start": { "dateTime": "tomorrow" }, "end": { "date": "2026-13-40" } })),
            &origin(),
            None,
        );
        assert!(matches!(
            bad,
            Err(MappingError::BadTime { field: "start", .. })
        ));
        assert_eq!(
            map_event(&event(json!({ "id": "" })), &origin(), None),
            Err(MappingError::NoId)
        );
    }

    #[test]
    fn colours_follow_the_web_apps_table() {
        let expected = [
            ("1", "RED"),
            ("2", "GREEN"),
            ("3", "GRAY"),
            ("4", "PINK"),
            ("5", "YELLOW"),
            ("6", "ORANGE"),
            ("7", "BLUE"),
            ("8", "CYAN"),
            ("9", "PURPLE"),
            ("10", "INDIGO"),
            ("11", "BLUE"),
            ("99", "BLUE"),
        ];
        for (id, name) in expected {
            assert_eq!(color(Some(id)), name, "colorId {id}");
        }
        assert_eq!(color(None), "BLUE");
    }

    #[test]
    fn text_is_clamped_by_characters_and_bytes() {
        assert_eq!(clamp("abcdef", 3, 100), "abc");
        assert_eq!(clamp("ééé", 10, 5), "éé");
        assert_eq!(clamp("🎉🎉", 10, 7), "🎉");
        assert_eq!(clamp("short", 255, 1020), "short");
        let long_title = "日".repeat(400);
        let mapped = row(map_event(
            &event(json!({ "id": "t", "summary": long_title,
                "start": { "date": "2026-12-01" }, "end": { "date": "2026-12-02" } })),
            &origin(),
            None,
        )
        .unwrap());
        assert_eq!(mapped.title.chars().count(), 255);
        assert!(mapped.title.len() <= 1020);
        let wide = "🎉".repeat(300);
        assert!(clamp(&wide, 255, 1020).len() <= 1020);
        assert_eq!(clamp(&wide, 255, 1020).chars().count(), 255);
    }

    #[test]
    fn encrypted_text_fits_the_columns_and_decrypts() {
        let key = WorkspaceKey::generate();
        let mapped = row(map_event(
            &event(json!({ "id": "e", "summary": "x".repeat(1000),
                "description": "Ü".repeat(20_000), "location": "Hanoi",
                "start": { "date": "2026-12-01" }, "end": { "date": "2026-12-02" } })),
            &origin(),
            Some(&key),
        )
        .unwrap());
        assert!(mapped.is_encrypted);
        assert!(
            mapped.title.chars().count() <= TITLE_LIMIT.0,
            "{}",
            mapped.title.len()
        );
        assert!(mapped.description.chars().count() <= DESCRIPTION_LIMIT.0);
        assert_eq!(key.decrypt(&mapped.location).unwrap(), "Hanoi");
        let title = key.decrypt(&mapped.title).unwrap();
        assert_eq!(title, "x".repeat(ciphertext_budget(TITLE_LIMIT.0)));
    }
}
