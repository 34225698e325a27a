//! Push channels for synced calendars (design §13). With `WEBHOOK_URL` set, every calendar a
//! sync finishes gets a live Google channel that notifies the `calendar-webhook` function of
//! its changes; a channel close to its expiry is replaced (the new one opens before the old
//! one is stopped, so no change falls between them). The orchestrator's `renew-watch-channels`
//! fan-out sends a sync for every calendar whose channel nears its expiry or whose connection
//! is gone; that sync renews the channel, or stops it ([`stop_unwanted`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use shared::config::Env;
use shared::db::Db;
use shared::error::Classify;
use shared::watch_channels::token_hash;
use uuid::Uuid;

use crate::google::auth::{GoogleToken, Session, SessionError};
use crate::google::client::WatchRequest;
use crate::google::client::{GoogleClient, GoogleError};

/// Push settings; push is off unless `WEBHOOK_URL` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchConfig {
    /// `WEBHOOK_URL`: the `calendar-webhook` Function URL.
    pub address: String,
    /// `WATCH_CHANNEL_TTL_SECONDS` (default 7 days): the lifetime asked of Google.
    pub ttl: Duration,
    /// `WATCH_RENEW_BEFORE_SECONDS` (default 1 day): a channel expiring sooner is replaced.
    pub renew_before: Duration,
}

impl WatchConfig {
    /// Reads the settings; `None` when `WEBHOOK_URL` is not set.
    pub fn read<F: Fn(&str) -> Option<String>>(env: &mut Env<F>) -> Option<Self> {
        let ttl = env.seconds_or("WATCH_CHANNEL_TTL_SECONDS", Duration::from_secs(7 * 86_400));
        let renew_before =
            env.seconds_or("WATCH_RENEW_BEFORE_SECONDS", Duration::from_secs(86_400));
        let address = env.optional("WEBHOOK_URL")?;
        Some(WatchConfig {
            address,
            ttl,
            renew_before,
        })
    }
}

/// What [`ensure_channel`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    /// A live channel lasts long enough.
    Kept,
    /// The calendar had no live channel; one was opened.
    Opened,
    /// A new channel replaced the ones close to expiry, which were stopped.
    Renewed,
    /// Google does not watch this calendar (remembered; polling covers it).
    Unwatchable,
}

