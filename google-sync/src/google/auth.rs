//! Stored Google OAuth tokens and the rules for using them (design §6): refresh ahead of
//! expiry and once on 401, persist what the refresh returns, deactivate on `invalid_grant`.
//!
//! Tokens are read from `calendar_auth_tokens` by the worker, never from a message; `Debug`
//! never shows them.

use chrono::{DateTime, Utc};
use shared::db::Db;
use uuid::Uuid;

use super::client::{
    CallStats, EventsPage, GoogleClient, GoogleError, ListMode, OpenedChannel, WatchRequest,
};
use shared::config::Secret;
use shared::error::{Classify, ErrorKind, JobError};

/// A token is refreshed before use when it expires within this margin.
const REFRESH_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

/// One active Google token of a workspace.
#[derive(Debug, Clone)]
pub struct GoogleToken {
    pub id: Uuid,
    pub user_id: Uuid,
    access_token: Secret,
    refresh_token: Secret,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The active Google tokens of `ws_id`, oldest first.
///
/// # Errors
/// The database is unreachable.
pub async fn active_tokens(pool: &Db, ws_id: Uuid) -> Result<Vec<GoogleToken>, sqlx::Error> {
    type Row = (Uuid, Uuid, String, String, Option<DateTime<Utc>>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, user_id, access_token, refresh_token, expires_at
         FROM public.calendar_auth_tokens
         WHERE ws_id = $1 AND provider = 'google' AND is_active
         ORDER BY created_at, id",
    )
    .bind(ws_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, user_id, access_token, refresh_token, expires_at)| GoogleToken {
                id,
                user_id,
                access_token: Secret::new(access_token),
                refresh_token: Secret::new(refresh_token),
                expires_at,
            },
        )
        .collect())
}

/// Calls Google with one stored token, refreshing it as needed.
#[derive(Debug)]
pub struct Session<'a> {
    client: &'a GoogleClient,
    pool: &'a Db,
    token: GoogleToken,
    /// HTTP requests and retries so far, for the dashboard.
    pub stats: CallStats,
    /// Refreshes done, for the run's result.
    pub refreshes: u32,
}

impl<'a> Session<'a> {
    pub fn new(client: &'a GoogleClient, pool: &'a Db, token: GoogleToken) -> Self {
        Session {
            client,
            pool,
            token,
            stats: CallStats::default(),
            refreshes: 0,
        }
    }

    /// The token row this session uses.
    pub fn token_id(&self) -> Uuid {
        self.token.id
    }

    /// One page of `events.list`.
    ///
    /// # Errors
    /// Google's error ([`GoogleError::Gone`] is left to the caller, which falls back to a
    /// date range); a revoked grant has already deactivated the token.
    pub async fn list_events(
        &mut self,
        calendar_id: &str,
        mode: &ListMode,
        page_token: Option<&str>,
    ) -> Result<EventsPage, SessionError> {
        self.refresh_if_expiring().await?;
        let mut refreshed = false;
        loop {
            let answer = self
                .client
                .list_events(
                    self.token.access_token.expose(),
                    calendar_id,
                    mode,
                    page_token,
                    &mut self.stats,
                )
                .await;
            if !self.refresh_after_401(&answer, &mut refreshed).await? {
                return Ok(answer?);
            }
        }
    }

    /// Opens a push channel on `calendar_id` (`events.watch`).
    ///
    /// # Errors
    /// As for [`Session::list_events`].
    pub async fn watch_events(
        &mut self,
        calendar_id: &str,
        request: &WatchRequest<'_>,
    ) -> Result<OpenedChannel, SessionError> {
        self.refresh_if_expiring().await?;
        let mut refreshed = false;
        loop {
            let answer = self
                .client
                .watch_events(
                    self.token.access_token.expose(),
                    calendar_id,
                    request,
                    &mut self.stats,
                )
                .await;
            if !self.refresh_after_401(&answer, &mut refreshed).await? {
                return Ok(answer?);
            }
        }
    }

