//! A fake Google Calendar API and OAuth token endpoint, in memory, behaving like Google where
//! the sync depends on it:
//!
//! - `GET /calendars/{id}/events`: `pageToken`/`nextPageToken`, `maxResults` (capped by
//!   [`FakeGoogle::set_page_limit`]), `timeMin`/`timeMax` with overlap semantics,
//!   `showDeleted`, `singleEvents`, `syncToken`/`nextSyncToken` returning only changes since
//!   the token (cancelled events as tombstones, until [`FakeGoogle::purge_tombstones`]
//!   forgets them as Google eventually does), 410 for an expired token, 401 for an unknown
//!   or expired access token, 404 for a calendar the account does not have (deleted or
//!   unshared: [`FakeGoogle::remove_calendar`]); events carry `eventType` and
//!   `transparency` like Google's Events resource ([`typed`] for birthdays, working
//!   locations, out-of-office, focus time and "show as free"), and the instances of a
//!   recurring event carry `recurringEventId` and `originalStartTime` ([`weekly_instances`]);
//! - errors in the shape of Google's "Handle API errors" guide: `error.errors[].reason`,
//!   `code`, `message`, `status`;
//! - `POST /token` with `grant_type=refresh_token`: a new access token and `expires_in`, a
//!   rotated refresh token on request ([`FakeGoogle::rotate_refresh_tokens`]), `invalid_grant`
//!   for a revoked grant, or any OAuth error ([`FakeGoogle::refuse_refresh`]:
//!   `admin_policy_enforced`, `unauthorized_client`, …);
//! - injectable faults for `events.list`: 5xx, 429 with `Retry-After`, 403 with a reason
//!   (`rateLimitExceeded`, `userRateLimitExceeded`, `quotaExceeded`, `forbidden`), slow
//!   answers;
//! - `events.watch` on a read-only calendar ([`FakeGoogle::make_unwatchable`]) answers 400
//!   `pushNotSupportedForRequestedResource`, as Google's push guide says;
//! - push channels: `POST /calendars/{id}/events/watch` opens one and POSTs its `sync`
//!   notification to the channel's address, every later change to the calendar POSTs
//!   `exists` (twice each, with [`FakeGoogle::duplicate_notifications`]; held back and later
//!   sent newest first, with [`FakeGoogle::hold_notifications`]), and `POST /channels/stop`
//!   closes one;
//! - any event a test puts, including ones that end at or before they start
//!   ([`events_ending_at_or_before_their_start`]).
//!
//! Each account has its own calendars; tests change them between syncs and read the truth
//! back with [`FakeGoogle::events`]. The local runner (`jobs local`) serves its demo calendars
//! from it too.

// The callers (tests and the local demo) build the events they put here; a malformed one is a
// bug in them and stops them loudly.
#![allow(clippy::expect_used)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "fake-client-id.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "fake-client-secret-value";

/// A fault served instead of (or before) the next `events.list` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (500, 503, …).
    Status(u16),
    /// 429 with `Retry-After: seconds`.
    RateLimited { retry_after: u64 },
    /// 403 with this reason: `rateLimitExceeded` and `userRateLimitExceeded` (retry with
    /// backoff, like 429), `quotaExceeded` (a limit that lifts later), `forbidden`.
    Forbidden(&'static str),
    /// Answer normally, but only after this long.
    Slow(Duration),
}

/// An event's state after its last change.
#[derive(Debug, Clone)]
pub struct EventVersion {
    pub event: Value,
    pub seq: u64,
    pub cancelled: bool,
}

/// Tokens of one fake account.
#[derive(Debug, Clone)]
pub struct Grant {
    pub access_token: String,
    pub refresh_token: String,
}

#[derive(Debug, Clone)]
struct Stored {
    event: Value,
    seq: u64,
    cancelled: bool,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct Account {
    refresh_token: String,
    revoked: bool,
    issued: u32,
    /// The OAuth error the token endpoint answers for this account, if any.
    oauth_error: Option<&'static str>,
    /// Whether a refresh hands out a new refresh token too.
    rotate: bool,
}

/// A push channel as Google holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchChannel {
    pub id: String,
    pub resource_id: String,
    pub address: String,
    pub token: String,
    pub account: String,
    pub calendar: String,
    pub expiration_ms: i64,
    /// The last `X-Goog-Message-Number` sent.
    pub messages: u64,
}

