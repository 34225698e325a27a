#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use shared::hours::WeekHours;
use uuid::Uuid;

use super::recurrence::{Frequency, MonthlyType, Recurrence};
use super::*;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn habit(n: u128, name: &str, start: NaiveDate) -> Habit {
    Habit {
        id: Uuid::from_u128(n),
        name: name.to_owned(),
        color: None,
        hour_type: HourType::Personal,
        priority: Priority::Normal,
        duration_minutes: 30,
        min_duration_minutes: None,
        max_duration_minutes: None,
        ideal_time: None,
        time_preference: None,
        recurrence: Recurrence::daily(start),
        is_splittable: false,
        min_instances: None,
        ideal_instances: None,
        max_instances: None,
        dependency: None,
    }
}

fn task(n: u128, name: &str, minutes: i64, now: DateTime<Utc>) -> Task {
    Task {
        id: Uuid::from_u128(n),
        name: name.to_owned(),
        priority: Priority::Normal,
        total_minutes: minutes,
        is_splittable: false,
        min_split_minutes: None,
        max_split_minutes: None,
        hour_type: HourType::Work,
        start_date: None,
        deadline: None,
        created_at: now - Duration::days(1),
    }
}

fn inputs(tz: Tz, now: DateTime<Utc>, days: u32) -> Inputs {
    Inputs {
        habits: Vec::new(),
        tasks: Vec::new(),
        existing: Vec::new(),
        hours: HourSettings::default(),
        skips: HashSet::new(),
        locked: HashMap::new(),
        tz,
        now,
        window_days: days,
    }
}

