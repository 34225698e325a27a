//! HTTP calls to Google: `events.list` and the OAuth token endpoint, with bounded retries.
//!
//! Transient answers (429, 5xx, timeouts, connection errors) are retried here with jittered
//! backoff, honouring `Retry-After`; what is left after the last attempt is classified for the
//! batch runner by [`GoogleError::kind`]. Tokens are sent in headers and form bodies only and
//! never appear in an error or a log line.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use super::GoogleConfig;
use crate::event_mapping::GoogleEvent;
use shared::error::ErrorKind;
use shared::jobs::backoff;

/// First pause between attempts; doubles per attempt.
const RETRY_BASE: Duration = Duration::from_millis(500);
/// Longest pause between attempts, and the longest `Retry-After` waited for in-process; a
/// longer one ends the attempts and the message is retried by SQS instead.
const RETRY_CAP: Duration = Duration::from_secs(20);
/// How much of Google's error message is kept.
const MESSAGE_LIMIT: usize = 300;

/// A failed call to Google.
#[derive(Debug, thiserror::Error)]
pub enum GoogleError {
    #[error("the sync token is no longer valid (410 Gone)")]
    Gone,
    #[error("Google rejected the access token (401)")]
    Unauthorized,
    #[error(
        "Google refused to refresh the access token (invalid_grant, admin_policy_enforced or unauthorized_client): the grant was revoked, expired or blocked by the organisation; the user must reconnect the account"
    )]
    InvalidGrant,
    #[error("Google answered {status} {attempts} times; giving up for now")]
    Unavailable { status: u16, attempts: u32 },
    #[error("Google asked to retry after {seconds} s, longer than a worker waits")]
    RetryLater { seconds: u64 },
    #[error("no answer from Google after {attempts} attempts: {reason}")]
    Network { attempts: u32, reason: String },
    /// The calendar was deleted, or is no longer shared with the account (404, or 403
    /// `forbidden` / `insufficientPermissions`): retrying cannot help until the user acts.
    #[error(
        "the calendar is gone or no longer shared with this account: Google answered {status} {reason}"
    )]
    CalendarGone { status: u16, reason: String },
    /// 403 `quotaExceeded` / `dailyLimitExceeded`: a limit that lifts later, longer than a
    /// worker waits; the message is retried after its backoff.
    #[error("Google's quota is used up ({reason}); retrying later")]
    QuotaExceeded { reason: String },
    /// 400 `pushNotSupportedForRequestedResource`: the calendar cannot be watched.
    #[error("Google does not send push notifications for this calendar")]
    PushNotSupported,
    #[error("Google rejected the request with {status}: {message}")]
    Rejected { status: u16, message: String },
    #[error("Google's answer could not be read: {0}")]
    BadResponse(String),
}

impl GoogleError {
    /// Whether retrying the message later can help.
    pub fn kind(&self) -> ErrorKind {
        match self {
            GoogleError::Unavailable { .. }
            | GoogleError::RetryLater { .. }
            | GoogleError::Network { .. }
            | GoogleError::Gone
            | GoogleError::Unauthorized
            | GoogleError::QuotaExceeded { .. }
            | GoogleError::BadResponse(_) => ErrorKind::Retryable,
            GoogleError::InvalidGrant
            | GoogleError::CalendarGone { .. }
            | GoogleError::PushNotSupported
            | GoogleError::Rejected { .. } => ErrorKind::Permanent,
        }
    }

    /// The HTTP status behind the error, for the dashboard's `google_api_error_code`.
    pub fn code(&self) -> String {
        match self {
            GoogleError::Gone => "410".to_owned(),
            GoogleError::Unauthorized => "401".to_owned(),
            GoogleError::InvalidGrant => "invalid_grant".to_owned(),
            GoogleError::Unavailable { status, .. } | GoogleError::Rejected { status, .. } => {
                status.to_string()
            }
            GoogleError::RetryLater { .. } => "429".to_owned(),
            GoogleError::CalendarGone { status, reason } => format!("{status} {reason}"),
            GoogleError::QuotaExceeded { reason } => format!("403 {reason}"),
            GoogleError::PushNotSupported => "400 pushNotSupportedForRequestedResource".to_owned(),
            GoogleError::Network { .. } => "network".to_owned(),
            GoogleError::BadResponse(_) => "bad_response".to_owned(),
        }
    }
}

/// Which events one `events.list` call asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListMode {
    /// Changes since an earlier listing (including cancelled events).
    SyncToken(String),
    /// Every event overlapping the window.
    Range {
        time_min: DateTime<Utc>,
        time_max: DateTime<Utc>,
    },
}

