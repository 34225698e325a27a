//! What one Google push notification says, read from its headers (it has no body).

use aws_lambda_events::http::HeaderMap;

/// `X-Goog-Resource-State`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceState {
    /// The channel was just opened; nothing changed.
    Sync,
    /// Something in the calendar changed.
    Exists,
    /// The calendar is gone.
    NotExists,
}

/// The headers of one notification. The token is kept only to be checked.
#[derive(Clone, PartialEq, Eq)]
pub struct Notification {
    pub channel_id: String,
    pub resource_id: String,
    pub state: ResourceState,
    pub message_number: Option<u64>,
    pub token: String,
}

// Written by hand so that the token never reaches a log line.
impl std::fmt::Debug for Notification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notification")
            .field("channel_id", &self.channel_id)
            .field("resource_id", &self.resource_id)
            .field("state", &self.state)
            .field("message_number", &self.message_number)
            .finish_non_exhaustive()
    }
}

impl Notification {
    /// Reads the notification's headers.
    ///
    /// # Errors
    /// The first header that is missing or unreadable, by name.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, String> {
        let text = |name: &str| -> Result<String, String> {
            match headers.get(name).map(|value| value.to_str()) {
                Some(Ok(value)) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
                Some(_) => Err(format!("header {name} is empty or not text")),
                None => Err(format!("header {name} is missing")),
            }
        };
        let state = match text("x-goog-resource-state")?.as_str() {
            "sync" => ResourceState::Sync,
            "exists" => ResourceState::Exists,
            "not_exists" => ResourceState::NotExists,
            other => {
                return Err(format!(
                    "header X-Goog-Resource-State has unknown value {other:?}"
                ));
            }
        };
        Ok(Notification {
            channel_id: text("x-goog-channel-id")?,
            resource_id: text("x-goog-resource-id")?,
            state,
            message_number: text("x-goog-message-number")
                .ok()
                .and_then(|n| n.parse().ok()),
            // A channel opened without a token would send none; ours always have one, so a
            // missing token is a mismatch, not a bad request.
            token: text("x-goog-channel-token").unwrap_or_default(),
        })
    }
}