fn at_local(tz: Tz, date: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    tz.from_local_datetime(&date.and_hms_opt(h, m, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

fn of(output: &Output, id: u128) -> Vec<&Planned> {
    output
        .events
        .iter()
        .filter(|e| match e.source {
            Source::Habit { habit_id, .. } => habit_id == Uuid::from_u128(id),
            Source::Task { task_id } => task_id == Uuid::from_u128(id),
        })
        .collect()
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

#[test]
fn an_ideal_time_is_kept_across_dst_transitions_in_the_local_zone() {
    let ny: Tz = "America/New_York".parse().unwrap();
    // Spring forward on 2026-03-08 and fall back on 2026-11-01.
    for (now, days) in [
        (t("2026-03-06T12:00:00Z"), 4),
        (t("2026-10-30T12:00:00Z"), 4),
    ] {
        let mut input = inputs(ny, now, days);
        let mut h = habit(1, "Run", d(2026, 1, 1));
        h.ideal_time = Some(NaiveTime::from_hms_opt(9, 0, 0).unwrap());
        input.habits.push(h);
        let output = generate(&input);
        let events = of(&output, 1);
        assert_eq!(events.len(), days as usize, "{:?}", output.habit_warnings);
        for event in events {
            let local = event.start.with_timezone(&ny);
            assert_eq!(
                local.time(),
                NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                "{local}"
            );
            assert_eq!(event.end - event.start, Duration::minutes(30));
        }
    }
}

#[test]
fn a_wish_inside_a_dst_gap_moves_forward_not_into_another_hour() {
    let ny: Tz = "America/New_York".parse().unwrap();
    let mut input = inputs(ny, t("2026-03-07T12:00:00Z"), 2);
    input.hours.personal = WeekHours::every_day("00:00", "24:00");
    let mut h = habit(1, "Night owl", d(2026, 1, 1));
    h.ideal_time = Some(NaiveTime::from_hms_opt(2, 30, 0).unwrap());
    input.habits.push(h);
    let output = generate(&input);
    let gap_day = of(&output, 1)
        .into_iter()
        .find(|e| e.start.with_timezone(&ny).date_naive() == d(2026, 3, 8))
        .expect("scheduled on the transition day");
    // 02:30 does not exist that night; the first wall time after the gap is 03:30.
    assert_eq!(gap_day.start, at_local(ny, d(2026, 3, 8), 3, 30));
}

#[test]
fn the_same_inputs_give_the_same_output() {
    let now = t("2026-12-01T06:00:00Z");
    let mut input = inputs(Tz::Europe__Berlin, now, 14);
    for i in 0..6 {
        let mut h = habit(i, &format!("Habit {i}"), d(2026, 11, 1));
        h.duration_minutes = 30 + 15 * i as i64;
        input.habits.push(h);
    }
    input.tasks.push(task(100, "Report", 240, now));
    assert_eq!(generate(&input), generate(&input));
}

#[test]
fn month_end_and_leap_day_recurrences_reach_the_engine() {
    let now = t("2028-01-15T00:00:00Z");
    let mut input = inputs(Tz::UTC, now, 90);
    let mut monthly = habit(1, "Budget", d(2027, 10, 31));
    monthly.recurrence.frequency = Frequency::Monthly;
    monthly.recurrence.monthly_type = Some(MonthlyType::DayOfMonth);
    input.habits.push(monthly);
    let mut yearly = habit(2, "Leap", d(2024, 2, 29));
    yearly.recurrence.frequency = Frequency::Yearly;
    input.habits.push(yearly);
    let output = generate(&input);
    let dates = |id| -> Vec<NaiveDate> {
        of(&output, id)
            .iter()
            .map(|e| e.start.date_naive())
            .collect()
    };
    assert_eq!(
        dates(1),
        vec![d(2028, 1, 31), d(2028, 2, 29), d(2028, 3, 31)]
    );
    assert_eq!(dates(2), vec![d(2028, 2, 29)]);
}

#[test]
fn dependency_chains_follow_each_other_on_the_same_day() {
    let now = t("2026-12-01T05:00:00Z");
    let mut input = inputs(Tz::UTC, now, 3);
    let mut wake = habit(1, "Wake", d(2026, 1, 1));
    wake.ideal_time = Some(NaiveTime::from_hms_opt(8, 0, 0).unwrap());
    let mut stretch = habit(2, "Stretch", d(2026, 1, 1));
    stretch.dependency = Some((wake.id, DependencyType::After));
    stretch.ideal_time = Some(NaiveTime::from_hms_opt(7, 0, 0).unwrap());
    let mut journal = habit(3, "Journal", d(2026, 1, 1));
    journal.dependency = Some((stretch.id, DependencyType::After));
    // Listed out of order on purpose.
    input.habits = vec![journal, stretch, wake];
    let output = generate(&input);
    for day in 1..=3 {
        let on = |id| {
            of(&output, id)
                .into_iter()
                .find(|e| e.start.date_naive() == d(2026, 12, day))
                .unwrap()
                .clone()
        };
        let (w, s, j) = (on(1), on(2), on(3));
        assert!(w.end <= s.start && s.end <= j.start, "{w:?} {s:?} {j:?}");
    }
}

#[test]
fn a_before_dependency_and_a_cycle_are_both_handled() {
    let now = t("2026-12-01T05:00:00Z");
    let mut input = inputs(Tz::UTC, now, 2);
    let mut a = habit(1, "A", d(2026, 1, 1));
    let mut b = habit(2, "B", d(2026, 1, 1));
    a.dependency = Some((b.id, DependencyType::Before));
    a.ideal_time = Some(NaiveTime::from_hms_opt(10, 0, 0).unwrap());
    b.ideal_time = Some(NaiveTime::from_hms_opt(9, 0, 0).unwrap());
    input.habits = vec![a.clone(), b.clone()];
    let output = generate(&input);
    let (ea, eb) = (of(&output, 1)[0].clone(), of(&output, 2)[0].clone());
    assert!(ea.end <= eb.start, "A comes before B: {ea:?} {eb:?}");

    // A after B and B after A: no order exists; both are still scheduled.
    b.dependency = Some((a.id, DependencyType::After));
    a.dependency = Some((b.id, DependencyType::After));
    input.habits = vec![a, b];
    let output = generate(&input);
    assert_eq!(of(&output, 1).len(), 2);
    assert_eq!(of(&output, 2).len(), 2);
}

#[test]
fn splittable_habits_are_placed_in_numbered_instances() {
    let now = t("2026-12-01T05:00:00Z");
    let mut input = inputs(Tz::UTC, now, 1);
    let mut h = habit(1, "Water", d(2026, 1, 1));
    h.is_splittable = true;
    h.duration_minutes = 90;
    h.min_instances = Some(2);
    h.ideal_instances = Some(3);
    h.max_instances = Some(4);
    h.min_duration_minutes = Some(30);
    input.habits.push(h);
    let output = generate(&input);
    let events = of(&output, 1);
    assert_eq!(events.len(), 3);
    let titles: Vec<&str> = events.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(titles, ["Water (1/3)", "Water (2/3)", "Water (3/3)"]);
    assert!(
        events
            .iter()
            .all(|e| e.end - e.start == Duration::minutes(30))
    );

    // A locked instance that day counts first.
    let mut input = input.clone();
    input.locked.insert(
        (Uuid::from_u128(1), d(2026, 12, 1)),
        LockedInstances {
            count: 1,
            minutes: 30,
            intervals: vec![(t("2026-12-01T07:00:00Z"), t("2026-12-01T07:30:00Z"))],
        },
    );
    input.existing.push(Existing {
        start: t("2026-12-01T07:00:00Z"),
        end: t("2026-12-01T07:30:00Z"),
        movable: false,
    });
    let output = generate(&input);
    let titles: Vec<String> = of(&output, 1).iter().map(|e| e.title.clone()).collect();
    assert_eq!(titles, ["Water (2/3)", "Water (3/3)"]);
}

#[test]
fn quarter_hours_deviation_limits_and_skips() {
    let now = t("2026-12-01T05:03:00Z");
    let mut input = inputs(Tz::UTC, now, 3);
    // Personal hours only 20:00–22:00; a morning habit cannot deviate that far.
    input.hours.personal = WeekHours::every_day("20:00", "22:00");
    let mut morning = habit(1, "Morning pages", d(2026, 1, 1));
    morning.ideal_time = Some(NaiveTime::from_hms_opt(7, 0, 0).unwrap());
    let mut evening = habit(2, "Read", d(2026, 1, 1));
    evening.time_preference = Some(TimePreference::Evening);
    evening.duration_minutes = 40;
    input.habits = vec![morning, evening];
    input.skips.insert((Uuid::from_u128(2), d(2026, 12, 2)));
    let output = generate(&input);
    assert!(of(&output, 1).is_empty());
    assert!(
        output
            .habit_warnings
            .iter()
            .any(|w| w.message.starts_with("Skipping Morning pages"))
    );
    let reads = of(&output, 2);
    let days: Vec<NaiveDate> = reads.iter().map(|e| e.start.date_naive()).collect();
    assert_eq!(
        days,
        vec![d(2026, 12, 1), d(2026, 12, 3)],
        "the skipped day is left out"
    );
    for e in reads {
        assert_eq!(e.start.timestamp() % 900, 0, "quarter hours");
        assert_eq!(
            e.end - e.start,
            Duration::minutes(45),
            "40 minutes round to 45"
        );
    }
}

#[test]
fn obstacles_and_hour_settings_are_honoured() {
    let now = t("2026-12-01T05:00:00Z");
    let mut input = inputs(Tz::Europe__Berlin, now, 1);
    input.hours.work = WeekHours::every_day("09:00", "12:00");
    let mut focus = habit(1, "Focus", d(2026, 1, 1));
    focus.hour_type = HourType::Work;
    focus.duration_minutes = 60;
    focus.ideal_time = Some(NaiveTime::from_hms_opt(9, 0, 0).unwrap());
    input.habits.push(focus);
    // A locked Google event 09:00–10:30 Berlin, and a movable old placement 10:30–11:30.
    input.existing.push(Existing {
        start: t("2026-12-01T08:00:00Z"),
        end: t("2026-12-01T09:30:00Z"),
        movable: false,
    });
    input.existing.push(Existing {
        start: t("2026-12-01T09:30:00Z"),
        end: t("2026-12-01T10:30:00Z"),
        movable: true,
    });
    let output = generate(&input);
    let events = of(&output, 1);
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].start,
        t("2026-12-01T09:30:00Z"),
        "right after the obstacle"
    );
    assert_eq!(events[0].color, "BLUE");
}

#[test]
fn a_task_that_cannot_fit_before_its_deadline_is_reported() {
    let now = t("2026-12-01T08:00:00Z");
    let mut input = inputs(Tz::UTC, now, 7);
    input.hours.work = WeekHours::every_day("09:00", "17:00");
    let mut big = task(1, "Migration", 10 * 60, now);
    big.is_splittable = true;
    big.deadline = Some(t("2026-12-01T15:00:00Z"));
    input.tasks.push(big);
    let output = generate(&input);
    let events = of(&output, 1);
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e.end <= t("2026-12-01T15:00:00Z")));
    let placed: i64 = events.iter().map(|e| (e.end - e.start).num_minutes()).sum();
    assert!(placed < 600);
    assert_eq!(output.summary.partially_scheduled_tasks, 1);
    assert!(
        output.task_warnings[0]
            .message
            .contains("could not be scheduled")
    );

    let mut input = inputs(Tz::UTC, now, 7);
    input.hours.work = WeekHours::every_day("09:00", "10:00");
    let mut whole = task(2, "Workshop", 180, now);
    whole.deadline = Some(t("2026-12-03T00:00:00Z"));
    input.tasks.push(whole);
    let output = generate(&input);
    assert!(of(&output, 2).is_empty());
    assert_eq!(output.summary.unscheduled_tasks, 1);
}

