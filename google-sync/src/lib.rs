//! Google Calendar inbound sync, used only by `calendar-sync` and `calendar-full-sync`: the
//! Google API client and OAuth sessions ([`google`]), the mapping of a Google event to a
//! calendar row ([`event_mapping`]), the set-based writes of those rows ([`calendar_rows`]) and
//! the sync job itself ([`sync`]).

pub mod calendar_rows;
pub mod event_mapping;
pub mod google;
pub mod sync;
