-- `hae_grafana`: the read-only login of Grafana's PostgreSQL datasource (health-data dashboard).
--
--   psql -v ON_ERROR_STOP=1 -v ro_password=SECRET -f deploy/postgres/grafana-readonly.sql
--
-- Run as the owner of the tables (docker-compose.yml runs it after every migration, as the
-- `grafana-db-role` service). Idempotent. SELECT on every table of the schema except the ones that
-- hold credentials, raw payloads or the audit trail; sessions are read-only with a short statement
-- timeout. Partitions need no grant: queries go through their parent tables.

SELECT 'CREATE ROLE hae_grafana LOGIN'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hae_grafana')
\gexec

ALTER ROLE hae_grafana WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
    CONNECTION LIMIT 10 PASSWORD :'ro_password';
ALTER ROLE hae_grafana SET default_transaction_read_only = on;
ALTER ROLE hae_grafana SET statement_timeout = '60s';

SELECT format('GRANT CONNECT ON DATABASE %I TO hae_grafana', current_database())
\gexec
GRANT USAGE ON SCHEMA public TO hae_grafana;

SELECT format('GRANT SELECT ON TABLE %I TO hae_grafana', c.relname)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public'
  AND c.relkind IN ('r', 'p', 'v', 'm')
  AND NOT c.relispartition
  AND c.relname NOT IN ('api_keys', 'raw_ingestions', 'audit_log', 'alembic_version')
ORDER BY c.relname
\gexec

REVOKE ALL ON TABLE api_keys, raw_ingestions, audit_log FROM hae_grafana;