/// One page of `events.list`. Items are kept as JSON so one malformed event is skipped and
/// counted rather than failing the page.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventsPage {
    #[serde(default)]
    pub items: Vec<Value>,
    #[serde(default)]
    pub next_page_token: Option<String>,
    #[serde(default)]
    pub next_sync_token: Option<String>,
}

impl EventsPage {
    /// The items that read as events, and how many did not.
    pub fn events(&self) -> (Vec<GoogleEvent>, usize) {
        let mut events = Vec::with_capacity(self.items.len());
        let mut unreadable = 0;
        for item in &self.items {
            match GoogleEvent::deserialize(item) {
                Ok(event) => events.push(event),
                Err(_) => unreadable += 1,
            }
        }
        (events, unreadable)
    }
}

/// A new access token from the token endpoint.
#[derive(Debug, Clone)]
pub struct RefreshedToken {
    pub access_token: String,
    pub expires_at: DateTime<Utc>,
    /// Google sometimes rotates the refresh token too.
    pub refresh_token: Option<String>,
}

/// What `events.watch` is asked for.
#[derive(Debug, Clone, Copy)]
pub struct WatchRequest<'a> {
    pub channel_id: &'a str,
    pub address: &'a str,
    /// The channel's secret, which Google sends back with every notification.
    pub token: &'a str,
    pub ttl: Duration,
}

/// A channel Google opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedChannel {
    pub resource_id: String,
    /// When Google stops sending (absent: Google did not say).
    pub expires_at: Option<DateTime<Utc>>,
}

/// What one call cost: HTTP requests made (attempts included), retries among them, and the
/// time spent waiting on Google (responses, bodies and retry pauses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallStats {
    pub requests: u32,
    pub retries: u32,
    pub waited: Duration,
}

impl CallStats {
    /// Adds another call's cost.
    pub fn add(&mut self, other: CallStats) {
        self.requests += other.requests;
        self.retries += other.retries;
        self.waited += other.waited;
    }

    /// Runs one Google call, adding the time it takes to `waited`.
    async fn timed<T>(&mut self, call: impl AsyncFnOnce(&mut CallStats) -> T) -> T {
        let started = std::time::Instant::now();
        let out = call(self).await;
        self.waited += started.elapsed();
        out
    }
}

/// The Google HTTP client, built once at init.
#[derive(Debug, Clone)]
pub struct GoogleClient {
    http: reqwest::Client,
    config: GoogleConfig,
}

