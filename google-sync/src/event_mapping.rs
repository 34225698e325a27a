//! Google Calendar event → `workspace_calendar_events` row (design §6).
//!
//! Pure: no I/O. Cancelled events become deletes; the others become rows with Tuturuuu's
//! colour names, all-day dates at UTC midnight (as the web app stores them), `locked = true`
//! (synced events are obstacles for the scheduler), and text clamped to the database's limits
//! (by characters and UTF-8 bytes; for encrypted text, so the ciphertext fits).
//!
//! An event Google shows is never dropped for its times alone: an all-day event whose end date
//! is not after its start is stored as that one day, a timed event that ends at or before its
//! start as [`MIN_TIMED_DURATION`] from its start. Only times that cannot be read at all make
//! an event unreadable; it is then skipped, counted and named by [`MappingError::reason`].

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use shared::encryption::{EncryptionError, WorkspaceKey};
use shared::limits::{self, TextLimit};

/// The length a timed event that ends at or before its start is stored with: one minute, the
/// smallest step the web app's calendar shows and edits. The schema itself allows zero, but a
/// zero-length row is invisible in the calendar and the original jobs' writer dropped it.
pub const MIN_TIMED_DURATION: TimeDelta = TimeDelta::minutes(1);

/// The fields of a Google `Event` resource the sync reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoogleEvent {
    /// Empty when missing, so the event is named as having no id rather than unreadable.
    #[serde(default)]
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
    /// Metadata only: an unreadable value is treated as absent rather than losing the event.
    #[serde(default, deserialize_with = "lenient_instant")]
    pub updated: Option<DateTime<Utc>>,
    /// `default`, `birthday`, `focusTime`, `fromGmail`, `outOfOffice`, `workingLocation`
    /// (Google lists every type unless asked otherwise); absent means `default`.
    #[serde(default)]
    pub event_type: Option<String>,
    /// `opaque` (busy, the default) or `transparent` ("Show as free").
    #[serde(default)]
    pub transparency: Option<String>,
}

impl GoogleEvent {
    /// Whether the event takes no time (design §6): a birthday or a working location, or any
    /// event shown as free, except out-of-office and focus time, which block time whatever
    /// they are shown as.
    pub fn is_free(&self) -> bool {
        match self.event_type.as_deref() {
            Some("birthday" | "workingLocation") => true,
            Some("outOfOffice" | "focusTime") => false,
            _ => self.transparency.as_deref() == Some("transparent"),
        }
    }
}

fn lenient_instant<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(value
        .as_ref()
        .and_then(serde_json::Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc)))
}

/// `start` / `end`: `dateTime` for timed events, `date` for all-day ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTime {
    #[serde(default)]
    pub date_time: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
    /// The IANA zone of a `dateTime` written without an offset (Google's API allows that).
    #[serde(default)]
    pub time_zone: Option<String>,
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
    /// Takes no time: stored for the calendar, never an obstacle for the schedulers.
    pub free: bool,
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
    /// Longer than the id columns allow (Google allows 1,024 characters, the columns 1,000).
    #[error("event {prefix}…: id of {chars} characters exceeds the 1000 the table allows")]
    IdTooLong { prefix: String, chars: usize },
    #[error("event {id}: field `{field}` is missing or unreadable")]
    BadTime { id: String, field: &'static str },
    #[error("event {id}: {source}")]
    Encryption { id: String, source: EncryptionError },
}

