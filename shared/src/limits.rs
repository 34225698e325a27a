//! The text limits of Tuturuuu's real schema that every write of the jobs stays within (design
//! §5.1). Production refuses a longer value with SQLSTATE 22001 for the whole statement, so
//! one long title would fail a whole page or a whole schedule: text is shortened here, on
//! character boundaries, before it is written; ids that cannot be shortened are refused one
//! by one by their callers.

use std::borrow::Cow;

/// A text column's limit: characters and UTF-8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextLimit {
    pub chars: usize,
    pub bytes: usize,
}

/// `workspace_calendar_events.title`.
pub const EVENT_TITLE: TextLimit = TextLimit::new(255, 1_020);
/// `workspace_calendar_events.description`.
pub const EVENT_DESCRIPTION: TextLimit = TextLimit::new(10_000, 40_000);
/// `workspace_calendar_events.location`.
pub const EVENT_LOCATION: TextLimit = TextLimit::new(1_000, 4_000);
/// Provider ids: `workspace_calendar_events.{external,google}_{event,calendar}_id`,
/// `calendar_connections.calendar_id`.
pub const EXTERNAL_ID: TextLimit = TextLimit::new(1_000, 4_000);
/// `calendar_sync_states.calendar_id` (the web app's token key).
pub const SYNC_STATE_KEY: TextLimit = TextLimit::new(1_000, 4_000);
/// `calendar_sync_states.sync_token`.
pub const SYNC_TOKEN: TextLimit = TextLimit::new(2_048, 4_096);
/// `calendar_sync_dashboard.error_message`.
pub const DASHBOARD_ERROR_MESSAGE: TextLimit = TextLimit::new(512, 2_048);
/// `calendar_sync_dashboard.error_type`.
pub const DASHBOARD_ERROR_TYPE: TextLimit = TextLimit::new(64, 256);
/// `calendar_sync_dashboard.google_api_error_code`.
pub const DASHBOARD_API_ERROR_CODE: TextLimit = TextLimit::new(80, 320);
/// `calendar_sync_dashboard.triggered_from`.
pub const DASHBOARD_TRIGGERED_FROM: TextLimit = TextLimit::new(1_000, 4_000);
/// `calendar_sync_dashboard.failed_event_ids` (jsonb): bytes of its text form.
pub const DASHBOARD_FAILED_EVENT_IDS_BYTES: usize = 8_192;

/// What a shortened value ends with, so a reader knows there was more.
pub const TRUNCATED: &str = "… [truncated]";

impl TextLimit {
    pub const fn new(chars: usize, bytes: usize) -> TextLimit {
        TextLimit { chars, bytes }
    }

    /// Whether `value` fits as it is.
    pub fn fits(self, value: &str) -> bool {
        value.len() <= self.bytes && value.chars().count() <= self.chars
    }

    /// The longest prefix of `value` that fits.
    pub fn clamp(self, value: &str) -> &str {
        clamp(value, self.chars, self.bytes)
    }

    /// The longest prefix of `value` that fits once encrypted (when `encrypted`): base64 of
    /// IV (12) ‖ ciphertext ‖ tag (16) is ASCII, so it must fit the smaller of the two limits.
    pub fn clamp_plaintext(self, value: &str, encrypted: bool) -> &str {
        if !encrypted {
            return self.clamp(value);
        }
        let budget = (self.chars.min(self.bytes) / 4 * 3).saturating_sub(28);
        clamp(value, self.chars, budget)
    }

    /// `value`, or its longest prefix that fits followed by [`TRUNCATED`].
    pub fn truncate_marked(self, value: &str) -> Cow<'_, str> {
        if self.fits(value) {
            return Cow::Borrowed(value);
        }
        let room = TextLimit::new(
            self.chars.saturating_sub(TRUNCATED.chars().count()),
            self.bytes.saturating_sub(TRUNCATED.len()),
        );
        Cow::Owned(format!("{}{TRUNCATED}", room.clamp(value)))
    }
}