impl GoogleClient {
    /// A client with the configured timeout.
    ///
    /// # Errors
    /// The TLS backend cannot be initialised.
    pub fn new(config: GoogleConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(10)))
            .build()?;
        Ok(GoogleClient { http, config })
    }

    /// The settings this client was built with.
    pub fn config(&self) -> &GoogleConfig {
        &self.config
    }

    /// One page of `events.list` for `calendar_id`.
    ///
    /// # Errors
    /// See [`GoogleError`]; transient failures have already been retried.
    pub async fn list_events(
        &self,
        access_token: &str,
        calendar_id: &str,
        mode: &ListMode,
        page_token: Option<&str>,
        stats: &mut CallStats,
    ) -> Result<EventsPage, GoogleError> {
        let url = self.api(&format!(
            "/calendars/{}/events",
            encode_path_segment(calendar_id)
        ));
        let mut query: Vec<(&str, String)> = vec![
            ("showDeleted", "true".to_owned()),
            ("singleEvents", "true".to_owned()),
            ("maxResults", self.config.page_size.to_string()),
        ];
        match mode {
            ListMode::SyncToken(token) => query.push(("syncToken", token.clone())),
            ListMode::Range { time_min, time_max } => {
                query.push(("timeMin", time_min.to_rfc3339()));
                query.push(("timeMax", time_max.to_rfc3339()));
            }
        }
        if let Some(page_token) = page_token {
            query.push(("pageToken", page_token.to_owned()));
        }
        stats
            .timed(async |stats: &mut CallStats| {
                let response = self
                    .send(stats, || {
                        self.http.get(&url).bearer_auth(access_token).query(&query)
                    })
                    .await?;
                match response.status() {
                    StatusCode::OK => read_json(response).await,
                    StatusCode::GONE => Err(GoogleError::Gone),
                    StatusCode::UNAUTHORIZED => Err(GoogleError::Unauthorized),
                    StatusCode::NOT_FOUND => {
                        let body = response.bytes().await.unwrap_or_default();
                        Err(GoogleError::CalendarGone {
                            status: 404,
                            reason: GoogleReasons::read(&body)
                                .first()
                                .unwrap_or_else(|| "notFound".to_owned()),
                        })
                    }
                    status => Err(rejected(status, response).await),
                }
            })
            .await
    }

    /// `events.watch` on `calendar_id`: asks Google to POST a notification to `address` on
    /// every change, for `ttl` at most (Google may shorten it).
    ///
    /// # Errors
    /// See [`GoogleError`]; transient failures have already been retried.
    pub async fn watch_events(
        &self,
        access_token: &str,
        calendar_id: &str,
        request: &WatchRequest<'_>,
        stats: &mut CallStats,
    ) -> Result<OpenedChannel, GoogleError> {
        let url = self.api(&format!(
            "/calendars/{}/events/watch",
            encode_path_segment(calendar_id)
        ));
        let body = serde_json::json!({
            "id": request.channel_id,
            "type": "web_hook",
            "address": request.address,
            "token": request.token,
            "params": { "ttl": request.ttl.as_secs().to_string() },
        });
        stats
            .timed(async |stats: &mut CallStats| {
                // Sent once: a retry after a lost answer would reuse the channel id, which
                // Google refuses as not unique while the first channel lives on. The next
                // sync asks again, with a fresh id.
                let response = self
                    .post_json_once(&url, access_token, &body, stats)
                    .await?;
                match response.status() {
                    StatusCode::BAD_REQUEST => {
                        let body = response.bytes().await.unwrap_or_default();
                        if GoogleReasons::read(&body).any(&["pushNotSupportedForRequestedResource"])
                        {
                            Err(GoogleError::PushNotSupported)
                        } else {
                            Err(GoogleError::Rejected {
                                status: 400,
                                message: error_message(&body),
                            })
                        }
                    }
                    status if status.is_success() => {
                        #[derive(Deserialize)]
                        #[serde(rename_all = "camelCase")]
                        struct Channel {
                            resource_id: String,
                            #[serde(default)]
                            expiration: Option<String>,
                        }
                        let channel: Channel = read_json(response).await?;
                        let expires_at = channel
                            .expiration
                            .and_then(|ms| ms.parse::<i64>().ok())
                            .and_then(DateTime::from_timestamp_millis);
                        Ok(OpenedChannel {
                            resource_id: channel.resource_id,
                            expires_at,
                        })
                    }
                    StatusCode::UNAUTHORIZED => Err(GoogleError::Unauthorized),
                    status => Err(rejected(status, response).await),
                }
            })
            .await
    }

    /// `channels.stop`: Google stops sending the channel's notifications. A channel Google no
    /// longer knows (404) is stopped as well.
    ///
    /// # Errors
    /// See [`GoogleError`]; transient failures have already been retried.
    pub async fn stop_channel(
        &self,
        access_token: &str,
        channel_id: &str,
        resource_id: &str,
        stats: &mut CallStats,
    ) -> Result<(), GoogleError> {
        let url = self.api("/channels/stop");
        let body = serde_json::json!({ "id": channel_id, "resourceId": resource_id });
        stats
            .timed(async |stats: &mut CallStats| {
                let response = self.post_json(&url, access_token, &body, stats).await?;
                match response.status() {
                    status if status.is_success() || status == StatusCode::NOT_FOUND => Ok(()),
                    StatusCode::UNAUTHORIZED => Err(GoogleError::Unauthorized),
                    status => Err(rejected(status, response).await),
                }
            })
            .await
    }

    /// Exchanges `refresh_token` for a new access token.
    ///
    /// # Errors
    /// [`GoogleError::InvalidGrant`] when the grant is revoked; see [`GoogleError`].
    pub async fn refresh(
        &self,
        refresh_token: &str,
        stats: &mut CallStats,
    ) -> Result<RefreshedToken, GoogleError> {
        stats
            .timed(async |stats: &mut CallStats| self.exchange(refresh_token, stats).await)
            .await
    }

    async fn exchange(
        &self,
        refresh_token: &str,
        stats: &mut CallStats,
    ) -> Result<RefreshedToken, GoogleError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.expose()),
        ];
        let response = self
            .send(stats, || self.http.post(&self.config.token_url).form(&form))
            .await?;
        let status = response.status();
        if status.is_success() {
            #[derive(Deserialize)]
            struct Grant {
                access_token: String,
                #[serde(default)]
                expires_in: Option<i64>,
                #[serde(default)]
                refresh_token: Option<String>,
            }
            let grant: Grant = read_json(response).await?;
            return Ok(RefreshedToken {
                access_token: grant.access_token,
                // Google's default lifetime when it does not say.
                expires_at: Utc::now()
                    + chrono::Duration::seconds(grant.expires_in.unwrap_or(3600)),
                refresh_token: grant.refresh_token.filter(|t| !t.is_empty()),
            });
        }
        let body = response.text().await.unwrap_or_default();
        let error = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
        // The grant is gone for good: revoked or expired (`invalid_grant`), or the user's
        // organisation no longer lets this client in (`admin_policy_enforced`,
        // `unauthorized_client`). Google's OAuth error responses name these in `error`.
        if matches!(
            error.as_deref(),
            Some("invalid_grant" | "admin_policy_enforced" | "unauthorized_client")
        ) || body.contains("Token has been revoked")
        {
            return Err(GoogleError::InvalidGrant);
        }
        Err(GoogleError::Rejected {
            status: status.as_u16(),
            message: error.unwrap_or_else(|| "token endpoint refused the refresh".to_owned()),
        })
    }

    /// The Calendar API address of `path` (which starts with `/`).
    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.config.api_url.trim_end_matches('/'))
    }

    /// POSTs `body` as JSON to `url` with `access_token`, retrying transient failures.
    async fn post_json(
        &self,
        url: &str,
        access_token: &str,
        body: &Value,
        stats: &mut CallStats,
    ) -> Result<Response, GoogleError> {
        let body = body.to_string();
        self.send(stats, || self.json_post(url, access_token, &body))
            .await
    }

    /// POSTs `body` as JSON to `url` with `access_token`, once.
    async fn post_json_once(
        &self,
        url: &str,
        access_token: &str,
        body: &Value,
        stats: &mut CallStats,
    ) -> Result<Response, GoogleError> {
        stats.requests += 1;
        self.json_post(url, access_token, &body.to_string())
            .send()
            .await
            .map_err(|err| GoogleError::Network {
                attempts: 1,
                reason: err.without_url().to_string(),
            })
    }

    /// A POST of the JSON text `body` to `url` with `access_token`.
    fn json_post(&self, url: &str, access_token: &str, body: &str) -> RequestBuilder {
        self.http
            .post(url)
            .bearer_auth(access_token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_owned())
    }

    /// Sends the request `build` makes, retrying transient failures. Returns the first
    /// non-transient response.
    async fn send(
        &self,
        stats: &mut CallStats,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, GoogleError> {
        let attempts = self.config.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            stats.requests += 1;
            let pause = match build().send().await {
                Ok(response) if response.status() == StatusCode::FORBIDDEN => {
                    // Google's rate limits answer 403 like 429 (its errors guide: retry with
                    // exponential backoff); the reason in the body tells them from a refusal.
                    let retry_after = retry_after(&response);
                    let body = response.bytes().await.unwrap_or_default();
                    let reasons = GoogleReasons::read(&body);
                    if reasons.any(&["quotaExceeded", "dailyLimitExceeded"]) {
                        return Err(GoogleError::QuotaExceeded {
                            reason: reasons.first().unwrap_or_default(),
                        });
                    }
                    if !reasons.any(&["rateLimitExceeded", "userRateLimitExceeded"]) {
                        return Err(forbidden(&reasons, &body));
                    }
                    transient_pause(403, retry_after, attempt, attempts)?
                }
                Ok(response) if !is_transient(&response) => return Ok(response),
                Ok(response) => transient_pause(
                    response.status().as_u16(),
                    retry_after(&response),
                    attempt,
                    attempts,
                )?,
                Err(err) => {
                    if attempt >= attempts {
                        return Err(GoogleError::Network {
                            attempts,
                            // Without the URL: it can carry a sync token.
                            reason: err.without_url().to_string(),
                        });
                    }
                    backoff::pause(RETRY_BASE, attempt, RETRY_CAP)
                }
            };
            stats.retries += 1;
            tracing::debug!(
                attempt,
                pause_ms = pause.as_millis() as u64,
                "retrying Google"
            );
            tokio::time::sleep(pause).await;
        }
    }
}

