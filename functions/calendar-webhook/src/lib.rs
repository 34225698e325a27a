//! `calendar-webhook`: receives Google Calendar push notifications behind a Lambda Function
//! URL (design §13). A notification names a channel the sync opened; when the channel is live,
//! its resource matches and its token checks out, an `exists` notification enqueues one
//! `calendar-sync` of that workspace's calendar. The deduplication id is the channel and the
//! number of listings syncs have begun on it, so the notifications that arrive before the next
//! listing begins are one sync, and one that arrives after it has begun is another.
//!
//! Google retries a notification that is not answered with a 2xx, so the answer is bounded
//! (`WEBHOOK_ANSWER_WITHIN_MS`): when Postgres or SQS is slow, the webhook answers 500 in
//! time and Google sends again later.

pub mod notification;

use std::time::Duration;

use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use aws_lambda_events::http::HeaderMap;
use lambda_runtime::LambdaEvent;
use shared::config::{ConfigErrors, Env, Secret};
use shared::db::{ConnectionMode, Db};
use shared::payload::CalendarSyncPayload;
use shared::producer::OutgoingMessage;
use shared::watch_channels::{find_live, token_matches};

pub use notification::{Notification, ResourceState};

/// The function's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`.
    pub database_url: Secret,
    /// `DATABASE_CONNECTION_MODE` (default `direct`).
    pub database_mode: ConnectionMode,
    /// `CALENDAR_SYNC_QUEUE_URL`: where the syncs go.
    pub queue_url: String,
    /// `WEBHOOK_ANSWER_WITHIN_MS` (default 800): the bound on looking up and enqueueing.
    pub answer_within: Duration,
}

impl Config {
    /// Reads every variable, reporting all problems by name.
    ///
    /// # Errors
    /// A missing or invalid variable.
    pub fn from_env() -> Result<Self, ConfigErrors> {
        let mut env = Env::process();
        let config = Config {
            database_url: Secret::new(env.required("DATABASE_URL")),
            database_mode: env.parse_or("DATABASE_CONNECTION_MODE", ConnectionMode::Direct),
            queue_url: env.required_url("CALENDAR_SYNC_QUEUE_URL"),
            answer_within: Duration::from_millis(env.parse_or("WEBHOOK_ANSWER_WITHIN_MS", 800)),
        };
        env.finish(config)
    }
}

/// What the function builds once at init.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub pool: Db,
    pub sqs: aws_sdk_sqs::Client,
    pub config: Config,
}

/// The Lambda function.
pub type Function = Webhook;

/// What became of one notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `sync` or `not_exists` from a live channel: nothing to do.
    Acknowledged,
    /// `exists`: one sync enqueued (or dropped by SQS as a repeat of one not listed yet).
    Enqueued { deduplication_id: String },
    /// A header is missing or unreadable.
    BadRequest(String),
    /// No live channel has this id and resource.
    UnknownChannel,
    /// The channel is live but the token is not its token.
    WrongToken,
    /// Postgres or SQS failed or was too slow; Google will send the notification again.
    Unavailable(String),
}

impl Outcome {
    /// The HTTP status Google sees.
    pub fn status(&self) -> u16 {
        match self {
            Outcome::Acknowledged | Outcome::Enqueued { .. } => 200,
            Outcome::BadRequest(_) => 400,
            Outcome::WrongToken => 403,
            Outcome::UnknownChannel => 404,
            Outcome::Unavailable(_) => 500,
        }
    }
}

impl Webhook {
    /// Handles the notification in `headers` within the configured bound.
    pub async fn receive(&self, headers: &HeaderMap) -> Outcome {
        let notification = match Notification::from_headers(headers) {
            Ok(notification) => notification,
            Err(reason) => {
                tracing::warn!(status = 400, reason = %reason, "notification refused");
                return Outcome::BadRequest(reason);
            }
        };
        let outcome = tokio::time::timeout(self.config.answer_within, self.act(&notification))
            .await
            .unwrap_or_else(|_| {
                Outcome::Unavailable(format!(
                    "not done within {} ms",
                    self.config.answer_within.as_millis()
                ))
            });
        let reason = match &outcome {
            Outcome::BadRequest(reason) | Outcome::Unavailable(reason) => reason.as_str(),
            Outcome::Enqueued { deduplication_id } => deduplication_id.as_str(),
            _ => "",
        };
        if outcome.status() >= 400 {
            tracing::warn!(channel_id = %notification.channel_id, state = ?notification.state,
                message_number = ?notification.message_number, status = outcome.status(), reason,
                "notification refused");
        } else {
            tracing::info!(channel_id = %notification.channel_id, state = ?notification.state,
                message_number = ?notification.message_number, status = outcome.status(), reason,
                "notification received");
        }
        outcome
    }

    async fn act(&self, notification: &Notification) -> Outcome {
        let channel = match find_live(&self.pool, &notification.channel_id).await {
            // A channel being opened has no resource id yet; its token still has to match.
            Ok(Some(channel))
                if channel
                    .resource_id
                    .as_deref()
                    .is_none_or(|id| id == notification.resource_id) =>
            {
                channel
            }
            Ok(_) => return Outcome::UnknownChannel,
            Err(err) => return Outcome::Unavailable(format!("looking up the channel: {err}")),
        };
        if !token_matches(&notification.token, &channel.token_hash) {
            return Outcome::WrongToken;
        }
        if notification.state != ResourceState::Exists {
            return Outcome::Acknowledged;
        }
        let deduplication_id = format!("push:{}:{}", notification.channel_id, channel.listings);
        let payload = CalendarSyncPayload {
            ws_id: channel.ws_id,
            calendar_id: Some(channel.calendar_id),
        };
        let message = match OutgoingMessage::new(&payload)
            .and_then(|message| message.with_deduplication_id(&deduplication_id))
        {
            Ok(message) => message,
            // A stored channel with an unusable calendar id or channel id: retrying cannot help.
            Err(err) => return Outcome::BadRequest(err.to_string()),
        };
        let sent = self
            .sqs
            .send_message()
            .queue_url(&self.config.queue_url)
            .message_body(message.body)
            .message_group_id(message.group_id)
            .message_deduplication_id(message.deduplication_id)
            .send()
            .await;
        match sent {
            Ok(_) => Outcome::Enqueued { deduplication_id },
            Err(err) => Outcome::Unavailable(format!(
                "enqueueing the sync: {}",
                shared::aws::describe(&err)
            )),
        }
    }
}

impl shared::jobs::worker::Function for Webhook {
    type Config = Config;
    type Event = LambdaFunctionUrlRequest;
    type Response = LambdaFunctionUrlResponse;
    type Error = lambda_runtime::Error;

    fn config_from_env() -> Result<Config, ConfigErrors> {
        Config::from_env()
    }

    async fn init(config: &Config) -> Result<Self, lambda_runtime::Error> {
        Ok(Webhook {
            pool: Db::connect_lazy(&config.database_url, config.database_mode, 2)
                .map_err(|err| format!("DATABASE_URL cannot be used: {err}"))?
                .per_statement(),
            sqs: shared::aws::sqs_client().await,
            config: config.clone(),
        })
    }

    /// Answers every request; the status says what became of it.
    async fn handle(
        &self,
        event: LambdaEvent<LambdaFunctionUrlRequest>,
    ) -> Result<LambdaFunctionUrlResponse, lambda_runtime::Error> {
        let outcome = self.receive(&event.payload.headers).await;
        let mut response = LambdaFunctionUrlResponse::default();
        response.status_code = i64::from(outcome.status());
        Ok(response)
    }
}
