-- switchboard schema v1 (PostgreSQL). Every table mirrors src/registry.rs column for column, in order;
-- tests/api/schema.rs fails if the two drift. "user" is quoted: PostgreSQL reserves it. Booleans are BOOLEAN, integers BIGINT, date-times TEXT
-- 'YYYY-MM-DD HH:MM:SS' (UTC), JSON TEXT. Empty values are NULL.

-- Interaction numbers come from a sequence: unique and increasing across every node, without
-- serialising creators on a counter row (gaps are allowed, as on the platform).
CREATE SEQUENCE sys_counter_interaction;

CREATE TABLE sys_user (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count BIGINT NOT NULL DEFAULT 0,
    user_name TEXT, first_name TEXT, last_name TEXT, name TEXT, email TEXT,
    active BOOLEAN, user_password TEXT, roles TEXT
);
CREATE UNIQUE INDEX sys_user_user_name ON sys_user (user_name);

CREATE TABLE sys_user_role (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count BIGINT NOT NULL DEFAULT 0,
    name TEXT, description TEXT
);
CREATE UNIQUE INDEX sys_user_role_name ON sys_user_role (name);

CREATE TABLE sys_user_role_contains (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count BIGINT NOT NULL DEFAULT 0,
    role TEXT, contains TEXT
);
CREATE UNIQUE INDEX sys_user_role_contains_pair ON sys_user_role_contains (role, contains);
CREATE INDEX sys_user_role_contains_contains ON sys_user_role_contains (contains);

CREATE TABLE sys_user_has_role (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count BIGINT NOT NULL DEFAULT 0,
    "user" TEXT, role TEXT
);
CREATE UNIQUE INDEX sys_user_has_role_pair ON sys_user_has_role ("user", role);
CREATE INDEX sys_user_has_role_role ON sys_user_has_role (role);

CREATE TABLE interaction_connector (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count BIGINT NOT NULL DEFAULT 0,
    name TEXT, type TEXT, third_party BOOLEAN, active BOOLEAN
);

CREATE TABLE awa_queue (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count BIGINT NOT NULL DEFAULT 0,
    name TEXT, active BOOLEAN
);

CREATE TABLE interaction (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count BIGINT NOT NULL DEFAULT 0,
    number TEXT, type TEXT, channel TEXT, state TEXT, active BOOLEAN, queue TEXT,
    assigned_to TEXT, opened_for TEXT, opened_by TEXT, closed_by TEXT, opened_at TEXT,
    closed_at TEXT, context_table TEXT, context_document TEXT, channel_metadata_table TEXT,
    channel_metadata_document TEXT, short_description TEXT
);
CREATE UNIQUE INDEX interaction_number ON interaction (number);
CREATE INDEX interaction_state ON interaction (state);

CREATE TABLE interaction_json_blob (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count BIGINT NOT NULL DEFAULT 0,
    value TEXT
);

CREATE TABLE live_group_profile (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count BIGINT NOT NULL DEFAULT 0,
    name TEXT, description TEXT, public BOOLEAN, metadata TEXT
);

CREATE TABLE sys_cs_conversation (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count BIGINT NOT NULL DEFAULT 0,
    interaction TEXT, state TEXT, topic TEXT
);
CREATE INDEX sys_cs_conversation_interaction ON sys_cs_conversation (interaction);

CREATE TABLE sys_cs_conversation_member (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count BIGINT NOT NULL DEFAULT 0,
    conversation TEXT, member TEXT, member_type TEXT, active BOOLEAN
);
CREATE INDEX sys_cs_conversation_member_conversation ON sys_cs_conversation_member (conversation, member);
CREATE INDEX sys_cs_conversation_member_member ON sys_cs_conversation_member (member);

CREATE TABLE sys_cs_provider_application (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count BIGINT NOT NULL DEFAULT 0,
    name TEXT, inbound_id TEXT, provider TEXT, active BOOLEAN
);
CREATE INDEX sys_cs_provider_application_inbound_id ON sys_cs_provider_application (inbound_id);

CREATE TABLE external_agent_mapping (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count BIGINT NOT NULL DEFAULT 0,
    "user" TEXT, provider_application TEXT, external_agent_id TEXT, active BOOLEAN
);
CREATE UNIQUE INDEX external_agent_mapping_pair ON external_agent_mapping ("user", provider_application);
CREATE INDEX external_agent_mapping_provider_application ON external_agent_mapping (provider_application);

CREATE TABLE oauth_entity (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count BIGINT NOT NULL DEFAULT 0,
    name TEXT, client_id TEXT, client_secret TEXT, "user" TEXT, access_token_lifespan BIGINT,
    refresh_token_lifespan BIGINT
);
CREATE UNIQUE INDEX oauth_entity_client_id ON oauth_entity (client_id);
CREATE INDEX oauth_entity_user ON oauth_entity ("user");
