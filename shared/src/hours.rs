//! Working-hour settings (`workspace_calendar_hour_settings.data`) and the time blocks they
//! open on a given local date.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::time::local_to_utc;

/// One day's settings: `{ "enabled": bool, "timeBlocks": [{ "startTime": "HH:MM", "endTime": "HH:MM" }] }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct DayHours {
    #[serde(default)]
    pub enabled: bool,
    #[serde(rename = "timeBlocks", default)]
    pub time_blocks: Vec<TimeBlock>,
}

/// A block of local wall-clock time, `"HH:MM"` to `"HH:MM"` (`"24:00"` means midnight).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TimeBlock {
    #[serde(rename = "startTime")]
    pub start_time: String,
    #[serde(rename = "endTime")]
    pub end_time: String,
}

/// A week of hour settings (Tuturuuu's `WeekTimeRanges`). A day missing from the JSON is off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct WeekHours {
    #[serde(default)]
    pub monday: DayHours,
    #[serde(default)]
    pub tuesday: DayHours,
    #[serde(default)]
    pub wednesday: DayHours,
    #[serde(default)]
    pub thursday: DayHours,
    #[serde(default)]
    pub friday: DayHours,
    #[serde(default)]
    pub saturday: DayHours,
    #[serde(default)]
    pub sunday: DayHours,
}

/// Hour settings that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error("hour settings are not valid WeekTimeRanges JSON: {0}")]
    Shape(String),
    #[error("hour settings of {day} have an invalid time {value:?} (expected HH:MM)")]
    Time { day: &'static str, value: String },
}

fn parse_time(day: &'static str, value: &str) -> Result<(u32, u32), HoursError> {
    let bad = || HoursError::Time {
        day,
        value: value.to_owned(),
    };
    let (h, m) = value.trim().split_once(':').ok_or_else(bad)?;
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.get(..2).unwrap_or(m).parse().map_err(|_| bad())?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok((h, m))
}

impl WeekHours {
    /// The same block every day of the week, e.g. the 09:00–17:00 work default.
    pub fn every_day(start: &str, end: &str) -> Self {
        let day = DayHours {
            enabled: true,
            time_blocks: vec![TimeBlock {
                start_time: start.to_owned(),
                end_time: end.to_owned(),
            }],
        };
        WeekHours {
            monday: day.clone(),
            tuesday: day.clone(),
            wednesday: day.clone(),
            thursday: day.clone(),
            friday: day.clone(),
            saturday: day.clone(),
            sunday: day,
        }
    }

    /// Parses the `data` column and checks every time.
    ///
    /// # Errors
    /// The JSON has the wrong shape or a time is not `HH:MM`.
    pub fn from_json(data: serde_json::Value) -> Result<Self, HoursError> {
        let week: WeekHours =
            serde_json::from_value(data).map_err(|err| HoursError::Shape(err.to_string()))?;
        for (name, day) in week.days() {
            for block in &day.time_blocks {
                parse_time(name, &block.start_time)?;
                parse_time(name, &block.end_time)?;
            }
        }
        Ok(week)
    }

    fn days(&self) -> [(&'static str, &DayHours); 7] {
        [
            ("monday", &self.monday),
            ("tuesday", &self.tuesday),
            ("wednesday", &self.wednesday),
            ("thursday", &self.thursday),
            ("friday", &self.friday),
            ("saturday", &self.saturday),
            ("sunday", &self.sunday),
        ]
    }

    fn day(&self, weekday: Weekday) -> (&'static str, &DayHours) {
        self.days()[weekday.num_days_from_monday() as usize]
    }

    /// The enabled blocks of local `date` in `tz`, as UTC intervals sorted by start. Blocks
    /// that are empty after DST resolution are dropped.
    pub fn blocks_on(&self, date: NaiveDate, tz: Tz) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let (name, day) = self.day(date.weekday());
        if !day.enabled {
            return Vec::new();
        }
        let at = |(h, m): (u32, u32)| {
            let (date, h) = if h == 24 {
                (date.succ_opt().unwrap_or(date), 0)
            } else {
                (date, h)
            };
            local_to_utc(
                tz,
                date.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default()),
            )
        };
        let mut blocks: Vec<_> = day
            .time_blocks
            .iter()
            .filter_map(|block| {
                let start = parse_time(name, &block.start_time).ok()?;
                let end = parse_time(name, &block.end_time).ok()?;
                let (start, end) = (at(start), at(end));
                (start < end).then_some((start, end))
            })
            .collect();
        blocks.sort();
        blocks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_follow_the_local_zone_across_dst() {
        let hours = WeekHours::every_day("09:00", "17:00");
        let berlin = chrono_tz::Europe::Berlin;
        let winter = hours.blocks_on(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(), berlin);
        assert_eq!(winter[0].0.to_rfc3339(), "2026-12-01T08:00:00+00:00");
        assert_eq!(winter[0].1.to_rfc3339(), "2026-12-01T16:00:00+00:00");
        let summer = hours.blocks_on(NaiveDate::from_ymd_opt(2026, 7, 1).unwrap(), berlin);
        assert_eq!(summer[0].0.to_rfc3339(), "2026-07-01T07:00:00+00:00");
    }

    #[test]
    fn disabled_and_missing_days_have_no_blocks() {
        let hours = WeekHours::from_json(serde_json::json!({
            "monday": { "enabled": true, "timeBlocks": [{ "startTime": "13:00", "endTime": "24:00" }, { "startTime": "08:00", "endTime": "12:00" }] },
            "tuesday": { "enabled": false, "timeBlocks": [{ "startTime": "08:00", "endTime": "12:00" }] }
        }))
        .unwrap();
        let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let blocks = hours.blocks_on(monday, Tz::UTC);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].0.to_rfc3339(), "2026-11-30T08:00:00+00:00");
        assert_eq!(blocks[1].1.to_rfc3339(), "2026-12-01T00:00:00+00:00");
        assert!(
            hours
                .blocks_on(monday.succ_opt().unwrap(), Tz::UTC)
                .is_empty()
        );
        assert!(
            hours
                .blocks_on(NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(), Tz::UTC)
                .is_empty()
        );
    }

    #[test]
    fn bad_times_name_the_day() {
        let err = WeekHours::from_json(serde_json::json!({
            "friday": { "enabled": true, "timeBlocks": [{ "startTime": "9am", "endTime": "17:00" }] }
        }))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "hour settings of friday have an invalid time \"9am\" (expected HH:MM)"
        );
        assert!(WeekHours::from_json(serde_json::json!([1])).is_err());
    }
}