#[test]
fn an_urgent_task_bumps_a_lower_priority_habit_which_is_rebuilt() {
    let now = t("2026-12-01T08:00:00Z");
    let mut input = inputs(Tz::UTC, now, 2);
    input.hours.work = WeekHours::every_day("09:00", "12:00");
    let mut low = habit(1, "Inbox zero", d(2026, 1, 1));
    low.hour_type = HourType::Work;
    low.priority = Priority::Low;
    low.duration_minutes = 60;
    low.ideal_time = Some(NaiveTime::from_hms_opt(10, 0, 0).unwrap());
    input.habits.push(low);
    let mut urgent = task(2, "Hotfix", 150, now);
    urgent.priority = Priority::High;
    urgent.deadline = Some(t("2026-12-01T13:00:00Z"));
    input.tasks.push(urgent);
    let output = generate(&input);
    let fix = of(&output, 2);
    assert_eq!(fix.len(), 1);
    assert!(fix[0].end <= t("2026-12-01T13:00:00Z"));
    assert_eq!(output.summary.bumped_habits, 1);
    // The habit was rebuilt in what is left of the morning (30 minutes is its minimum).
    let today: Vec<_> = of(&output, 1)
        .into_iter()
        .filter(|e| e.start.date_naive() == d(2026, 12, 1))
        .collect();
    assert_eq!(today.len(), 1);
    assert!(today[0].start >= fix[0].end || today[0].end <= fix[0].start);
}