    /// Stops a push channel (`channels.stop`).
    ///
    /// # Errors
    /// As for [`Session::list_events`].
    pub async fn stop_channel(
        &mut self,
        channel_id: &str,
        resource_id: &str,
    ) -> Result<(), SessionError> {
        self.refresh_if_expiring().await?;
        let mut refreshed = false;
        loop {
            let answer = self
                .client
                .stop_channel(
                    self.token.access_token.expose(),
                    channel_id,
                    resource_id,
                    &mut self.stats,
                )
                .await;
            if !self.refresh_after_401(&answer, &mut refreshed).await? {
                return Ok(answer?);
            }
        }
    }

    async fn refresh_if_expiring(&mut self) -> Result<(), SessionError> {
        if self
            .token
            .expires_at
            .is_some_and(|at| at <= Utc::now() + REFRESH_MARGIN)
        {
            self.refresh().await?;
        }
        Ok(())
    }

    /// After Google's `answer`: refreshes and says to call again on the first 401 (the token
    /// can be revoked or rotated before `expires_at`).
    async fn refresh_after_401<T>(
        &mut self,
        answer: &Result<T, GoogleError>,
        refreshed: &mut bool,
    ) -> Result<bool, SessionError> {
        if matches!(answer, Err(GoogleError::Unauthorized)) && !*refreshed {
            self.refresh().await?;
            *refreshed = true;
            return Ok(true);
        }
        Ok(false)
    }

    /// Refreshes the access token and stores it; on `invalid_grant`, deactivates the token.
    async fn refresh(&mut self) -> Result<(), SessionError> {
        self.refreshes += 1;
        match self
            .client
            .refresh(self.token.refresh_token.expose(), &mut self.stats)
            .await
        {
            Ok(fresh) => {
                sqlx::query(
                    "UPDATE public.calendar_auth_tokens
                     SET access_token = $2, expires_at = $3,
                         refresh_token = coalesce($4, refresh_token)
                     WHERE id = $1",
                )
                .bind(self.token.id)
                .bind(&fresh.access_token)
                .bind(fresh.expires_at)
                .bind(fresh.refresh_token.as_deref())
                .execute(self.pool)
                .await
                .retryable("storing the refreshed Google access token")?;
                self.token.access_token = Secret::new(fresh.access_token);
                self.token.expires_at = Some(fresh.expires_at);
                if let Some(refresh_token) = fresh.refresh_token {
                    self.token.refresh_token = Secret::new(refresh_token);
                }
                Ok(())
            }
            Err(GoogleError::InvalidGrant) => {
                sqlx::query(
                    "UPDATE public.calendar_auth_tokens SET is_active = false WHERE id = $1",
                )
                .bind(self.token.id)
                .execute(self.pool)
                .await
                .retryable("deactivating the revoked Google token")?;
                // Its push channels cannot be stopped at Google without a grant; marked
                // stopped, their notifications are refused until they expire.
                sqlx::query(
                    "UPDATE jobs.watch_channels SET stopped_at = now()
                     WHERE auth_token_id = $1 AND stopped_at IS NULL",
                )
                .bind(self.token.id)
                .execute(self.pool)
                .await
                .retryable("stopping the revoked token's push channels")?;
                tracing::warn!(token_id = %self.token.id, "Google grant revoked; token deactivated");
                Err(GoogleError::InvalidGrant.into())
            }
            Err(err) => Err(err.into()),
        }
    }
}

/// A session failure: Google's answer, or our own database while storing a token.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Google(#[from] GoogleError),
    #[error(transparent)]
    Store(#[from] JobError),
}

impl SessionError {
    /// Retryable or permanent.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SessionError::Google(err) => err.kind(),
            SessionError::Store(err) => err.kind(),
        }
    }

    /// The Google status for the dashboard, when the error came from Google.
    pub fn code(&self) -> Option<String> {
        match self {
            SessionError::Google(err) => Some(err.code()),
            SessionError::Store(_) => None,
        }
    }
}
