//! What one workspace sync did: counts for the run's result, figures for the dashboard.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::calendar_rows::PageCounts;
use crate::google::client::CallStats;
use shared::error::ErrorKind;
use shared::jobs::runner::{RunResult, run_result};

/// At most this many unreadable event ids are kept for the dashboard.
const UNREADABLE_IDS_KEPT: usize = 50;

/// Where the time went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    pub google: Duration,
    pub processing: Duration,
    pub database: Duration,
    pub tokens: Duration,
}

/// One connection that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub calendar_id: String,
    pub error: String,
    pub kind: ErrorKind,
    /// Google's status, when Google refused.
    pub code: Option<String>,
}

/// The outcome of one workspace sync.
#[derive(Debug, Clone, Default)]
pub struct WorkspaceReport {
    pub connections: usize,
    pub totals: PageCounts,
    pub pages: u64,
    pub events_fetched: u64,
    /// Events that could not become rows (no id, unreadable times, …): skipped, not fatal.
    pub unreadable: u64,
    pub unreadable_ids: Vec<String>,
    /// How many were skipped for each reason.
    pub unreadable_reasons: BTreeMap<&'static str, u64>,
    /// Sync tokens Google no longer accepted (410), each followed by a date-range listing.
    pub fallbacks: u64,
    pub refreshes: u32,
    pub used_sync_token: bool,
    pub api: CallStats,
    pub timings: Timings,
    /// Calendars whose listing finished in this run.
    pub calendars_synced: Vec<String>,
    /// Calendars left for a continuation message because the invocation ran out of time.
    pub pending: Vec<String>,
    pub failures: Vec<Failure>,
    /// Push channels opened or renewed, calendars whose channel could not be opened, and
    /// channels stopped because their connection was disabled or their token deactivated.
    pub channels_opened: u64,
    pub watch_failures: u64,
    pub channels_stopped: u64,
}

impl WorkspaceReport {
    /// Adds one page's row counts.
    pub fn add_page(&mut self, counts: PageCounts) {
        self.pages += 1;
        self.totals.inserted += counts.inserted;
        self.totals.updated += counts.updated;
        self.totals.unchanged += counts.unchanged;
        self.totals.deleted += counts.deleted;
        self.totals.removed += counts.removed;
    }

    /// Records an event that could not be mapped, and why.
    pub fn add_unreadable(&mut self, id: Option<&str>, reason: &'static str) {
        self.unreadable += 1;
        *self.unreadable_reasons.entry(reason).or_default() += 1;
        if let Some(id) = id.filter(|id| !id.is_empty())
            && self.unreadable_ids.len() < UNREADABLE_IDS_KEPT
        {
            self.unreadable_ids.push(id.to_owned());
        }
    }

    /// Every connection that was tried failed, and none is left for later.
    pub fn all_failed(&self) -> bool {
        !self.failures.is_empty()
            && self.calendars_synced.is_empty()
            && self.pending.is_empty()
            && self.failures.len() >= self.connections
    }

    /// What was skipped and why, for the dashboard: `None` when nothing was.
    pub fn unreadable_summary(&self) -> Option<String> {
        (self.unreadable > 0).then(|| {
            let reasons: Vec<String> = self
                .unreadable_reasons
                .iter()
                .map(|(reason, n)| format!("{n} {reason}"))
                .collect();
            format!(
                "{} unreadable events skipped: {}",
                self.unreadable,
                reasons.join(", ")
            )
        })
    }

    /// The counts recorded in the run's result.
    pub fn counts(&self) -> RunResult {
        let failures: Vec<Value> = self
            .failures
            .iter()
            .map(|f| json!({ "calendar_id": f.calendar_id, "error": f.error, "kind": f.kind.as_str() }))
            .collect();
        run_result(json!({
            "connections": self.connections,
            "failed_connections": self.failures.len(),
            "inserted": self.totals.inserted,
            "updated": self.totals.updated,
            "unchanged": self.totals.unchanged,
            "deleted": self.totals.deleted,
            "removed_unlisted": self.totals.removed,
            "pages": self.pages,
            "events_fetched": self.events_fetched,
            "unreadable_events": self.unreadable,
            "unreadable_reasons": self.unreadable_reasons,
            "sync_token_fallbacks": self.fallbacks,
            "token_refreshes": self.refreshes,
            "api_calls": self.api.requests,
            "api_retries": self.api.retries,
            // Microsecond precision: against a nearby server a call takes well under 1 ms.
            "google_ms": (self.api.waited.as_micros() as f64) / 1000.0,
            "continued": self.pending,
            "channels_opened": self.channels_opened,
            "watch_failures": self.watch_failures,
            "channels_stopped": self.channels_stopped,
            "failures": failures,
        }))
    }
}