impl MappingError {
    /// Why the event was skipped, in a few words: the key its count is reported under.
    pub fn reason(&self) -> &'static str {
        match self {
            MappingError::NoId => "no id",
            MappingError::IdTooLong { .. } => "id too long",
            MappingError::BadTime { field: "start", .. } => "start missing or unreadable",
            MappingError::BadTime { .. } => "end missing or unreadable",
            MappingError::Encryption { .. } => "could not be encrypted",
        }
    }
}

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
        // An id too long to be stored matches no row: deleting it is harmless.
        return Ok(Change::Delete(event.id.clone()));
    }
    if !limits::EXTERNAL_ID.fits(&event.id) {
        return Err(MappingError::IdTooLong {
            prefix: limits::clamp(&event.id, 40, 160).to_owned(),
            chars: event.id.chars().count(),
        });
    }
    let id = &event.id;
    let bad = |field| MappingError::BadTime {
        id: id.clone(),
        field,
    };
    let start = When::read(event.start.as_ref()).ok_or_else(|| bad("start"))?;
    let end = When::read(event.end.as_ref()).ok_or_else(|| bad("end"))?;
    let start_at = start.instant().ok_or_else(|| bad("start"))?;
    let end_at = end.instant().ok_or_else(|| bad("end"))?;
    let end_at = if end_at > start_at {
        end_at
    } else {
        // Google shows such an event at its start: keep it there, as one day when it is an
        // all-day event, else as the shortest event the calendar shows.
        let length = match start {
            When::AllDay(_) => TimeDelta::days(1),
            When::Timed(_) => MIN_TIMED_DURATION,
        };
        start_at
            .checked_add_signed(length)
            .ok_or_else(|| bad("end"))?
    };
    let title = event
        .summary
        .as_deref()
        .filter(|summary| !summary.trim().is_empty())
        .unwrap_or("Untitled Event");
    let text = |value: &str, limit: TextLimit| -> Result<String, MappingError> {
        let value = limit.clamp_plaintext(value, key.is_some());
        match key {
            None => Ok(value.to_owned()),
            Some(key) => key
                .encrypt(value)
                .map_err(|source| MappingError::Encryption {
                    id: id.clone(),
                    source,
                }),
        }
    };
    Ok(Change::Upsert(Box::new(EventRow {
        ws_id: origin.ws_id,
        external_event_id: id.clone(),
        external_calendar_id: origin.calendar_id.clone(),
        source_calendar_id: origin.source_calendar_id,
        title: text(title, limits::EVENT_TITLE)?,
        description: text(
            event.description.as_deref().unwrap_or_default(),
            limits::EVENT_DESCRIPTION,
        )?,
        location: text(
            event.location.as_deref().unwrap_or_default(),
            limits::EVENT_LOCATION,
        )?,
        start_at,
        end_at,
        color: color(event.color_id.as_deref()),
        external_updated_at: event.updated,
        is_encrypted: key.is_some(),
        free: event.is_free(),
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

/// An event's `start` or `end`, read.
#[derive(Debug, Clone, Copy)]
enum When {
    Timed(DateTime<Utc>),
    /// Google's end date is exclusive; it is kept as it is.
    AllDay(NaiveDate),
}

impl When {
    /// `dateTime` with its offset, or without one in its `timeZone`; else `date`.
    fn read(time: Option<&EventTime>) -> Option<When> {
        let time = time?;
        if let Some(date_time) = time.date_time.as_deref().filter(|s| !s.is_empty()) {
            if let Ok(t) = DateTime::parse_from_rfc3339(date_time) {
                return Some(When::Timed(t.with_timezone(&Utc)));
            }
            let local = NaiveDateTime::parse_from_str(date_time, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
            let zone: Tz = time.time_zone.as_deref()?.parse().ok()?;
            return Some(When::Timed(shared::time::local_to_utc(zone, local)));
        }
        NaiveDate::parse_from_str(time.date.as_deref()?, "%Y-%m-%d")
            .ok()
            .map(When::AllDay)
    }

    /// The instant stored: all-day dates at UTC midnight, as the web app stores them.
    fn instant(self) -> Option<DateTime<Utc>> {
        match self {
            When::Timed(t) => Some(t),
            When::AllDay(date) => Some(date.and_hms_opt(0, 0, 0)?.and_utc()),
        }
    }
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

    /// `(start, end)` of the row an event with these times becomes.
    fn times(start: serde_json::Value, end: serde_json::Value) -> (String, String) {
        let mapped = row(map_event(
            &event(json!({ "id": "t", "start": start, "end": end })),
            &origin(),
            None,
        )
        .unwrap());
        (mapped.start_at.to_rfc3339(), mapped.end_at.to_rfc3339())
    }

    #[test]
    fn all_day_events_that_do_not_end_after_they_start_are_one_day() {
        let day = (
            "2026-12-24T00:00:00+00:00".to_owned(),
            "2026-12-25T00:00:00+00:00".to_owned(),
        );
        let same = times(
            json!({ "date": "2026-12-24" }),
            json!({ "date": "2026-12-24" }),
        );
        assert_eq!(same, day, "end date equal to the start date");
        let before = times(
            json!({ "date": "2026-12-24" }),
            json!({ "date": "2026-12-20" }),
        );
        assert_eq!(before, day, "end date before the start date");
    }

    #[test]
    fn timed_events_that_do_not_end_after_they_start_last_a_minute() {
        let minute = (
            "2026-12-01T09:00:00+00:00".to_owned(),
            "2026-12-01T09:01:00+00:00".to_owned(),
        );
        let at = json!({ "dateTime": "2026-12-01T10:00:00+01:00" });
        assert_eq!(times(at.clone(), at.clone()), minute, "end equal to start");
        let earlier = json!({ "dateTime": "2026-12-01T08:00:00Z" });
        assert_eq!(times(at, earlier), minute, "end before start");
    }

    #[test]
    fn floating_times_are_read_in_their_zone_and_a_bad_updated_is_ignored() {
        let mapped = row(map_event(
            &event(json!({ "id": "z", "updated": "yesterday",
                "start": { "dateTime": "2027-03-28T02:30:00", "timeZone": "Europe/Berlin" },
                "end": { "dateTime": "2027-03-28T04:00:00", "timeZone": "Europe/Berlin" } })),
            &origin(),
            None,
        )
        .unwrap());
        // 02:30 does not exist that night in Berlin: it moves forward by the gap.
        assert_eq!(mapped.start_at.to_rfc3339(), "2027-03-28T01:30:00+00:00");
        assert_eq!(mapped.end_at.to_rfc3339(), "2027-03-28T02:00:00+00:00");
        assert_eq!(mapped.external_updated_at, None);
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
        assert_eq!(no_end.unwrap_err().reason(), "end missing or unreadable");
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
        // Without an offset a time is only readable with its zone.
        let floating = map_event(
            &event(json!({ "id": "f",
                "start": { "dateTime": "2026-12-01T10:00:00" },
                "end": { "dateTime": "2026-12-01T11:00:00" } })),
            &origin(),
            None,
        );
        assert_eq!(
            floating.unwrap_err().reason(),
            "start missing or unreadable"
        );
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
    }

    #[test]
    fn events_that_take_no_time_are_free_except_out_of_office_and_focus_time() {
        let free = |kind: Option<&str>, transparency: Option<&str>| {
            let mut e = json!({ "id": "f", "start": { "date": "2026-12-01" },
                "end": { "date": "2026-12-02" } });
            if let Some(kind) = kind {
                e["eventType"] = json!(kind);
            }
            if let Some(transparency) = transparency {
                e["transparency"] = json!(transparency);
            }
            row(map_event(&event(e), &origin(), None).unwrap()).free
        };
        assert!(!free(None, None));
        assert!(!free(Some("default"), Some("opaque")));
        assert!(free(Some("default"), Some("transparent")));
        assert!(free(None, Some("transparent")));
        assert!(free(Some("birthday"), Some("transparent")));
        assert!(free(Some("workingLocation"), None));
        assert!(!free(Some("fromGmail"), None));
        assert!(free(Some("fromGmail"), Some("transparent")));
        assert!(!free(Some("outOfOffice"), Some("transparent")));
        assert!(!free(Some("focusTime"), Some("transparent")));
    }

    #[test]
    fn an_id_longer_than_the_columns_allow_is_skipped_and_named() {
        let at_limit = "i".repeat(1_000);
        let mapped = map_event(
            &event(json!({ "id": at_limit, "start": { "date": "2026-12-01" },
                "end": { "date": "2026-12-02" } })),
            &origin(),
            None,
        );
        assert!(matches!(mapped, Ok(Change::Upsert(_))));
        let err = map_event(
            &event(
                json!({ "id": "i".repeat(1_001), "start": { "date": "2026-12-01" },
                "end": { "date": "2026-12-02" } }),
            ),
            &origin(),
            None,
        )
        .unwrap_err();
        assert_eq!(err.reason(), "id too long");
        assert!(err.to_string().contains("1001 characters"), "{err}");
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
            mapped.title.chars().count() <= limits::EVENT_TITLE.chars,
            "{}",
            mapped.title.len()
        );
        assert!(mapped.description.chars().count() <= limits::EVENT_DESCRIPTION.chars);
        assert_eq!(key.decrypt(&mapped.location).unwrap(), "Hanoi");
        let title = key.decrypt(&mapped.title).unwrap();
        assert_eq!(title, "x".repeat(161));
    }
}
