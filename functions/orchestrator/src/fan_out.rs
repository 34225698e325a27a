//! One tick: enumerate the audience page by page and send one message per workspace.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use shared::db::Db;
use shared::error::{Classify, JobError};
use shared::producer::{OutgoingMessage, send_batches};

use crate::audience;
use crate::tick::Tick;

/// Paging and parallelism of one fan-out.
#[derive(Debug, Clone, Copy)]
pub struct FanOutOptions {
    /// Workspaces read per enumeration query.
    pub page_size: i64,
    /// `SendMessageBatch` calls in flight at once.
    pub sends_in_flight: usize,
    /// `renew-watch-channels` reaches channels expiring within this of the tick; the sync
    /// renews those expiring within the same (`WATCH_RENEW_BEFORE_SECONDS`, both sides).
    pub renew_before: chrono::Duration,
}

impl Default for FanOutOptions {
    fn default() -> Self {
        FanOutOptions {
            page_size: 1000,
            sends_in_flight: 8,
            renew_before: chrono::Duration::days(1),
        }
    }
}

/// What a fan-out did: the run's result and the invocation's return value.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FanOutSummary {
    pub fan_out: String,
    pub scheduled_at: String,
    /// Distinct workspaces enumerated, skipped ones included.
    pub total_workspaces: u64,
    /// Messages SQS accepted (a duplicate of an earlier send of this tick is accepted and
    /// dropped by SQS, so it counts here but is not delivered twice).
    pub enqueued: u64,
    /// Messages still failed after every retry.
    pub failed: u64,
    pub skipped: u64,
    pub skipped_reasons: BTreeMap<&'static str, u64>,
    /// `SendMessageBatch` calls, retries included.
    pub calls: u64,
    /// Entries sent again after SQS reported them failed.
    pub resent: u64,
    pub pages: u64,
    pub enumeration_ms: u128,
    pub sending_ms: u128,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    #[serde(skip)]
    pub enumeration: Duration,
    #[serde(skip)]
    pub sending: Duration,
}

/// Fans `tick` out to `queue_url`. Pages are sent as they are read, so memory stays at one
/// page however many workspaces there are.
///
/// # Errors
/// Enumeration failed (retryable; messages already sent carry the tick's deduplication ids,
/// so the retried tick does not deliver them twice).
pub async fn fan_out(
    pool: &Db,
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    tick: &Tick,
    options: FanOutOptions,
) -> Result<FanOutSummary, JobError> {
    let mut summary = FanOutSummary {
        fan_out: tick.fan_out.to_string(),
        scheduled_at: tick.label(),
        ..FanOutSummary::default()
    };
    let page_size = options.page_size.max(1);
    let renew_until = tick.scheduled_at + options.renew_before;
    let mut after = None;
    loop {
        let started = Instant::now();
        let page = audience::page(pool, tick.fan_out, renew_until, after.as_ref(), page_size)
            .await
            .retryable("enumerating workspaces")?;
        summary.enumeration += started.elapsed();
        summary.pages += 1;
        let Some(last) = page.last() else { break };
        after = Some(last.clone());
        let full_page = page.len() as i64 == page_size;

        let mut messages = Vec::with_capacity(page.len());
        for candidate in page {
            summary.total_workspaces += 1;
            if let Some(reason) = candidate.skip {
                summary.skipped += 1;
                *summary.skipped_reasons.entry(reason.as_str()).or_default() += 1;
                continue;
            }
            let (deduplication_id, body) = match &candidate.watched {
                None => (
                    tick.deduplication_id(candidate.ws_id),
                    serde_json::json!({ "ws_id": candidate.ws_id }),
                ),
                Some(watched) => (
                    tick.deduplication_id(&watched.channel_id),
                    serde_json::json!({ "ws_id": candidate.ws_id, "calendarId": watched.calendar_id }),
                ),
            };
            messages.push(OutgoingMessage {
                task: tick.fan_out.queue(),
                // The workspace's group: a renewal waits behind the workspace's other syncs.
                group_id: candidate.ws_id.to_string(),
                deduplication_id,
                body: body.to_string(),
            });
        }

        let started = Instant::now();
        let report = send_batches(sqs, queue_url, messages, options.sends_in_flight).await;
        summary.sending += started.elapsed();
        summary.calls += report.calls;
        summary.resent += report.resent;
        summary.enqueued += report.sent;
        summary.failed += report.failed.len() as u64;
        if summary.first_error.is_none() {
            summary.first_error = report
                .failed
                .first()
                .map(|entry| format!("workspace {}: {}", entry.group_id, entry.error));
        }
        if !full_page {
            break;
        }
    }
    summary.enumeration_ms = summary.enumeration.as_millis();
    summary.sending_ms = summary.sending.as_millis();
    Ok(summary)
}
