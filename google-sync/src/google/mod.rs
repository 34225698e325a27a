//! Google Calendar: the HTTP client ([`client`]) and the stored OAuth tokens with their
//! refresh rules ([`auth`]).

pub mod auth;
pub mod client;

use std::time::Duration;

use shared::config::{Env, Secret};

/// Google's production endpoints (design §7).
pub const DEFAULT_API_URL: &str = "https://www.googleapis.com/calendar/v3";
pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// How the workers reach Google.
#[derive(Debug, Clone)]
pub struct GoogleConfig {
    /// `GOOGLE_CLIENT_ID`.
    pub client_id: String,
    /// `GOOGLE_CLIENT_SECRET`.
    pub client_secret: Secret,
    /// `GOOGLE_CALENDAR_API_URL`.
    pub api_url: String,
    /// `GOOGLE_OAUTH_TOKEN_URL`.
    pub token_url: String,
    /// `GOOGLE_REQUEST_TIMEOUT_SECONDS` (default 30): one HTTP request, not the whole call.
    pub request_timeout: Duration,
    /// `GOOGLE_MAX_ATTEMPTS` (default 4): tries per call on 429, 5xx and timeouts.
    pub max_attempts: u32,
    /// `GOOGLE_PAGE_SIZE` (default 2500, Google's maximum): `maxResults` per page.
    pub page_size: u32,
}

impl GoogleConfig {
    /// Reads the Google settings from `env`.
    pub fn read<F: Fn(&str) -> Option<String>>(env: &mut Env<F>) -> Self {
        GoogleConfig {
            client_id: env.required("GOOGLE_CLIENT_ID"),
            client_secret: Secret::new(env.required("GOOGLE_CLIENT_SECRET")),
            api_url: env.url_or("GOOGLE_CALENDAR_API_URL", DEFAULT_API_URL),
            token_url: env.url_or("GOOGLE_OAUTH_TOKEN_URL", DEFAULT_TOKEN_URL),
            request_timeout: env
                .seconds_or("GOOGLE_REQUEST_TIMEOUT_SECONDS", Duration::from_secs(30)),
            max_attempts: env.parse_or("GOOGLE_MAX_ATTEMPTS", 4),
            page_size: env.parse_or("GOOGLE_PAGE_SIZE", 2500).clamp(1, 2500),
        }
    }
}
