//! `calendar-sync`: incremental Google Calendar sync, one workspace per SQS message.
//!
//! Fed by `<stack>-calendar-sync.fifo`. Each connection lists changes since its stored sync
//! token (or now −60 d … now +90 d without one, or after a 410) and writes them page by page;
//! the logic is [`google_sync::sync`], shared with `calendar-full-sync`.

use google_sync::sync::SyncJob;
use shared::jobs::worker::Worker;
use shared::payload::CalendarSyncPayload;

/// The Lambda function: the batch runner with the incremental job.
pub type Function = Worker<SyncJob<CalendarSyncPayload>>;