/// Makes sure `calendar_id` of `ws_id` has a live channel lasting past `now` plus
/// `renew_before`, opening one with `session`'s token when not.
///
/// # Errors
/// Google refused to open the channel (nothing is stored then), or the database failed.
pub async fn ensure_channel(
    pool: &Db,
    session: &mut Session<'_>,
    ws_id: Uuid,
    calendar_id: &str,
    config: &WatchConfig,
    now: DateTime<Utc>,
) -> Result<Watched, SessionError> {
    let live: Vec<(String, Option<String>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT channel_id, resource_id, expires_at FROM jobs.watch_channels
         WHERE ws_id = $1 AND calendar_id = $2 AND stopped_at IS NULL",
    )
    .bind(ws_id)
    .bind(calendar_id)
    .fetch_all(pool)
    .await
    .retryable("reading the calendar's push channels")?;
    let unwatchable: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM jobs.unwatchable_calendars WHERE ws_id = $1 AND calendar_id = $2)",
    )
    .bind(ws_id)
    .bind(calendar_id)
    .fetch_one(pool)
    .await
    .retryable("reading whether the calendar can be watched")?;
    if unwatchable {
        return Ok(Watched::Unwatchable);
    }
    let renew_at = now + chrono::Duration::from_std(config.renew_before).unwrap_or_default();
    if live
        .iter()
        .any(|(_, resource, expires_at)| resource.is_some() && *expires_at > renew_at)
    {
        return Ok(Watched::Kept);
    }

    // Stored before Google is asked: its first notification can arrive before the answer.
    let channel_id = Uuid::new_v4().to_string();
    let token = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    let requested_until = now + chrono::Duration::from_std(config.ttl).unwrap_or_default();
    sqlx::query(
        "INSERT INTO jobs.watch_channels
             (ws_id, auth_token_id, calendar_id, channel_id, token_hash, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(ws_id)
    .bind(session.token_id())
    .bind(calendar_id)
    .bind(&channel_id)
    .bind(token_hash(&token).to_vec())
    .bind(requested_until)
    .execute(pool)
    .await
    .retryable("storing the new push channel")?;
    let request = WatchRequest {
        channel_id: &channel_id,
        address: &config.address,
        token: &token,
        ttl: config.ttl,
    };
    let opened = match session.watch_events(calendar_id, &request).await {
        Ok(opened) => opened,
        Err(err) => {
            sqlx::query("DELETE FROM jobs.watch_channels WHERE channel_id = $1")
                .bind(&channel_id)
                .execute(pool)
                .await
                .retryable("removing the push channel Google did not open")?;
            if let SessionError::Google(GoogleError::PushNotSupported) = err {
                // Remembered: polling alone covers it, and Google is not asked again.
                sqlx::query(
                    "INSERT INTO jobs.unwatchable_calendars (ws_id, calendar_id, reason)
                     VALUES ($1, $2, 'pushNotSupportedForRequestedResource')
                     ON CONFLICT (ws_id, calendar_id) DO NOTHING",
                )
                .bind(ws_id)
                .bind(calendar_id)
                .execute(pool)
                .await
                .retryable("remembering a calendar Google will not watch")?;
                return Ok(Watched::Unwatchable);
            }
            return Err(err);
        }
    };
    sqlx::query(
        "UPDATE jobs.watch_channels SET resource_id = $2, expires_at = $3 WHERE channel_id = $1",
    )
    .bind(&channel_id)
    .bind(&opened.resource_id)
    .bind(
        opened
            .expires_at
            .unwrap_or(requested_until)
            .min(requested_until),
    )
    .execute(pool)
    .await
    .retryable("storing the push channel's resource")?;

    for (old, resource, _) in &live {
        if let Some(resource) = resource
            && let Err(err) = session.stop_channel(old, resource).await
        {
            // It expires on its own; its notifications are refused once it is marked stopped.
            tracing::warn!(ws_id = %ws_id, channel_id = %old, error = %err, "stopping a replaced push channel failed");
        }
        sqlx::query("UPDATE jobs.watch_channels SET stopped_at = $2 WHERE channel_id = $1")
            .bind(old)
            .bind(now)
            .execute(pool)
            .await
            .retryable("marking a replaced push channel stopped")?;
    }
    Ok(if live.is_empty() {
        Watched::Opened
    } else {
        Watched::Renewed
    })
}

/// Stops the live channels of `ws_id` that no enabled inbound connection of an active token
/// wants any more: `wanted` holds the `(token, calendar)` pairs the sync planned. With
/// `calendar` set only that calendar's channels are looked at. A channel whose token is still
/// active is stopped at Google too; one of a deactivated token can only be marked stopped
/// (its notifications are refused until it expires). Returns how many were stopped.
///
/// # Errors
/// The database failed. A refusal from Google is logged and the channel marked stopped anyway.
pub async fn stop_unwanted(
    pool: &Db,
    google: &GoogleClient,
    tokens: &[GoogleToken],
    ws_id: Uuid,
    calendar: Option<&str>,
    wanted: &[(Uuid, String)],
    now: DateTime<Utc>,
) -> Result<u64, SessionError> {
    let live: Vec<(String, Uuid, String, Option<String>)> = sqlx::query_as(
        "SELECT channel_id, auth_token_id, calendar_id, resource_id FROM jobs.watch_channels
         WHERE ws_id = $1 AND stopped_at IS NULL
         ORDER BY created_at",
    )
    .bind(ws_id)
    .fetch_all(pool)
    .await
    .retryable("reading the workspace's push channels")?;
    let mut stopped = 0;
    for (channel_id, token_id, calendar_id, resource_id) in live {
        let unwanted = calendar.is_none_or(|only| only == calendar_id)
            && !wanted
                .iter()
                .any(|(token, wanted)| *token == token_id && *wanted == calendar_id);
        if !unwanted {
            continue;
        }
        if let (Some(token), Some(resource_id)) = (
            tokens.iter().find(|token| token.id == token_id),
            resource_id,
        ) {
            let mut session = Session::new(google, pool, token.clone());
            if let Err(err) = session.stop_channel(&channel_id, &resource_id).await {
                tracing::warn!(ws_id = %ws_id, channel_id = %channel_id, error = %err, "stopping an unwanted push channel at Google failed");
            }
        }
        sqlx::query("UPDATE jobs.watch_channels SET stopped_at = $2 WHERE channel_id = $1")
            .bind(&channel_id)
            .bind(now)
            .execute(pool)
            .await
            .retryable("marking an unwanted push channel stopped")?;
        stopped += 1;
    }
    Ok(stopped)
}
