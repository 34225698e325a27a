//! The catalogue of job kinds: stable names, queue variables and lease scopes. (A user's to-do
//! is a "task" elsewhere, e.g. in the scheduling engine; here a kind of background work.)

use std::fmt;
use std::str::FromStr;

/// One kind of background job. The kebab-case name is the crate, binary and queue prefix, and the
/// `task` column of `jobs.runs`; it never changes when Rust types are renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobKind {
    CalendarSync,
    CalendarFullSync,
    ScheduleTask,
    UnifiedSchedule,
}

/// Which job kinds exclude each other on one workspace. SQS message groups only serialise within
/// one queue, so kinds that touch the same rows share a lease scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeaseScope {
    /// `calendar-sync` and `calendar-full-sync`.
    Calendar,
    /// `schedule-task` and `unified-schedule`.
    Schedule,
}

impl JobKind {
    /// Every job kind, in a stable order.
    pub const ALL: [JobKind; 4] = [
        JobKind::CalendarSync,
        JobKind::CalendarFullSync,
        JobKind::ScheduleTask,
        JobKind::UnifiedSchedule,
    ];

    /// The stable kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::CalendarSync => "calendar-sync",
            JobKind::CalendarFullSync => "calendar-full-sync",
            JobKind::ScheduleTask => "schedule-task",
            JobKind::UnifiedSchedule => "unified-schedule",
        }
    }

    /// The environment variable that holds the URL of this kind's queue.
    pub fn queue_url_var(self) -> &'static str {
        match self {
            JobKind::CalendarSync => "CALENDAR_SYNC_QUEUE_URL",
            JobKind::CalendarFullSync => "CALENDAR_FULL_SYNC_QUEUE_URL",
            JobKind::ScheduleTask => "SCHEDULE_TASK_QUEUE_URL",
            JobKind::UnifiedSchedule => "UNIFIED_SCHEDULE_QUEUE_URL",
        }
    }

    /// The lease scope this kind takes on its workspace.
    pub fn lease_scope(self) -> LeaseScope {
        match self {
            JobKind::CalendarSync | JobKind::CalendarFullSync => LeaseScope::Calendar,
            JobKind::ScheduleTask | JobKind::UnifiedSchedule => LeaseScope::Schedule,
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job kind name that is not in the catalogue.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown task `{0}` (expected one of calendar-sync, calendar-full-sync, schedule-task, unified-schedule)"
)]
pub struct UnknownTask(pub String);

impl FromStr for JobKind {
    type Err = UnknownTask;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobKind::ALL
            .into_iter()
            .find(|task| task.as_str() == s)
            .ok_or_else(|| UnknownTask(s.to_owned()))
    }
}

impl LeaseScope {
    /// The `scope` column of `jobs.leases`.
    pub fn as_str(self) -> &'static str {
        match self {
            LeaseScope::Calendar => "calendar",
            LeaseScope::Schedule => "schedule",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str() {
        for task in JobKind::ALL {
            assert_eq!(task.as_str().parse::<JobKind>().unwrap(), task);
        }
        assert!("calendar".parse::<JobKind>().is_err());
    }

    #[test]
    fn tasks_touching_the_same_rows_share_a_lease_scope() {
        assert_eq!(
            JobKind::CalendarSync.lease_scope(),
            JobKind::CalendarFullSync.lease_scope()
        );
        assert_eq!(
            JobKind::ScheduleTask.lease_scope(),
            JobKind::UnifiedSchedule.lease_scope()
        );
        assert_ne!(
            JobKind::CalendarSync.lease_scope(),
            JobKind::ScheduleTask.lease_scope()
        );
    }
}
