//! Wall-clock helpers: workspace timezones and quarter-hour rounding.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A workspace's `timezone` column that is not a valid IANA zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timezone {0:?} is not a valid IANA zone")]
pub struct InvalidTimezone(pub String);

/// The zone of a workspace: its IANA `timezone`, or UTC when unset or `auto` (the rule of
/// `schedule-task`; `unified-schedule` is stricter about `auto`, see its `inputs::zone`).
///
/// # Errors
/// The column holds something that is neither `auto` nor an IANA zone.
pub fn workspace_zone(column: Option<&str>) -> Result<Tz, InvalidTimezone> {
    match column.map(str::trim) {
        None | Some("") | Some("auto") => Ok(Tz::UTC),
        Some(name) => name
            .parse::<Tz>()
            .map_err(|_| InvalidTimezone(name.to_owned())),
    }
}

/// The instant of a local wall-clock time. A time inside a DST gap moves forward by the size of
/// the gap (02:30 on a spring-forward night becomes 03:30); an ambiguous time takes its first
/// occurrence.
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => {
            // Offsets before and after the gap tell its size.
            let before = tz.offset_from_utc_datetime(&(local - Duration::days(1)));
            let after = tz.offset_from_utc_datetime(&(local + Duration::days(1)));
            let gap = chrono::Offset::fix(&after).local_minus_utc()
                - chrono::Offset::fix(&before).local_minus_utc();
            let shifted = local + Duration::seconds(i64::from(gap.abs().max(60)));
            match tz.from_local_datetime(&shifted) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
                // Only reachable for a gap larger than a day; treat the wall time as UTC.
                LocalResult::None => Utc.from_utc_datetime(&local),
            }
        }
    }
}

const QUARTER_SECONDS: i64 = 15 * 60;

/// Rounds up to the next quarter hour (an exact quarter stays).
pub fn ceil_quarter(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp();
    let nanos = t.timestamp_subsec_nanos();
    let rem = secs.rem_euclid(QUARTER_SECONDS);
    if rem == 0 && nanos == 0 {
        return t;
    }
    DateTime::from_timestamp(secs - rem + QUARTER_SECONDS, 0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    #[test]
    fn auto_and_unset_timezones_are_utc_and_bad_ones_are_named() {
        assert_eq!(workspace_zone(None).unwrap(), Tz::UTC);
        assert_eq!(workspace_zone(Some("auto")).unwrap(), Tz::UTC);
        assert_eq!(
            workspace_zone(Some("Europe/Berlin")).unwrap(),
            chrono_tz::Europe::Berlin
        );
        assert_eq!(
            workspace_zone(Some("Mars/Olympus"))
                .unwrap_err()
                .to_string(),
            "timezone \"Mars/Olympus\" is not a valid IANA zone"
        );
    }

    #[test]
    fn times_in_a_dst_gap_move_forward_and_overlaps_take_the_first() {
        let berlin = chrono_tz::Europe::Berlin;
        // 2026-03-29 02:30 does not exist in Berlin: clocks jump from 02:00 to 03:00 (01:00Z).
        assert_eq!(
            local_to_utc(berlin, local(2026, 3, 29, 2, 30)).to_rfc3339(),
            "2026-03-29T01:30:00+00:00"
        );
        // 2026-10-25 02:30 happens twice; the first is at +02:00.
        assert_eq!(
            local_to_utc(berlin, local(2026, 10, 25, 2, 30)).to_rfc3339(),
            "2026-10-25T00:30:00+00:00"
        );
        assert_eq!(
            local_to_utc(berlin, local(2026, 7, 1, 9, 0)).to_rfc3339(),
            "2026-07-01T07:00:00+00:00"
        );
    }

    #[test]
    fn ceil_quarter_rounds_up_and_keeps_exact_quarters() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            ceil_quarter(t("2026-12-01T08:00:00Z")),
            t("2026-12-01T08:00:00Z")
        );
        assert_eq!(
            ceil_quarter(t("2026-12-01T08:00:01Z")),
            t("2026-12-01T08:15:00Z")
        );
        assert_eq!(
            ceil_quarter(t("2026-12-01T08:44:59.5Z")),
            t("2026-12-01T08:45:00Z")
        );
    }
}
