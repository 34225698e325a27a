-- How many times a sync has begun listing the channel's calendar (design §13). The webhook
-- names its message after it, so notifications that arrive before the next listing begins
-- are one sync, and one that arrives after it has begun is another: a change made while a
-- sync is reading is never taken for one already read.
ALTER TABLE jobs.watch_channels ADD COLUMN IF NOT EXISTS listings bigint NOT NULL DEFAULT 0;