#[derive(Debug, Default)]
struct Inner {
    seq: u64,
    accounts: HashMap<String, Account>,
    /// Valid access tokens and their account.
    access: HashMap<String, String>,
    calendars: HashMap<(String, String), BTreeMap<String, Stored>>,
    /// Page tokens of an older generation are refused.
    page_generation: u64,
    /// Whether `events.watch` takes `http://` addresses (a local test's webhook).
    plain_http_addresses: bool,
    /// Calendars that answer `events.watch` with `pushNotSupportedForRequestedResource`.
    unwatchable: std::collections::HashSet<(String, String)>,
    /// Sync tokens of an older generation answer 410.
    sync_generation: usize,
    faults: VecDeque<Fault>,
    page_limit: usize,
    delay: Duration,
    list_calls: u64,
    refresh_calls: u64,
    faults_served: u64,
    /// Every access and refresh token handed out, for checks that none leaks.
    handed_out: Vec<String>,
    channels: Vec<WatchChannel>,
    watch_calls: u64,
    stop_calls: u64,
    duplicate_notifications: bool,
    /// Notifications not sent yet, oldest first, while `hold_notifications` is on.
    held: Option<Vec<(WatchChannel, &'static str)>>,
    /// The status each notification POST got back (0: no answer), in the order answered.
    notification_statuses: Vec<u16>,
    /// The instant channel expirations count from (default: the process clock).
    now: Option<DateTime<Utc>>,
}

type Shared = Arc<Mutex<Inner>>;

/// A running fake.
#[derive(Debug, Clone)]
pub struct FakeGoogle {
    /// For `GOOGLE_CALENDAR_API_URL`.
    pub api_url: String,
    /// For `GOOGLE_OAUTH_TOKEN_URL`.
    pub token_url: String,
    inner: Shared,
}

impl FakeGoogle {
    /// Starts the fake on a free local port.
    ///
    /// # Errors
    /// No local port can be bound.
    pub async fn start() -> std::io::Result<Self> {
        let inner: Shared = Arc::new(Mutex::new(Inner {
            page_limit: 2500,
            ..Inner::default()
        }));
        let app = axum::Router::new()
            .route("/calendar/v3/calendars/{calendar}/events", get(list_events))
            .route(
                "/calendar/v3/calendars/{calendar}/events/watch",
                post(watch),
            )
            .route("/calendar/v3/channels/stop", post(stop_channel))
            .route("/token", post(token))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(FakeGoogle {
            api_url: format!("{base}/calendar/v3"),
            token_url: format!("{base}/token"),
            inner,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Adds an account and returns its current tokens.
    pub fn add_account(&self, name: &str) -> Grant {
        let mut inner = self.lock();
        let refresh_token = format!("refresh-{name}-{}", uuid::Uuid::new_v4().simple());
        inner.handed_out.push(refresh_token.clone());
        inner.accounts.insert(
            name.to_owned(),
            Account {
                refresh_token: refresh_token.clone(),
                ..Account::default()
            },
        );
        // Every Google account has its primary calendar, empty at first.
        inner
            .calendars
            .entry((name.to_owned(), "primary".to_owned()))
            .or_default();
        let access_token = issue(&mut inner, name);
        Grant {
            access_token,
            refresh_token,
        }
    }

    /// Gives `account` an empty calendar `calendar` (a calendar an event is put into exists
    /// already).
    pub fn add_calendar(&self, account: &str, calendar: &str) {
        self.lock()
            .calendars
            .entry((account.to_owned(), calendar.to_owned()))
            .or_default();
    }

    /// Lets `events.watch` take plain `http://` addresses (`on`), for a local test whose
    /// webhook listens on the loopback without TLS; Google itself takes HTTPS only.
    pub fn allow_plain_http_addresses(&self, on: bool) {
        self.lock().plain_http_addresses = on;
    }

    /// Makes `calendar` of `account` a read-only calendar Google will not watch.
    pub fn make_unwatchable(&self, account: &str, calendar: &str) {
        self.lock()
            .unwatchable
            .insert((account.to_owned(), calendar.to_owned()));
    }

    /// How many `events.watch` requests were made.
    pub fn watch_calls(&self) -> u64 {
        self.lock().watch_calls
    }

    /// Deletes `calendar` of `account`, or takes it away (unshared): listing it answers 404.
    pub fn remove_calendar(&self, account: &str, calendar: &str) {
        self.lock()
            .calendars
            .remove(&(account.to_owned(), calendar.to_owned()));
    }

    /// Creates or replaces an event (a Google `Event` resource with at least `id`, `start`
    /// and `end`); `updated` and `status` are filled in.
    pub fn put_event(&self, account: &str, calendar: &str, mut event: Value) {
        let mut inner = self.lock();
        inner.seq += 1;
        let seq = inner.seq;
        let id = event["id"].as_str().expect("an event id").to_owned();
        // An event with times even Google could not read is served in every window, so tests
        // can check what the sync makes of it.
        let start = instant(&event["start"]).unwrap_or(DateTime::<Utc>::MIN_UTC);
        let end = instant(&event["end"]).unwrap_or(DateTime::<Utc>::MAX_UTC);
        event["status"] = json!("confirmed");
        event["kind"] = json!("calendar#event");
        event["updated"] = json!(format!(
            "2026-11-{:02}T10:00:{:02}.000Z",
            1 + seq % 28,
            seq % 60
        ));
        inner
            .calendars
            .entry((account.to_owned(), calendar.to_owned()))
            .or_default()
            .insert(
                id,
                Stored {
                    event,
                    seq,
                    cancelled: false,
                    start,
                    end,
                },
            );
        notify_changed(&self.inner, &mut inner, account, calendar);
    }

    /// Cancels (deletes) an event: later listings return it as a tombstone.
    pub fn cancel_event(&self, account: &str, calendar: &str, id: &str) {
        let mut inner = self.lock();
        inner.seq += 1;
        let seq = inner.seq;
        let stored = inner
            .calendars
            .get_mut(&(account.to_owned(), calendar.to_owned()))
            .and_then(|events| events.get_mut(id))
            .expect("cancelling an event that exists");
        stored.cancelled = true;
        stored.seq = seq;
        notify_changed(&self.inner, &mut inner, account, calendar);
    }

    /// Forgets every tombstone: cancelled events are no longer listed at all. Google keeps a
    /// deleted event's tombstone only for a limited time, after which a listing (with a sync
    /// token or without) no longer mentions it; its sync guide ("Synchronize resources
    /// efficiently") answers an outdated token with 410 and asks the client to wipe its store
    /// and sync again in full.
    pub fn purge_tombstones(&self) {
        let mut inner = self.lock();
        for events in inner.calendars.values_mut() {
            events.retain(|_, stored| !stored.cancelled);
        }
    }

    /// The live (not cancelled) events of a calendar, by id.
    pub fn events(&self, account: &str, calendar: &str) -> Vec<Value> {
        self.lock()
            .calendars
            .get(&(account.to_owned(), calendar.to_owned()))
            .map(|events| {
                events
                    .values()
                    .filter(|s| !s.cancelled)
                    .map(|s| s.event.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every event of a calendar, cancelled ones included, with the change sequence number of
    /// its last change (a sync token `sync-<generation>-<n>` covers the changes up to `n`).
    pub fn versions(&self, account: &str, calendar: &str) -> Vec<EventVersion> {
        self.lock()
            .calendars
            .get(&(account.to_owned(), calendar.to_owned()))
            .map(|events| {
                events
                    .values()
                    .map(|s| EventVersion {
                        event: s.event.clone(),
                        seq: s.seq,
                        cancelled: s.cancelled,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every access and refresh token handed out so far.
    pub fn tokens_handed_out(&self) -> Vec<String> {
        self.lock().handed_out.clone()
    }

    /// Makes every access token issued so far for `account` answer 401.
    pub fn expire_access_tokens(&self, account: &str) {
        self.lock().access.retain(|_, owner| owner != account);
    }

    /// Revokes the grant of `account`: access tokens answer 401, refreshes `invalid_grant`.
    pub fn revoke(&self, account: &str) {
        let mut inner = self.lock();
        inner.access.retain(|_, owner| owner != account);
        if let Some(a) = inner.accounts.get_mut(account) {
            a.revoked = true;
        }
    }

    /// Makes the token endpoint refuse `account`'s refresh with the OAuth `error` Google's
    /// OAuth 2.0 server sends (`invalid_grant`, `admin_policy_enforced` when the user's
    /// organisation blocks the client, `unauthorized_client`, …), as 400.
    pub fn refuse_refresh(&self, account: &str, error: &'static str) {
        if let Some(a) = self.lock().accounts.get_mut(account) {
            a.oauth_error = Some(error);
        }
    }

    /// Makes refreshes of `account` hand out a new refresh token too, which Google may do; the
    /// old one then stops working.
    pub fn rotate_refresh_tokens(&self, account: &str) {
        if let Some(a) = self.lock().accounts.get_mut(account) {
            a.rotate = true;
        }
    }

    /// Makes every page token handed out so far invalid.
    pub fn expire_page_tokens(&self) {
        self.lock().page_generation += 1;
    }

    /// Makes every sync token issued so far answer 410.
    pub fn expire_sync_tokens(&self) {
        self.lock().sync_generation += 1;
    }

    /// Queues faults for the next `events.list` calls, in order.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().faults.extend(faults);
    }

    /// Caps `maxResults`, to make listings page.
    pub fn set_page_limit(&self, limit: usize) {
        self.lock().page_limit = limit.max(1);
    }

    /// Delays every `events.list` answer.
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// `events.list` requests received (faults included).
    pub fn list_calls(&self) -> u64 {
        self.lock().list_calls
    }

    /// Token refreshes answered.
    pub fn refresh_calls(&self) -> u64 {
        self.lock().refresh_calls
    }

    /// Faults served so far.
    pub fn faults_served(&self) -> u64 {
        self.lock().faults_served
    }

    /// The open push channels.
    pub fn channels(&self) -> Vec<WatchChannel> {
        self.lock().channels.clone()
    }

    /// `channels.stop` requests received.
    pub fn stop_calls(&self) -> u64 {
        self.lock().stop_calls
    }

    /// Every request made to Google so far: listings, token refreshes, watches and stops.
    pub fn calls(&self) -> u64 {
        let inner = self.lock();
        inner.list_calls + inner.refresh_calls + inner.watch_calls + inner.stop_calls
    }

    /// Counts channel expirations from `now` instead of the process clock (for tests that
    /// choose their instant).
    pub fn set_now(&self, now: DateTime<Utc>) {
        self.lock().now = Some(now);
    }

    /// Sends every later notification twice, as Google may.
    pub fn duplicate_notifications(&self, on: bool) {
        self.lock().duplicate_notifications = on;
    }

    /// While on, notifications are kept back instead of sent; turning it off sends the kept
    /// ones newest first, so they arrive out of order (an `exists` before its channel's
    /// `sync`, message numbers descending), as Google does not promise order.
    pub fn hold_notifications(&self, on: bool) {
        let mut inner = self.lock();
        if on {
            inner.held.get_or_insert_with(Vec::new);
            return;
        }
        let held = inner.held.take().unwrap_or_default();
        drop(inner);
        for (channel, state) in held.into_iter().rev() {
            post_notification(self.inner.clone(), channel, state);
        }
    }

    /// The statuses notifications got back so far (0 when the address did not answer).
    pub fn notification_statuses(&self) -> Vec<u16> {
        self.lock().notification_statuses.clone()
    }
}

/// POSTs `state` to every open channel of `account`'s `calendar`, from a task of its own (as
/// Google does, independently of the change that caused it).
fn notify_changed(shared: &Shared, inner: &mut Inner, account: &str, calendar: &str) {
    let copies = if inner.duplicate_notifications { 2 } else { 1 };
    let mut posts = Vec::new();
    for channel in inner
        .channels
        .iter_mut()
        .filter(|c| c.account == account && c.calendar == calendar)
    {
        channel.messages += 1;
        for _ in 0..copies {
            posts.push((channel.clone(), "exists"));
        }
    }
    for (channel, state) in posts {
        send_or_hold(shared, inner, channel, state);
    }
}

fn send_or_hold(shared: &Shared, inner: &mut Inner, channel: WatchChannel, state: &'static str) {
    match &mut inner.held {
        Some(held) => held.push((channel, state)),
        None => post_notification(shared.clone(), channel, state),
    }
}

fn post_notification(shared: Shared, channel: WatchChannel, state: &'static str) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        // Google's push guide: a notification answered 500, 502, 503 or 504 is sent again,
        // with exponential backoff (here three attempts in all, 100 ms apart and doubling).
        for attempt in 0..3u32 {
            let status = deliver(&channel, state).await;
            shared
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .notification_statuses
                .push(status);
            if !matches!(status, 500 | 502 | 503 | 504) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        }
    });
}

/// One POST of a notification; the status it was answered with (0: no answer).
async fn deliver(channel: &WatchChannel, state: &str) -> u16 {
    let sent = reqwest::Client::new()
        .post(&channel.address)
        .header("X-Goog-Channel-ID", &channel.id)
        .header("X-Goog-Channel-Token", &channel.token)
        .header(
            "X-Goog-Channel-Expiration",
            channel.expiration_ms.to_string(),
        )
        .header("X-Goog-Resource-ID", &channel.resource_id)
        .header(
            "X-Goog-Resource-URI",
            format!(
                "https://www.googleapis.com/calendar/v3/calendars/{}/events",
                channel.calendar
            ),
        )
        .header("X-Goog-Resource-State", state)
        .header("X-Goog-Message-Number", channel.messages.to_string())
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    sent.map_or(0, |response| response.status().as_u16())
}

/// The account of the bearer token in `headers`.
fn account_of(inner: &Inner, headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))?;
    inner.access.get(bearer).cloned()
}

async fn watch(
    State(shared): State<Shared>,
    Path(calendar): Path<String>,
    headers: HeaderMap,
    axum::Json(request): axum::Json<Value>,
) -> Response {
    let mut inner = shared.lock().unwrap_or_else(|p| p.into_inner());
    inner.watch_calls += 1;
    let Some(account) = account_of(&inner, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "Invalid Credentials");
    };
    let text = |name: &str| request[name].as_str().unwrap_or_default().to_owned();
    let (id, address) = (text("id"), text("address"));
    if id.is_empty() || address.is_empty() || text("type") != "web_hook" {
        return error(
            StatusCode::BAD_REQUEST,
            "a channel needs id, type web_hook and address",
        );
    }
    if inner.channels.iter().any(|c| c.id == id) {
        return error(StatusCode::BAD_REQUEST, "Channel id not unique");
    }
    // Google's push guide: the address must be HTTPS with a valid certificate. A local test
    // serves plain HTTP on the loopback and says so.
    if !address.starts_with("https://") && !inner.plain_http_addresses {
        return error(StatusCode::BAD_REQUEST, "WebHook callback must be HTTPS");
    }
    // Holiday, birthday and other read-only calendars cannot be watched (the push guide;
    // Google answers 400 with this reason).
    if inner
        .unwatchable
        .contains(&(account.clone(), calendar.clone()))
    {
        return error_with(
            StatusCode::BAD_REQUEST,
            "pushNotSupportedForRequestedResource",
            "Push notifications are not supported by this resource.",
        );
    }
    let ttl_seconds = request["params"]["ttl"]
        .as_str()
        .and_then(|ttl| ttl.parse::<i64>().ok())
        .unwrap_or(604_800)
        .min(2_592_000);
    let channel = WatchChannel {
        id,
        resource_id: format!("resource-{account}-{calendar}"),
        address,
        token: text("token"),
        account,
        calendar,
        expiration_ms: (inner.now.unwrap_or_else(Utc::now)
            + chrono::Duration::seconds(ttl_seconds))
        .timestamp_millis(),
        messages: 1,
    };
    inner.channels.push(channel.clone());
    send_or_hold(&shared, &mut inner, channel.clone(), "sync");
    axum::Json(json!({
        "kind": "api#channel",
        "id": channel.id,
        "resourceId": channel.resource_id,
        "resourceUri": format!("https://www.googleapis.com/calendar/v3/calendars/{}/events?alt=json", channel.calendar),
        "token": channel.token,
        "expiration": channel.expiration_ms.to_string(),
    }))
    .into_response()
}

async fn stop_channel(
    State(shared): State<Shared>,
    headers: HeaderMap,
    axum::Json(request): axum::Json<Value>,
) -> Response {
    let mut inner = shared.lock().unwrap_or_else(|p| p.into_inner());
    inner.stop_calls += 1;
    let Some(account) = account_of(&inner, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "Invalid Credentials");
    };
    let (id, resource) = (request["id"].as_str(), request["resourceId"].as_str());
    let before = inner.channels.len();
    inner.channels.retain(|c| {
        !(Some(c.id.as_str()) == id
            && Some(c.resource_id.as_str()) == resource
            && c.account == account)
    });
    if inner.channels.len() == before {
        return error(StatusCode::NOT_FOUND, "Channel not found");
    }
    StatusCode::NO_CONTENT.into_response()
}

fn issue(inner: &mut Inner, account: &str) -> String {
    let issued = {
        let a = inner.accounts.entry(account.to_owned()).or_default();
        a.issued += 1;
        a.issued
    };
    let token = format!(
        "access-{account}-{issued}-{}",
        uuid::Uuid::new_v4().simple()
    );
    inner.access.insert(token.clone(), account.to_owned());
    inner.handed_out.push(token.clone());
    token
}

/// A `start`/`end` object as an instant (all-day dates at UTC midnight).
fn instant(time: &Value) -> Option<DateTime<Utc>> {
    if let Some(date_time) = time["dateTime"].as_str() {
        return DateTime::parse_from_rfc3339(date_time)
            .ok()
            .map(|t| t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(time["date"].as_str()?, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

/// An error answer in Google's shape (the Calendar API's "Handle API errors" guide):
/// `{"error": {"errors": [{"domain", "reason", "message"}], "code", "message", "status"}}`,
/// with the reason Google gives for the status.
fn error(status: StatusCode, message: &str) -> Response {
    let reason = match status.as_u16() {
        400 => "badRequest",
        401 => "authError",
        403 => "forbidden",
        404 => "notFound",
        410 => "fullSyncRequired",
        429 => "rateLimitExceeded",
        _ => "backendError",
    };
    error_with(status, reason, message)
}

fn error_with(status: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({ "error": {
        "errors": [{ "domain": "global", "reason": reason, "message": message }],
        "code": status.as_u16(),
        "message": message,
        "status": match status.as_u16() {
            400 => "INVALID_ARGUMENT",
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            429 => "RESOURCE_EXHAUSTED",
            _ => "UNAVAILABLE",
        },
    } });
    (status, axum::Json(body)).into_response()
}

async fn list_events(
    State(inner): State<Shared>,
    Path(calendar): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (fault, delay) = {
        let mut guard = inner.lock().unwrap_or_else(|p| p.into_inner());
        guard.list_calls += 1;
        let fault = guard.faults.pop_front();
        if fault.is_some() {
            guard.faults_served += 1;
        }
        (fault, guard.delay)
    };
    match fault {
        Some(Fault::Status(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(status, "Backend Error");
        }
        Some(Fault::RateLimited { retry_after }) => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "Rate Limit Exceeded");
            if let Ok(value) = retry_after.to_string().parse() {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
        Some(Fault::Forbidden(reason)) => {
            return error_with(StatusCode::FORBIDDEN, reason, "Forbidden");
        }
        Some(Fault::Slow(pause)) => tokio::time::sleep(pause).await,
        None => {}
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    let Some(account) = account_of(&inner, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "Invalid Credentials");
    };
    if query.get("singleEvents").map(String::as_str) != Some("true") {
        return error(
            StatusCode::BAD_REQUEST,
            "the sync asks for singleEvents=true",
        );
    }
    let show_deleted = query.get("showDeleted").map(String::as_str) == Some("true");
    let limit = query
        .get("maxResults")
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(250)
        .min(inner.page_limit);

    // A page token carries the offset and the state the listing started from, so a listing
    // sees one consistent snapshot across its pages.
    let (offset, snapshot) = match query.get("pageToken") {
        // Page tokens are short-lived: one from before [`FakeGoogle::expire_page_tokens`] is
        // refused, as Google refuses a stale one (its sync guide: restart the listing).
        Some(token) => match parse_pair(token, &format!("page{}", inner.page_generation)) {
            Some(pair) => pair,
            None => return error(StatusCode::BAD_REQUEST, "Invalid page token"),
        },
        None => (0, inner.seq),
    };
    let since = match query.get("syncToken") {
        Some(token) => {
            if query.contains_key("timeMin") || query.contains_key("timeMax") {
                return error(
                    StatusCode::BAD_REQUEST,
                    "syncToken cannot be used with timeMin/timeMax",
                );
            }
            match parse_pair(token, "sync") {
                Some((generation, seq)) if generation == inner.sync_generation => Some(seq),
                _ => {
                    return error(
                        StatusCode::GONE,
                        "Sync token is no longer valid, a full sync is required.",
                    );
                }
            }
        }
        None => None,
    };
    let bound = |name: &str| -> Result<Option<DateTime<Utc>>, String> {
        query
            .get(name)
            .map(|v| {
                DateTime::parse_from_rfc3339(v)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| format!("Bad {name}"))
            })
            .transpose()
    };
    let (time_min, time_max) = match (bound("timeMin"), bound("timeMax")) {
        (Ok(min), Ok(max)) => (min, max),
        (Err(message), _) | (_, Err(message)) => return error(StatusCode::BAD_REQUEST, &message),
    };

    // A calendar the account does not have (deleted, unshared, never there) is 404, as Google
    // answers events.list for it.
    let Some(events) = inner.calendars.get(&(account, calendar)) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let mut matching: Vec<&Stored> = events
        .values()
        .filter(|s| s.seq <= snapshot)
        .filter(|s| match since {
            Some(since) => s.seq > since,
            None => {
                (show_deleted || !s.cancelled)
                    && time_min.is_none_or(|min| s.end > min)
                    && time_max.is_none_or(|max| s.start < max)
            }
        })
        .collect();
    if since.is_some() {
        matching.sort_by_key(|s| s.seq);
    } else {
        matching.sort_by(|a, b| {
            (a.start, a.event["id"].as_str()).cmp(&(b.start, b.event["id"].as_str()))
        });
    }
    let items: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|s| {
            if s.cancelled {
                json!({ "kind": "calendar#event", "id": s.event["id"], "status": "cancelled" })
            } else {
                s.event.clone()
            }
        })
        .collect();
    let mut body = json!({ "kind": "calendar#events", "timeZone": "UTC", "items": items });
    if offset + limit < matching.len() {
        body["nextPageToken"] = json!(format!(
            "page{}-{}-{snapshot}",
            inner.page_generation,
            offset + limit
        ));
    } else {
        body["nextSyncToken"] = json!(format!("sync-{}-{snapshot}", inner.sync_generation));
    }
    axum::Json(body).into_response()
}

fn parse_pair(token: &str, prefix: &str) -> Option<(usize, u64)> {
    let rest = token.strip_prefix(prefix)?.strip_prefix('-')?;
    let (offset, snapshot) = rest.split_once('-')?;
    Some((offset.parse().ok()?, snapshot.parse().ok()?))
}

async fn token(State(inner): State<Shared>, Form(form): Form<HashMap<String, String>>) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    inner.refresh_calls += 1;
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("client_id") != CLIENT_ID || field("client_secret") != CLIENT_SECRET {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "error": "invalid_client", "error_description": "Unauthorized" })),
        )
            .into_response();
    }
    if field("grant_type") != "refresh_token" {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": "unsupported_grant_type" })),
        )
            .into_response();
    }
    let refresh = field("refresh_token");
    let account = inner
        .accounts
        .iter()
        .find(|(_, a)| a.refresh_token == refresh && !a.revoked)
        .map(|(name, _)| name.clone());
    let Some(account) = account else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "error": "invalid_grant",
                "error_description": "Token has been expired or revoked."
            })),
        )
            .into_response();
    };
    let refused = inner.accounts.get(&account).and_then(|a| a.oauth_error);
    if let Some(error) = refused {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": error, "error_description": "Refused by the fake." })),
        )
            .into_response();
    }
    let access_token = issue(&mut inner, &account);
    let mut body = json!({
        "access_token": access_token,
        "expires_in": 3599,
        "scope": "https://www.googleapis.com/auth/calendar",
        "token_type": "Bearer"
    });
    let rotated = format!("refresh-{account}-{}", uuid::Uuid::new_v4().simple());
    if let Some(a) = inner.accounts.get_mut(&account).filter(|a| a.rotate) {
        a.refresh_token = rotated.clone();
        body["refresh_token"] = json!(rotated);
        inner.handed_out.push(rotated);
    }
    axum::Json(body).into_response()
}

