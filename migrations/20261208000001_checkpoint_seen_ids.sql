-- The event ids a window listing returned on the pages before its checkpoint, so the listing
-- that finishes in a later invocation can remove the calendar's stored rows Google no longer
-- returned (design §6: a listing from the start replaces the window). NULL for a checkpoint
-- written before this column existed: that listing finishes without removing anything.
ALTER TABLE jobs.sync_checkpoints ADD COLUMN IF NOT EXISTS seen_ids text[];