/// How long to wait before attempt `attempt + 1` after a transient `status`, or the error that
/// ends the attempts: none left, or a `Retry-After` longer than a worker waits.
fn transient_pause(
    status: u16,
    retry_after: Option<Duration>,
    attempt: u32,
    attempts: u32,
) -> Result<Duration, GoogleError> {
    if attempt >= attempts {
        return Err(GoogleError::Unavailable { status, attempts });
    }
    match retry_after {
        Some(wait) if wait > RETRY_CAP => Err(GoogleError::RetryLater {
            seconds: wait.as_secs(),
        }),
        Some(wait) => Ok(wait),
        None => Ok(backoff::pause(RETRY_BASE, attempt, RETRY_CAP)),
    }
}

/// The `reason`s of Google's error body (`{"error": {"errors": [{"reason": …}], …}}`).
#[derive(Debug, Default)]
struct GoogleReasons(Vec<String>);

impl GoogleReasons {
    fn read(body: &[u8]) -> GoogleReasons {
        let value: Value = serde_json::from_slice(body).unwrap_or_default();
        GoogleReasons(
            value
                .pointer("/error/errors")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|e| e.get("reason")?.as_str().map(str::to_owned))
                .collect(),
        )
    }

    fn any(&self, wanted: &[&str]) -> bool {
        self.0.iter().any(|r| wanted.contains(&r.as_str()))
    }

    fn first(&self) -> Option<String> {
        self.0.first().cloned()
    }
}

