//! Bad input, generated: arbitrary bodies for every task's payload parser and arbitrary Google
//! event resources for the event mapping. Nothing panics; every rejection names what is wrong,
//! briefly (errors are logged and stored, so they must never carry a whole payload).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use google_sync::event_mapping::{Change, MappingError, Origin, map_event};
use google_sync::google::client::EventsPage;
use proptest::prelude::*;
use serde_json::{Value, json};
use shared::limits::EVENT_TITLE;
use shared::payload::{
    CalendarFullSyncPayload, CalendarSyncPayload, JobPayload, PayloadError, ScheduleTaskPayload,
    UnifiedSchedulePayload,
};
use uuid::Uuid;

/// The longest error message a rejection may carry.
const MAX_ERROR_CHARS: usize = 300;
const FIELDS: [&str; 6] = [
    "ws_id",
    "calendarId",
    "windowDays",
    "forceReschedule",
    "user_id",
    "access_token",
];

/// Text with what breaks parsers: multi-byte and control characters, quotes, escapes, and now
/// and then a huge run.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => any::<String>(),
        1 => "[\\\\\"\\u{0}-\\u{1f}é✓😀]{0,40}",
        1 => (any::<char>(), 10_000..200_000usize).prop_map(|(c, n)| c.to_string().repeat(n)),
    ]
}

