-- The Wrap Up API's tables (src/model/registry.rs `interaction_wrap_up_code`,
-- `interaction_wrap_up_configuration`, `interaction_wrap_up_segment`): wrap-up codes, the
-- configurations segments follow, and one agent's wrap-up of an interaction.
CREATE TABLE interaction_wrap_up_code (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count BIGINT NOT NULL DEFAULT 0,
    code TEXT, description TEXT, active BOOLEAN, external BOOLEAN, translations TEXT
);
-- Codes are created or updated by label (POST /wrapup/code).
CREATE UNIQUE INDEX interaction_wrap_up_code_code ON interaction_wrap_up_code (code);

CREATE TABLE interaction_wrap_up_configuration (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count BIGINT NOT NULL DEFAULT 0,
    name TEXT, active BOOLEAN, external BOOLEAN, enable_codes BOOLEAN, allowed_codes TEXT,
    default_code TEXT, duration BIGINT, show_timer BOOLEAN, enable_ai_code BOOLEAN,
    enable_ai_notes BOOLEAN, use_ai_as_default BOOLEAN, use_third_party_ai BOOLEAN
);
CREATE INDEX interaction_wrap_up_configuration_default_code
    ON interaction_wrap_up_configuration (default_code);

CREATE TABLE interaction_wrap_up_segment (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count BIGINT NOT NULL DEFAULT 0,
    interaction TEXT, agent TEXT, wrap_up_configuration TEXT, state TEXT, external BOOLEAN,
    segmented BOOLEAN, segment_id TEXT, segment_table TEXT, external_segment_id TEXT,
    opened_on TEXT, submitted_on TEXT, confirmed_on TEXT, awaiting_confirmation BOOLEAN, code TEXT,
    notes TEXT, ai_wrap_up_code TEXT, ai_notes TEXT, ai_code_defined_at TEXT,
    ai_notes_defined_at TEXT
);
-- Segments are found by agent and interaction, by the interaction segment's id and by the
-- external system's id; deleting an interaction, configuration, code or user finds them by
-- reference.
CREATE INDEX interaction_wrap_up_segment_interaction
    ON interaction_wrap_up_segment (interaction, agent);
CREATE INDEX interaction_wrap_up_segment_agent ON interaction_wrap_up_segment (agent);
CREATE INDEX interaction_wrap_up_segment_segment_id ON interaction_wrap_up_segment (segment_id);
CREATE INDEX interaction_wrap_up_segment_external_segment_id
    ON interaction_wrap_up_segment (external_segment_id);
CREATE INDEX interaction_wrap_up_segment_configuration
    ON interaction_wrap_up_segment (wrap_up_configuration);
CREATE INDEX interaction_wrap_up_segment_code ON interaction_wrap_up_segment (code);