/// A 403 that is not a rate limit: the account may not see the calendar (it was unshared, or
/// the grant lacks the scope), or another refusal.
fn forbidden(reasons: &GoogleReasons, body: &[u8]) -> GoogleError {
    if reasons.any(&["forbidden", "insufficientPermissions"]) {
        return GoogleError::CalendarGone {
            status: 403,
            reason: reasons.first().unwrap_or_default(),
        };
    }
    GoogleError::Rejected {
        status: 403,
        message: error_message(body),
    }
}

/// Google's `error.message`, cut to [`MESSAGE_LIMIT`] characters.
fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(Value::as_str)
                .map(|m| m.chars().take(MESSAGE_LIMIT).collect())
        })
        .unwrap_or_default()
}

/// 429 and 5xx (403 rate limits are told apart by their reason in [`GoogleClient::send`]).
fn is_transient(response: &Response) -> bool {
    let status = response.status();
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    let text = value.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(text).ok()?;
    Some(
        (at.with_timezone(&Utc) - Utc::now())
            .to_std()
            .unwrap_or_default(),
    )
}

async fn read_json<T: serde::de::DeserializeOwned>(response: Response) -> Result<T, GoogleError> {
    let bytes = response
        .bytes()
        .await
        .map_err(|err| GoogleError::BadResponse(err.without_url().to_string()))?;
    serde_json::from_slice(&bytes).map_err(|err| GoogleError::BadResponse(err.to_string()))
}

/// A non-transient error answer.
async fn rejected(status: StatusCode, response: Response) -> GoogleError {
    let body = response.bytes().await.unwrap_or_default();
    GoogleError::Rejected {
        status: status.as_u16(),
        message: error_message(&body),
    }
}

/// Percent-encodes a calendar id for the URL path (ids are often e-mail addresses, and group
/// calendars contain `#`).
fn encode_path_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_ids_are_encoded_for_the_path() {
        assert_eq!(encode_path_segment("primary"), "primary");
        assert_eq!(
            encode_path_segment("en.usa#holiday@group.v.calendar.google.com"),
            "en.usa%23holiday@group.v.calendar.google.com"
        );
        assert_eq!(encode_path_segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn only_revoked_grants_and_rejections_are_permanent() {
        assert_eq!(GoogleError::InvalidGrant.kind(), ErrorKind::Permanent);
        let rejected = GoogleError::Rejected {
            status: 404,
            message: "Not Found".into(),
        };
        assert_eq!(rejected.kind(), ErrorKind::Permanent);
        let busy = GoogleError::Unavailable {
            status: 503,
            attempts: 4,
        };
        assert_eq!(busy.kind(), ErrorKind::Retryable);
        assert_eq!(busy.code(), "503");
    }

    #[test]
    fn a_malformed_item_is_counted_not_fatal() {
        let page: EventsPage = serde_json::from_value(serde_json::json!({
            "items": [{"id": "a"}, {"id": 5}, {"id": "b", "status": "cancelled"}],
            "nextSyncToken": "s"
        }))
        .unwrap();
        let (events, unreadable) = page.events();
        assert_eq!(events.len(), 2);
        assert_eq!(unreadable, 1);
        assert_eq!(page.next_sync_token.as_deref(), Some("s"));
    }
}
