//! Google push-notification channels, as stored in `jobs.watch_channels` (design §13): what
//! the webhook needs to recognise a notification, and the token check.
//!
//! A channel's token is a random secret given to Google when the channel is opened; Google
//! sends it back in `X-Goog-Channel-Token` with every notification. Only its SHA-256 is stored.

use crate::db::Db;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The SHA-256 of a channel token, as stored.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Counts a sync beginning to list `calendar_id` of `ws_id` on its live channels. Done before
/// the listing, committed on its own: a notification read after it names a new message.
///
/// # Errors
/// The database is unreachable.
pub async fn begin_listing(pool: &Db, ws_id: Uuid, calendar_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE jobs.watch_channels SET listings = listings + 1
         WHERE ws_id = $1 AND calendar_id = $2 AND stopped_at IS NULL",
    )
    .bind(ws_id)
    .bind(calendar_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Whether `token` is the one whose hash is `stored`. Both sides are fixed-length digests,
/// compared without stopping at the first difference, so the time taken says nothing about
/// how close a guess was.
pub fn token_matches(token: &str, stored: &[u8]) -> bool {
    let given = token_hash(token);
    stored.len() == given.len()
        && given
            .iter()
            .zip(stored)
            .fold(0u8, |differs, (a, b)| differs | (a ^ b))
            == 0
}

/// A channel that has not been stopped.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LiveChannel {
    pub ws_id: Uuid,
    pub calendar_id: String,
    /// `None` while the channel is being opened.
    pub resource_id: Option<String>,
    pub token_hash: Vec<u8>,
    /// How many times a sync has begun listing the calendar since the channel opened.
    pub listings: i64,
}

/// The live channel with id `channel_id`, if any.
///
/// # Errors
/// The database is unreachable.
pub async fn find_live(pool: &Db, channel_id: &str) -> Result<Option<LiveChannel>, sqlx::Error> {
    sqlx::query_as(
        "SELECT ws_id, calendar_id, resource_id, token_hash, listings FROM jobs.watch_channels
         WHERE channel_id = $1 AND stopped_at IS NULL",
    )
    .bind(channel_id)
    .fetch_optional(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_token_matches_its_hash() {
        let stored = token_hash("s3cret-token");
        assert!(token_matches("s3cret-token", &stored));
        assert!(!token_matches("s3cret-tokem", &stored));
        assert!(!token_matches("", &stored));
        assert!(
            !token_matches("s3cret-token", &stored[..31]),
            "a truncated hash never matches"
        );
    }
}
