//! The task catalogue: stable names, queue variables and lease scopes.

use std::fmt;
use std::str::FromStr;

/// One background task. The kebab-case name is the crate, binary and queue prefix, and the
/// `task` column of `jobs.runs`; it never changes when Rust types are renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskName {
    CalendarSync,
    CalendarFullSync,
    ScheduleTask,
    UnifiedSchedule,
}

/// Which tasks exclude each other on one workspace. SQS message groups only serialise within
/// one queue, so tasks that touch the same rows share a lease scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeaseScope {
    /// `calendar-sync` and `calendar-full-sync`.
    Calendar,
    /// `schedule-task` and `unified-schedule`.
    Schedule,
}

impl TaskName {
    /// Every task, in a stable order.
    pub const ALL: [TaskName; 4] = [
        TaskName::CalendarSync,
        TaskName::CalendarFullSync,
        TaskName::ScheduleTask,
        TaskName::UnifiedSchedule,
    ];

    /// The stable kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskName::CalendarSync => "calendar-sync",
            TaskName::CalendarFullSync => "calendar-full-sync",
            TaskName::ScheduleTask => "schedule-task",
            TaskName::UnifiedSchedule => "unified-schedule",
        }
    }

    /// The environment variable that holds the URL of this task's queue.
    pub fn queue_url_var(self) -> &'static str {
        match self {
            TaskName::CalendarSync => "CALENDAR_SYNC_QUEUE_URL",
            TaskName::CalendarFullSync => "CALENDAR_FULL_SYNC_QUEUE_URL",
            TaskName::ScheduleTask => "SCHEDULE_TASK_QUEUE_URL",
            TaskName::UnifiedSchedule => "UNIFIED_SCHEDULE_QUEUE_URL",
        }
    }

    /// The lease scope this task takes on its workspace.
    pub fn lease_scope(self) -> LeaseScope {
        match self {
            TaskName::CalendarSync | TaskName::CalendarFullSync => LeaseScope::Calendar,
            TaskName::ScheduleTask | TaskName::UnifiedSchedule => LeaseScope::Schedule,
        }
    }
}

impl fmt::Display for TaskName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task name that is not in the catalogue.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown task `{0}` (expected one of calendar-sync, calendar-full-sync, schedule-task, unified-schedule)"
)]
pub struct UnknownTask(pub String);

impl FromStr for TaskName {
    type Err = UnknownTask;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskName::ALL
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
        for task in TaskName::ALL {
            assert_eq!(task.as_str().parse::<TaskName>().unwrap(), task);
        }
        assert!("calendar".parse::<TaskName>().is_err());
    }

    #[test]
    fn tasks_touching_the_same_rows_share_a_lease_scope() {
        assert_eq!(
            TaskName::CalendarSync.lease_scope(),
            TaskName::CalendarFullSync.lease_scope()
        );
        assert_eq!(
            TaskName::ScheduleTask.lease_scope(),
            TaskName::UnifiedSchedule.lease_scope()
        );
        assert_ne!(
            TaskName::CalendarSync.lease_scope(),
            TaskName::ScheduleTask.lease_scope()
        );
    }
}
