-- The validated payload of each run (as the worker parsed it: known fields only, so a token an
-- old producer sent is not kept), so `jobs replay` can re-enqueue the work of failed runs.
ALTER TABLE jobs.runs ADD COLUMN IF NOT EXISTS payload jsonb;