/// `event` as Google lists an event of type `kind` shown as `transparency`: birthdays are
/// all-day and transparent, working locations and "show as free" events transparent,
/// out-of-office and focus time opaque (the Events resource and the event-types guide).
pub fn typed(mut event: Value, kind: &str, transparency: &str) -> Value {
    event["eventType"] = json!(kind);
    event["transparency"] = json!(transparency);
    event
}

/// The instances of a weekly recurring event `base_id`, as `events.list` with
/// `singleEvents=true` returns them (the Events resource): each its own event with id
/// `<base_id>_<start, basic UTC format>`, `recurringEventId` naming the series and
/// `originalStartTime` the slot it was scheduled in.
pub fn weekly_instances(
    base_id: &str,
    summary: &str,
    first: DateTime<Utc>,
    minutes: i64,
    count: i64,
) -> Vec<Value> {
    (0..count)
        .map(|week| {
            let start = first + chrono::Duration::weeks(week);
            let mut event = timed_event(
                &format!("{base_id}_{}", start.format("%Y%m%dT%H%M%SZ")),
                summary,
                start,
                minutes,
            );
            event["recurringEventId"] = json!(base_id);
            event["originalStartTime"] =
                json!({ "dateTime": start.to_rfc3339(), "timeZone": "UTC" });
            event
        })
        .collect()
}

