//! Which local dates a habit occurs on (design §10.1), evaluated on calendar
//! dates so DST never moves an occurrence.

use chrono::{Datelike, Days, NaiveDate};

/// How often a habit repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
    Yearly,
    Custom,
}

/// How a monthly habit picks its day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonthlyType {
    DayOfMonth,
    DayOfWeek,
}

/// A habit's recurrence columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    pub frequency: Frequency,
    /// `recurrence_interval` (≥ 1; the column defaults to 1).
    pub interval: u32,
    /// `days_of_week`, 0 = Sunday; empty means the start date's weekday.
    pub days_of_week: Vec<u32>,
    pub monthly_type: Option<MonthlyType>,
    pub day_of_month: Option<u32>,
    /// 1–4, or 5 for the last such weekday of the month.
    pub week_of_month: Option<u32>,
    /// 0 = Sunday.
    pub day_of_week_monthly: Option<u32>,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
}

/// At most this many occurrences are produced (the original's cap).
const MAX_OCCURRENCES: usize = 366;

impl Recurrence {
    /// Every day from `start_date` (the columns' defaults).
    pub fn daily(start_date: NaiveDate) -> Self {
        Recurrence {
            frequency: Frequency::Daily,
            interval: 1,
            days_of_week: Vec::new(),
            monthly_type: None,
            day_of_month: None,
            week_of_month: None,
            day_of_week_monthly: None,
            start_date,
            end_date: None,
        }
    }

    /// The occurrence dates in `[from, to]`, in order.
    pub fn dates_between(&self, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        let mut date = from.max(self.start_date);
        let last = self.end_date.map_or(to, |end| end.min(to));
        while date <= last && out.len() < MAX_OCCURRENCES {
            if self.occurs_on(date) {
                out.push(date);
            }
            match date.checked_add_days(Days::new(1)) {
                Some(next) => date = next,
                None => break,
            }
        }
        out
    }

    /// Whether the habit occurs on `date` (ignoring the end date).
    pub fn occurs_on(&self, date: NaiveDate) -> bool {
        if date < self.start_date {
            return false;
        }
        let interval = i64::from(self.interval.max(1));
        let start = self.start_date;
        match self.frequency {
            Frequency::Daily | Frequency::Custom => (date - start).num_days() % interval == 0,
            Frequency::Weekly => {
                let weekday = date.weekday().num_days_from_sunday();
                let on_day = if self.days_of_week.is_empty() {
                    weekday == start.weekday().num_days_from_sunday()
                } else {
                    self.days_of_week.contains(&weekday)
                };
                on_day && (sunday_week(date) - sunday_week(start)) % interval == 0
            }
            Frequency::Monthly => {
                let months = i64::from(date.year() - start.year()) * 12 + i64::from(date.month())
                    - i64::from(start.month());
                if months % interval != 0 {
                    return false;
                }
                match self.monthly_type {
                    Some(MonthlyType::DayOfWeek) => {
                        let weekday = self
                            .day_of_week_monthly
                            .unwrap_or_else(|| start.weekday().num_days_from_sunday());
                        let week = self.week_of_month.unwrap_or(1);
                        date.weekday().num_days_from_sunday() == weekday
                            && if week >= 5 {
                                // The last such weekday: a week later is next month.
                                date.checked_add_days(Days::new(7))
                                    .is_none_or(|later| later.month() != date.month())
                            } else {
                                (date.day() - 1) / 7 + 1 == week
                            }
                    }
                    Some(MonthlyType::DayOfMonth) | None => {
                        let wanted = self.day_of_month.unwrap_or_else(|| start.day()).max(1);
                        date.day() == wanted.min(days_in_month(date))
                    }
                }
            }
            Frequency::Yearly => {
                let years = i64::from(date.year() - start.year());
                // A Feb 29 start recurs in leap years only (the date exists only then).
                years % interval == 0 && date.month() == start.month() && date.day() == start.day()
            }
        }
    }
}

/// Weeks since an arbitrary Sunday, so two dates in the same Sunday-start week are equal.
fn sunday_week(date: NaiveDate) -> i64 {
    let days = i64::from(date.num_days_from_ce());
    // 0001-01-07 (day 7 from CE) is a Sunday.
    (days - 7).div_euclid(7)
}