/// Dates and times, valid and not, down to the representable limits.
fn moment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("2026-11-27T10:00:00Z".to_owned()),
        Just("+275760-09-13T00:00:00Z".to_owned()),
        Just("-262144-01-01T00:00:00Z".to_owned()),
        Just("9999-12-31T23:59:59.999999999+14:00".to_owned()),
        Just("0000-01-01T00:00:00-14:00".to_owned()),
        Just("2024-02-30".to_owned()),
        Just("+262142-12-31".to_owned()),
        Just("1970-01-01".to_owned()),
        (-300_000i64..300_000, 0u32..14, 0u32..33)
            .prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        (0i64..i64::MAX).prop_map(|s| format!("{s}")),
        text(),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        text().prop_map(Value::from),
        Just(json!(Uuid::nil())),
        moment().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    prop::sample::select(FIELDS.to_vec()).prop_map(str::to_owned),
                    text()
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A body: arbitrary text, arbitrary JSON, or an object with a valid `ws_id` and one field
/// set to anything.
fn body() -> impl Strategy<Value = String> {
    prop_oneof![
        text(),
        json_value().prop_map(|v| v.to_string()),
        (prop::sample::select(FIELDS.to_vec()), json_value()).prop_map(|(field, value)| {
            let mut body = json!({ "ws_id": Uuid::new_v4() });
            body[field] = value;
            body.to_string()
        }),
        // Escapes that are not Unicode scalar values.
        prop::sample::select(vec![
            r"\ud800",
            r"\udc00",
            r"\ud800\u0041",
            r"\uDFFF\uD800",
            r"\u00"
        ])
        .prop_map(|escape| format!(r#"{{"ws_id":"{escape}","calendarId":"{escape}"}}"#)),
    ]
}

fn check_payload<P: JobPayload>(body: &str) -> Result<(), TestCaseError> {
    match P::parse(body) {
        Ok(payload) => {
            // Accepted: it round-trips and carries no token.
            let again = serde_json::to_string(&payload).unwrap();
            prop_assert!(P::parse(&again).is_ok());
            prop_assert!(!again.contains("access_token"));
        }
        Err(err) => {
            let message = err.to_string();
            prop_assert!(
                message.chars().count() <= MAX_ERROR_CHARS,
                "error too long ({} chars): {}…",
                message.chars().count(),
                message.chars().take(80).collect::<String>()
            );
            match &err {
                PayloadError::NoBody => {}
                PayloadError::NotJson(reason) => prop_assert!(!reason.is_empty()),
                PayloadError::Missing { field } => prop_assert!(!field.is_empty()),
                PayloadError::Invalid { field, reason } => {
                    prop_assert!(!field.is_empty() && !reason.is_empty(), "{message}");
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_payload_parser_accepts_or_names_the_problem(body in body()) {
        check_payload::<CalendarSyncPayload>(&body)?;
        check_payload::<CalendarFullSyncPayload>(&body)?;
        check_payload::<ScheduleTaskPayload>(&body)?;
        check_payload::<UnifiedSchedulePayload>(&body)?;
    }

    #[test]
    fn a_field_of_the_wrong_shape_is_named(field in prop::sample::select(vec!["ws_id", "calendarId", "user_id"]), value in json_value()) {
        let mut body = json!({ "ws_id": Uuid::new_v4() });
        body[field] = value;
        if let Err(err) = UnifiedSchedulePayload::parse(&body.to_string())
            .map(|_| ())
            .and(CalendarSyncPayload::parse(&body.to_string()).map(|_| ()))
        {
            prop_assert!(err.to_string().contains(field), "{field}: {err}");
        }
    }

    #[test]
    fn any_google_event_maps_or_is_skipped_with_a_reason(
        id in prop_oneof![Just(String::new()), Just("  ".to_owned()), "[a-z0-9]{1,20}", text()],
        status in prop::option::of(prop_oneof![Just("cancelled".to_owned()), Just("confirmed".to_owned()), text()]),
        summary in prop::option::of(text()),
        description in prop::option::of(text()),
        start in prop::option::of(moment()),
        end in prop::option::of(moment()),
        all_day in any::<bool>(),
        extra in json_value(),
    ) {
        let key = if all_day { "date" } else { "dateTime" };
        let mut item = json!({ "id": id, "status": status, "summary": summary, "description": description, "extra": extra });
        if let Some(start) = start { item["start"] = json!({ key: start }); }
        if let Some(end) = end { item["end"] = json!({ key: end }); }
        let page: EventsPage = serde_json::from_value(json!({ "items": [item, extra] })).unwrap();
        let (events, unreadable) = page.events();
        prop_assert_eq!(events.len() + unreadable, 2);
        let origin = Origin { ws_id: Uuid::nil(), calendar_id: "primary".to_owned(), source_calendar_id: None };
        for event in &events {
            match map_event(event, &origin, None) {
                Ok(Change::Upsert(row)) => {
                    prop_assert!(row.end_at > row.start_at);
                    prop_assert!(EVENT_TITLE.fits(&row.title));
                    prop_assert!(!row.title.trim().is_empty());
                }
                Ok(Change::Delete(id)) => prop_assert_eq!(id, event.id.clone()),
                Err(MappingError::NoId) => prop_assert!(event.id.trim().is_empty()),
                Err(err) => {
                    // An id too long to store is named by its first 40 characters.
                    let message = err.to_string();
                    let named: String = event.id.chars().take(40).collect();
                    prop_assert!(message.contains(&named), "{}", message);
                }
            }
        }
    }
}

#[test]
fn deeply_nested_and_truncated_bodies_are_rejected_as_json() {
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for body in [nested.as_str(), "{\"ws_id\": \"", "", "\u{feff}{}", "null"] {
        let err = CalendarSyncPayload::parse(body).unwrap_err();
        assert!(
            matches!(err, PayloadError::NotJson(_) | PayloadError::Invalid { .. }),
            "{body:.20}: {err}"
        );
        assert!(err.to_string().len() <= MAX_ERROR_CHARS, "{err}");
    }
}

#[test]
fn a_huge_value_is_not_repeated_in_the_error() {
    let huge = "✓".repeat(100_000);
    for field in [
        "ws_id",
        "calendarId",
        "windowDays",
        "forceReschedule",
        "user_id",
    ] {
        let mut body = json!({ "ws_id": Uuid::new_v4() });
        body[field] = json!(huge);
        let body = body.to_string();
        for err in [
            UnifiedSchedulePayload::parse(&body).err(),
            CalendarSyncPayload::parse(&body).err(),
        ]
        .into_iter()
        .flatten()
        {
            let message = err.to_string();
            assert!(message.contains(field), "{field}: {message:.100}");
            assert!(
                message.chars().count() <= MAX_ERROR_CHARS,
                "{field}: {} chars",
                message.chars().count()
            );
        }
    }
}
