//! `calendar-full-sync`: full Google Calendar re-sync, one workspace per SQS message.
//!
//! Fed by `<stack>-calendar-full-sync.fifo`. Each connection lists every page of now −90 d …
//! now +180 d and stores the final sync token; a calendar too large for one invocation stops at
//! a checkpoint and continues in the next message. The logic is [`google_sync::sync`], shared with
//! `calendar-sync`.

use google_sync::sync::SyncJob;
use shared::jobs::worker::Worker;
use shared::payload::CalendarFullSyncPayload;

/// The Lambda function: the batch runner with the full job.
pub type Function = Worker<SyncJob<CalendarFullSyncPayload>>;
