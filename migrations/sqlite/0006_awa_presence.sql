-- Advanced Work Assignment: an agent's presence and capacity (src/model/registry.rs
-- `awa_service_channel`, `awa_presence_state`, `awa_agent_presence`,
-- `awa_agent_channel_availability`, `awa_agent_capacity`), behind the AWA Agent API.
CREATE TABLE awa_service_channel (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count INTEGER NOT NULL DEFAULT 0,
    name TEXT, service_channel_type TEXT, active INTEGER, max_capacity INTEGER, restrict_update INTEGER
);

CREATE TABLE awa_presence_state (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count INTEGER NOT NULL DEFAULT 0,
    name TEXT, available INTEGER, "order" INTEGER, show_channels INTEGER, disable_inactivity_check INTEGER,
    active INTEGER
);

CREATE TABLE awa_agent_presence (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count INTEGER NOT NULL DEFAULT 0,
    agent TEXT, current_presence_state TEXT, state_changed_on TEXT
);
CREATE UNIQUE INDEX awa_agent_presence_agent ON awa_agent_presence (agent);
CREATE INDEX awa_agent_presence_state ON awa_agent_presence (current_presence_state);

CREATE TABLE awa_agent_channel_availability (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count INTEGER NOT NULL DEFAULT 0,
    agent TEXT, service_channel TEXT, available INTEGER
);
CREATE UNIQUE INDEX awa_agent_channel_availability_agent_channel
    ON awa_agent_channel_availability (agent, service_channel);
CREATE INDEX awa_agent_channel_availability_channel
    ON awa_agent_channel_availability (service_channel);

-- A capacity with a service channel overrides the channel's default for the agent; one without
-- is the agent's universal capacity. capacity_for (the channel's sys_id, or 'universal') makes
-- both one unique key with the agent.
CREATE TABLE awa_agent_capacity (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count INTEGER NOT NULL DEFAULT 0,
    agent TEXT, service_channel TEXT, max_capacity INTEGER, capacity_for TEXT
);
CREATE UNIQUE INDEX awa_agent_capacity_agent_for ON awa_agent_capacity (agent, capacity_for);
CREATE INDEX awa_agent_capacity_channel ON awa_agent_capacity (service_channel);