/// A timed event resource. Like Google's (the Calendar API's Events resource), it names its
/// `eventType` (`default` for an ordinary event) and its `transparency` (`opaque`: busy).
pub fn timed_event(id: &str, summary: &str, start: DateTime<Utc>, minutes: i64) -> Value {
    json!({
        "id": id,
        "summary": summary,
        "eventType": "default",
        "transparency": "opaque",
        "start": { "dateTime": start.to_rfc3339(), "timeZone": "UTC" },
        "end": { "dateTime": (start + chrono::Duration::minutes(minutes)).to_rfc3339(), "timeZone": "UTC" },
    })
}

/// An all-day event resource over `days` days from `date`. Zero or fewer days give an event
/// whose end date is not after its start, as some clients and imports produce.
pub fn all_day_event(id: &str, summary: &str, date: NaiveDate, days: i64) -> Value {
    json!({
        "id": id,
        "summary": summary,
        "eventType": "default",
        "transparency": "opaque",
        "start": { "date": date.to_string() },
        "end": { "date": (date + chrono::Duration::days(days)).to_string() },
    })
}

/// Events that end at or before they start, which Google serves as they were written: all-day
/// with the end date equal to and before the start date (on `day`), timed with the end equal
/// to and before the start (at `at`). Ids are `prefix` plus `-all-day-same`, `-all-day-before`,
/// `-timed-same`, `-timed-before`.
pub fn events_ending_at_or_before_their_start(
    prefix: &str,
    day: NaiveDate,
    at: DateTime<Utc>,
) -> [Value; 4] {
    [
        all_day_event(&format!("{prefix}-all-day-same"), "Same-day", day, 0),
        all_day_event(
            &format!("{prefix}-all-day-before"),
            "Backwards day",
            day,
            -2,
        ),
        timed_event(&format!("{prefix}-timed-same"), "Reminder", at, 0),
        timed_event(&format!("{prefix}-timed-before"), "Backwards", at, -30),
    ]
}
