//! `calendar_sync_dashboard`: the run log the web app shows (design §6). One row per
//! workspace sync, `running` → `completed` | `failed` (the values its check constraint allows).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use shared::db::Db;
use uuid::Uuid;

use super::report::WorkspaceReport;
use shared::job_kind::JobKind;
use shared::limits;

/// A `running` row older than this was left by a worker that died; it is marked failed.
const STALE_AFTER: Duration = Duration::from_secs(30 * 60);

/// Marks rows of `ws_id` left `running` by dead workers as failed, then opens a `running` row.
///
/// # Errors
/// The database rejected a statement.
pub async fn open(
    pool: &Db,
    ws_id: Uuid,
    triggered_by: Uuid,
    task: JobKind,
    window: (DateTime<Utc>, DateTime<Utc>),
) -> Result<Uuid, sqlx::Error> {
    sqlx::query(
        "UPDATE public.calendar_sync_dashboard
         SET status = 'failed', end_time = now(), updated_at = now(),
             error_message = 'Sync run timed out before completion', error_type = 'timeout'
         WHERE ws_id = $1 AND status = 'running'
           AND start_time < now() - make_interval(secs => $2)",
    )
    .bind(ws_id)
    .bind(STALE_AFTER.as_secs_f64())
    .execute(pool)
    .await?;
    sqlx::query_scalar(
        "INSERT INTO public.calendar_sync_dashboard
             (ws_id, triggered_by, start_time, type, source, status, triggered_from,
              date_range_start, date_range_end)
         VALUES ($1, $2, now(), 'background', 'inbound', 'running', $3, $4, $5)
         RETURNING id",
    )
    .bind(ws_id)
    .bind(triggered_by)
    .bind(limits::DASHBOARD_TRIGGERED_FROM.clamp(task.as_str()))
    .bind(window.0)
    .bind(window.1)
    .fetch_one(pool)
    .await
}

/// Closes the row with the run's figures. Text is cut to the real table's limits with a
/// visible marker and the failed ids capped to fit (design §5.1): a value too long would fail
/// the update and leave the row `running`.
///
/// # Errors
/// The database rejected the update.
pub async fn close(
    pool: &Db,
    id: Uuid,
    report: &WorkspaceReport,
    total: Duration,
) -> Result<(), sqlx::Error> {
    let failed = report.all_failed();
    let first_error = report.failures.first();
    let millis = |d: Duration| i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
    let count = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
    let failed_ids = (!report.unreadable_ids.is_empty()).then(|| {
        Value::from(limits::json_ids_within(
            &report.unreadable_ids,
            limits::DASHBOARD_FAILED_EVENT_IDS_BYTES,
        ))
    });
    let marked = |limit: limits::TextLimit, text: &str| limit.truncate_marked(text).into_owned();
    sqlx::query(
        "UPDATE public.calendar_sync_dashboard SET
             status = $2, end_time = now(), updated_at = now(),
             inserted_events = $3, updated_events = $4, deleted_events = $5,
             timing_google_api_fetch_ms = $6, timing_event_processing_ms = $7,
             timing_database_writes_ms = $8, timing_token_operations_ms = $9,
             timing_total_ms = $10,
             google_api_calls_count = $11, google_api_pages_fetched = $12,
             google_api_retry_count = $13, google_api_error_code = $14,
             events_fetched_total = $15, events_filtered_out = $16, batch_count = $17,
             error_message = $18, error_type = $19, failed_event_ids = $20,
             calendar_ids_synced = $21, calendar_connection_count = $22, sync_token_used = $23
         WHERE id = $1",
    )
    .bind(id)
    .bind(if failed { "failed" } else { "completed" })
    .bind(count(report.totals.inserted))
    .bind(count(report.totals.updated))
    .bind(count(report.totals.deleted))
    .bind(millis(report.timings.google))
    .bind(millis(report.timings.processing))
    .bind(millis(report.timings.database))
    .bind(millis(report.timings.tokens))
    .bind(millis(total))
    .bind(count(u64::from(report.api.requests)))
    .bind(count(report.pages))
    .bind(count(u64::from(report.api.retries) + report.fallbacks))
    .bind(
        first_error
            .and_then(|f| f.code.as_deref())
            .map(|code| marked(limits::DASHBOARD_API_ERROR_CODE, code)),
    )
    .bind(count(report.events_fetched))
    .bind(count(report.unreadable))
    .bind(count(report.pages))
    // A completed sync that skipped events says so here: how many and why.
    .bind(
        first_error
            .map(|f| f.error.clone())
            .or_else(|| report.unreadable_summary())
            .map(|text| marked(limits::DASHBOARD_ERROR_MESSAGE, &text)),
    )
    .bind(first_error.map(|f| limits::DASHBOARD_ERROR_TYPE.clamp(f.kind.as_str())))
    .bind(failed_ids)
    .bind(&report.calendars_synced)
    .bind(i32::try_from(report.connections).unwrap_or(i32::MAX))
    .bind(report.used_sync_token)
    .execute(pool)
    .await?;
    Ok(())
}