#[test]
fn tasks_go_by_priority_then_deadline() {
    let now = t("2026-12-01T08:00:00Z");
    let mut input = inputs(Tz::UTC, now, 4);
    input.hours.work = WeekHours::every_day("09:00", "10:00");
    let mut later = task(1, "Later", 60, now);
    later.deadline = Some(now + Duration::days(3));
    let mut sooner = task(2, "Sooner", 60, now);
    sooner.deadline = Some(now + Duration::days(1) + Duration::hours(12));
    let mut critical = task(3, "Critical", 60, now);
    critical.priority = Priority::Critical;
    input.tasks = vec![later, sooner, critical];
    let output = generate(&input);
    let day_of = |id| of(&output, id)[0].start.date_naive();
    assert_eq!(day_of(3), d(2026, 12, 1));
    assert_eq!(day_of(2), d(2026, 12, 2));
    assert_eq!(day_of(1), d(2026, 12, 3));
}

/// Checks the invariants every schedule must keep.
fn assert_valid(input: &Inputs, output: &Output) {
    let mut sorted: Vec<&Planned> = output.events.iter().collect();
    sorted.sort_by_key(|e| e.start);
    for pair in sorted.windows(2) {
        assert!(
            pair[0].end <= pair[1].start,
            "overlap: {:?} {:?}",
            pair[0],
            pair[1]
        );
    }
    for event in &output.events {
        assert!(event.start < event.end);
        assert!(event.start >= input.now, "in the past: {event:?}");
        for obstacle in input.existing.iter().filter(|e| !e.movable) {
            assert!(
                event.end <= obstacle.start || event.start >= obstacle.end,
                "{event:?} overlaps locked {obstacle:?}"
            );
        }
        let date = event.start.with_timezone(&input.tz).date_naive();
        let blocks = input.hours.of(event.hour_type).blocks_on(date, input.tz);
        assert!(
            blocks
                .iter()
                .any(|(s, e)| *s <= event.start && event.end <= *e),
            "{event:?} outside its hours {blocks:?}"
        );
    }
}

