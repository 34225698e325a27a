//! `calendar-sync`: incremental Google Calendar sync, one workspace per SQS message.
//!
//! Fed by `<stack>-calendar-sync.fifo`. Each connection lists changes since its stored sync
//! token (or now −60 d … now +90 d without one, or after a 410) and writes them page by page;
//! the logic is [`shared::sync`], shared with `calendar-full-sync`.

use shared::config::ConfigErrors;
use shared::payload::CalendarSyncPayload;
use shared::sync::{SyncConfig, SyncWorker};
use shared::task::TaskName;

/// What the function builds once at init (`State::new(&config_from_env()?)`) and hands every
/// event to (`state.handle(event)`).
pub type State = SyncWorker<CalendarSyncPayload>;

/// The function's settings, every variable read and all problems reported by name.
///
/// # Errors
/// A missing or invalid variable.
pub fn config_from_env() -> Result<SyncConfig, ConfigErrors> {
    SyncConfig::from_env(TaskName::CalendarSync)
}
