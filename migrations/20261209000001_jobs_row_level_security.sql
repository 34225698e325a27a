-- The jobs schema as Supabase's security advisor wants it (design §14.3): row-level security on
-- every table, with no policy, so only a role that bypasses it (the functions' `postgres`)
-- reads or writes them; and nothing granted to the API roles, which PostgREST would otherwise
-- expose. Where the API roles do not exist (a plain Postgres), there is nothing to revoke.
DO $rls$
DECLARE
    t record;
    api_role text;
BEGIN
    FOR t IN
        SELECT c.oid::regclass AS name
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'jobs' AND c.relkind IN ('r', 'p')
    LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t.name);
    END LOOP;
    FOREACH api_role IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = api_role) THEN
            EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA jobs FROM %I', api_role);
            EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA jobs FROM %I', api_role);
            EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA jobs FROM %I', api_role);
            EXECUTE format('REVOKE ALL ON SCHEMA jobs FROM %I', api_role);
            EXECUTE format(
                'ALTER DEFAULT PRIVILEGES IN SCHEMA jobs REVOKE ALL ON TABLES FROM %I', api_role);
        END IF;
    END LOOP;
END
$rls$;