fn days_in_month(date: NaiveDate) -> u32 {
    let (y, m) = if date.month() == 12 {
        (date.year() + 1, 1)
    } else {
        (date.year(), date.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|first| first.pred_opt())
        .map_or(28, |last| last.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn rule(frequency: Frequency, start: NaiveDate) -> Recurrence {
        Recurrence {
            frequency,
            ..Recurrence::daily(start)
        }
    }

    #[test]
    fn daily_with_an_interval_counts_from_the_start_date() {
        let mut every_third = rule(Frequency::Daily, d(2026, 12, 1));
        every_third.interval = 3;
        assert_eq!(
            every_third.dates_between(d(2026, 11, 28), d(2026, 12, 10)),
            vec![
                d(2026, 12, 1),
                d(2026, 12, 4),
                d(2026, 12, 7),
                d(2026, 12, 10)
            ]
        );
        every_third.end_date = Some(d(2026, 12, 5));
        assert_eq!(
            every_third
                .dates_between(d(2026, 12, 1), d(2026, 12, 31))
                .len(),
            2
        );
    }

    #[test]
    fn weekly_on_chosen_days_every_other_sunday_week() {
        // 2026-12-01 is a Tuesday.
        let mut r = rule(Frequency::Weekly, d(2026, 12, 1));
        r.days_of_week = vec![1, 3]; // Monday, Wednesday
        r.interval = 2;
        assert_eq!(
            r.dates_between(d(2026, 12, 1), d(2026, 12, 20)),
            vec![d(2026, 12, 2), d(2026, 12, 14), d(2026, 12, 16)]
        );
        let default_day = rule(Frequency::Weekly, d(2026, 12, 1));
        assert_eq!(
            default_day.dates_between(d(2026, 12, 1), d(2026, 12, 15)),
            vec![d(2026, 12, 1), d(2026, 12, 8), d(2026, 12, 15)]
        );
    }

    #[test]
    fn monthly_by_day_clamps_to_the_month_end() {
        let r = rule(Frequency::Monthly, d(2027, 1, 31));
        assert_eq!(
            r.dates_between(d(2027, 1, 1), d(2027, 5, 31)),
            vec![
                d(2027, 1, 31),
                d(2027, 2, 28),
                d(2027, 3, 31),
                d(2027, 4, 30),
                d(2027, 5, 31)
            ]
        );
        let leap = rule(Frequency::Monthly, d(2028, 1, 30));
        assert!(leap.occurs_on(d(2028, 2, 29)));
    }

    #[test]
    fn monthly_by_week_including_the_last_weekday() {
        let mut second_tuesday = rule(Frequency::Monthly, d(2026, 12, 1));
        second_tuesday.monthly_type = Some(MonthlyType::DayOfWeek);
        second_tuesday.week_of_month = Some(2);
        second_tuesday.day_of_week_monthly = Some(2);
        assert_eq!(
            second_tuesday.dates_between(d(2026, 12, 1), d(2027, 2, 28)),
            vec![d(2026, 12, 8), d(2027, 1, 12), d(2027, 2, 9)]
        );
        let mut last_friday = second_tuesday.clone();
        last_friday.week_of_month = Some(5);
        last_friday.day_of_week_monthly = Some(5);
        assert_eq!(
            last_friday.dates_between(d(2026, 12, 1), d(2027, 1, 31)),
            vec![d(2026, 12, 25), d(2027, 1, 29)]
        );
    }

    #[test]
    fn yearly_feb_29_only_in_leap_years() {
        let r = rule(Frequency::Yearly, d(2024, 2, 29));
        let dates = r.dates_between(d(2024, 1, 1), d(2032, 12, 31));
        assert_eq!(dates, vec![d(2024, 2, 29), d(2028, 2, 29), d(2032, 2, 29)]);
        let mut biennial = rule(Frequency::Yearly, d(2026, 6, 15));
        biennial.interval = 2;
        assert_eq!(
            biennial.dates_between(d(2026, 1, 1), d(2030, 12, 31)),
            vec![d(2026, 6, 15), d(2028, 6, 15), d(2030, 6, 15)]
        );
    }
}