fn zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(vec![
        Tz::UTC,
        Tz::Europe__Berlin,
        Tz::America__New_York,
        Tz::Asia__Kolkata,
        Tz::Australia__Lord_Howe,
    ])
}

prop_compose! {
    fn arb_habit(n: u128)(
        duration in 10i64..150,
        ideal in prop::option::of(0u32..24),
        pref in prop::option::of(0usize..4),
        splittable in any::<bool>(),
        instances in 1i64..4,
        hour_type in 0usize..3,
        priority in 0usize..4,
        interval in 1u32..4,
        weekly in any::<bool>(),
        dependency in prop::option::of((0u128..8, any::<bool>())),
    ) -> Habit {
        let mut h = habit(n, &format!("H{n}"), d(2026, 1, 1));
        h.duration_minutes = duration;
        h.ideal_time = ideal.map(|hour| NaiveTime::from_hms_opt(hour, 0, 0).unwrap());
        h.time_preference = pref.map(|p| [TimePreference::Morning, TimePreference::Afternoon, TimePreference::Evening, TimePreference::Night][p]);
        h.is_splittable = splittable;
        h.min_instances = Some(1);
        h.ideal_instances = Some(instances);
        h.max_instances = Some(instances + 1);
        h.hour_type = [HourType::Work, HourType::Meeting, HourType::Personal][hour_type];
        h.priority = [Priority::Low, Priority::Normal, Priority::High, Priority::Critical][priority];
        h.recurrence.interval = interval;
        if weekly {
            h.recurrence.frequency = Frequency::Weekly;
            h.recurrence.days_of_week = vec![1, 3, 5];
        }
        h.dependency = dependency
            .filter(|(dep, _)| *dep != n)
            .map(|(dep, after)| (Uuid::from_u128(dep), if after { DependencyType::After } else { DependencyType::Before }));
        h
    }
}

prop_compose! {
    fn arb_task(n: u128, now: DateTime<Utc>)(
        minutes in 15i64..600,
        splittable in any::<bool>(),
        priority in 0usize..4,
        deadline_hours in prop::option::of(-12i64..200),
    ) -> Task {
        let mut t = task(n, &format!("T{n}"), minutes, now);
        t.is_splittable = splittable;
        t.priority = [Priority::Low, Priority::Normal, Priority::High, Priority::Critical][priority];
        t.deadline = deadline_hours.map(|h| now + Duration::hours(h));
        t
    }
}

fn arb_inputs() -> impl Strategy<Value = Inputs> {
    (zone(), 0i64..(60 * 24 * 365), 7u32..21).prop_flat_map(|(tz, minute, days)| {
        let now = t("2026-01-01T00:00:00Z") + Duration::minutes(minute);
        let habits = (0u128..8).map(arb_habit).collect::<Vec<_>>();
        let tasks = (100u128..106)
            .map(move |n| arb_task(n, now))
            .collect::<Vec<_>>();
        let obstacles =
            prop::collection::vec((0i64..(60 * 24 * 21), 15i64..300, any::<bool>()), 0..25);
        (habits, tasks, obstacles).prop_map(move |(habits, tasks, obstacles)| {
            let mut input = inputs(tz, now, days);
            input.hours.work = WeekHours::every_day("09:00", "17:00");
            input.hours.meeting = WeekHours::every_day("13:00", "15:30");
            input.habits = habits;
            input.tasks = tasks;
            input.existing = obstacles
                .into_iter()
                .map(|(offset, length, movable)| {
                    let start = now - Duration::hours(2) + Duration::minutes(offset);
                    Existing {
                        start,
                        end: start + Duration::minutes(length),
                        movable,
                    }
                })
                .collect();
            input
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn schedules_never_overlap_leave_their_hours_or_start_in_the_past(input in arb_inputs()) {
        let output = generate(&input);
        assert_valid(&input, &output);
        prop_assert_eq!(&output, &generate(&input));
    }
}