/// The longest prefix of `value` with at most `max_chars` characters and `max_bytes` bytes.
pub fn clamp(value: &str, max_chars: usize, max_bytes: usize) -> &str {
    let mut end = 0;
    for (count, (index, c)) in value.char_indices().enumerate() {
        if count == max_chars || index + c.len_utf8() > max_bytes {
            return &value[..end];
        }
        end = index + c.len_utf8();
    }
    value
}

/// As many of `ids` (each cut to 200 characters) as fit a JSON array of at most `max_bytes`
/// bytes as Postgres prints jsonb (`["a", "b"]`), ending with `"… and N more"` when some had
/// to be left out.
pub fn json_ids_within(ids: &[String], max_bytes: usize) -> Vec<String> {
    const ID: TextLimit = TextLimit::new(200, 800);
    // The closing entry's worst case: `, "… and 18446744073709551615 more"`.
    const RESERVE: usize = 40;
    let encoded = |s: &str| serde_json::Value::from(s).to_string().len();
    let mut out = Vec::new();
    let mut used = 2; // the brackets
    for (i, id) in ids.iter().enumerate() {
        let id = ID.truncate_marked(id).into_owned();
        let cost = encoded(&id) + if out.is_empty() { 0 } else { 2 };
        let left = ids.len() - i - 1;
        let reserve = if left > 0 { RESERVE } else { 0 };
        if used + cost + reserve > max_bytes {
            out.push(format!("… and {} more", ids.len() - i));
            return out;
        }
        used += cost;
        out.push(id);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_clamped_by_characters_and_bytes_on_character_boundaries() {
        assert_eq!(clamp("abcdef", 3, 100), "abc");
        assert_eq!(clamp("ééé", 10, 5), "éé");
        assert_eq!(clamp("🎉🎉", 10, 7), "🎉");
        assert_eq!(EVENT_TITLE.clamp("short"), "short");
        let wide = "€".repeat(400);
        assert_eq!(EVENT_TITLE.clamp(&wide).chars().count(), 255);
        assert!(EVENT_TITLE.clamp(&wide).len() <= 1_020);
    }

    #[test]
    fn an_encrypted_title_leaves_room_for_iv_tag_and_base64() {
        let title = "a".repeat(300);
        let plain = EVENT_TITLE.clamp_plaintext(&title, true);
        assert_eq!(plain.len(), 161);
        // base64(12 + 161 + 16 = 189 bytes) is 252 characters: within 255.
        assert!((12 + plain.len() + 16).div_ceil(3) * 4 <= 255);
        assert_eq!(EVENT_TITLE.clamp_plaintext(&title, false).len(), 255);
    }

    #[test]
    fn a_truncated_value_says_so_and_fits() {
        let long = "x".repeat(600);
        let cut = DASHBOARD_ERROR_MESSAGE.truncate_marked(&long);
        assert!(cut.ends_with(TRUNCATED));
        assert_eq!(cut.chars().count(), 512);
        assert!(DASHBOARD_ERROR_MESSAGE.fits(&cut));
        assert_eq!(DASHBOARD_ERROR_MESSAGE.truncate_marked("short"), "short");
    }

    #[test]
    fn failed_ids_fit_the_dashboards_json_limit() {
        let ids: Vec<String> = (0..2_000).map(|i| format!("event-{i:05}")).collect();
        let kept = json_ids_within(&ids, DASHBOARD_FAILED_EVENT_IDS_BYTES);
        let printed = kept
            .iter()
            .map(|s| serde_json::Value::from(s.as_str()).to_string())
            .collect::<Vec<_>>()
            .join(", ");
        assert!(printed.len() + 2 <= DASHBOARD_FAILED_EVENT_IDS_BYTES);
        let last = kept.last().unwrap();
        assert!(
            last.starts_with("… and ") && last.ends_with(" more"),
            "{last}"
        );
        let few = vec!["a".to_owned(), "x".repeat(5_000)];
        let kept = json_ids_within(&few, DASHBOARD_FAILED_EVENT_IDS_BYTES);
        assert_eq!(kept[0], "a");
        assert!(kept[1].ends_with(TRUNCATED));
    }
}
