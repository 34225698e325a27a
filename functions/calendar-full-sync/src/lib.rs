//! `calendar-full-sync`: full Google Calendar re-sync, one workspace per SQS message.
//!
//! Fed by `<stack>-calendar-full-sync.fifo`. Each connection lists every page of now −90 d …
//! now +180 d and stores the final sync token; a calendar too large for one invocation stops at
//! a checkpoint and continues in the next message. The logic is [`shared::sync`], shared with
//! `calendar-sync`.

use shared::config::ConfigErrors;
use shared::payload::CalendarFullSyncPayload;
use shared::sync::{SyncConfig, SyncWorker};
use shared::task::TaskName;

/// What the function builds once at init (`State::new(&config_from_env()?)`) and hands every
/// event to (`state.handle(event)`).
pub type State = SyncWorker<CalendarFullSyncPayload>;

/// The function's settings, every variable read and all problems reported by name.
///
/// # Errors
/// A missing or invalid variable.
pub fn config_from_env() -> Result<SyncConfig, ConfigErrors> {
    SyncConfig::from_env(TaskName::CalendarFullSync)
}
