-- Outbound events (docs/outbound-events.md; src/model/registry.rs `awa_external_provider`,
-- `x_switchboard_outbound_event`, `sys_outbound_http_log`, `awa_queue.external_provider`):
-- the contact centers AWA's external routing reports to, the outbox their events wait in, and
-- the log of every delivery attempt.
CREATE TABLE awa_external_provider (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count BIGINT NOT NULL DEFAULT 0,
    name TEXT, active BOOLEAN, endpoint_url TEXT, authentication TEXT, username TEXT,
    password TEXT, token TEXT, secret TEXT, signature_header TEXT, event_types TEXT,
    timeout BIGINT, max_attempts BIGINT
);

ALTER TABLE awa_queue ADD COLUMN external_provider TEXT;
CREATE INDEX awa_queue_external_provider ON awa_queue (external_provider)
    WHERE external_provider IS NOT NULL;

CREATE TABLE x_switchboard_outbound_event (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count BIGINT NOT NULL DEFAULT 0,
    provider TEXT, event_type TEXT, ordering_key TEXT, sequence BIGINT, payload TEXT, state TEXT,
    attempts BIGINT, next_attempt_on TEXT, claimed_by TEXT, claimed_until TEXT, last_status BIGINT,
    last_error TEXT, delivered_on TEXT
);
-- The deliverer reads the events still to deliver (\`state = 'ready'\`), oldest first.
CREATE INDEX x_switchboard_outbound_event_state ON x_switchboard_outbound_event (state, sequence);
-- A claim checks that no earlier event of its document or agent is still waiting.
CREATE INDEX x_switchboard_outbound_event_key ON x_switchboard_outbound_event (ordering_key, sequence);
CREATE INDEX x_switchboard_outbound_event_provider ON x_switchboard_outbound_event (provider);

CREATE TABLE sys_outbound_http_log (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count BIGINT NOT NULL DEFAULT 0,
    sequence BIGINT, http_method TEXT, url TEXT, scheme TEXT, hostname TEXT, path TEXT,
    response_status BIGINT, request_length BIGINT, response_length BIGINT, response_time BIGINT,
    source_table TEXT, source_record TEXT, request_headers TEXT, request_body TEXT,
    response_headers TEXT, response_body TEXT, error TEXT
);
CREATE INDEX sys_outbound_http_log_source ON sys_outbound_http_log (source_record);
CREATE SEQUENCE sys_counter_outbound_event;
CREATE SEQUENCE sys_counter_outbound_http_log;
