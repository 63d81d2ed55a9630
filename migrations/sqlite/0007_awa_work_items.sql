-- Advanced Work Assignment: work items and what they need (src/model/registry.rs
-- `awa_work_item`, `awa_reject_reason`, `awa_work_item_rejection`,
-- `awa_agent_presence_history`, `incident`; `awa_queue`'s channel and external routing),
-- behind the AWA Routing, Offer Work, Manual Assignment, Inbox Actions and Agent Consult APIs.
ALTER TABLE awa_queue ADD COLUMN service_channel TEXT;
ALTER TABLE awa_queue ADD COLUMN external_id TEXT;
ALTER TABLE awa_queue ADD COLUMN external_routing INTEGER;
CREATE INDEX awa_queue_external_id ON awa_queue (external_id);
CREATE INDEX awa_queue_service_channel ON awa_queue (service_channel);

CREATE TABLE incident (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count INTEGER NOT NULL DEFAULT 0,
    number TEXT, short_description TEXT, state TEXT, active INTEGER, assigned_to TEXT, caller_id TEXT
);
CREATE UNIQUE INDEX incident_number ON incident (number);
CREATE INDEX incident_assigned_to ON incident (assigned_to);
CREATE INDEX incident_caller_id ON incident (caller_id);

CREATE TABLE awa_work_item (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count INTEGER NOT NULL DEFAULT 0,
    document_table TEXT, document_id TEXT, display_name TEXT, queue TEXT, service_channel TEXT,
    state TEXT, active INTEGER, reason TEXT, assigned_to TEXT, rejected INTEGER, timed_out INTEGER,
    offered_on TEXT, offer_timeout INTEGER, timeout_on TEXT, after_timeout_presence TEXT,
    allowed_to_decline INTEGER, auto_assign INTEGER, display_option TEXT, allocated_by TEXT,
    offer_count INTEGER, size INTEGER, external_segment_id TEXT, previous_work_item TEXT,
    state_changed_on TEXT, is_queue_transferred INTEGER, consult INTEGER, consult_state TEXT,
    transfer_type TEXT
);
-- A document's active work item is found by document on every routing call; the sweeper
-- finds pending offers by expiry; workloads count an agent's active items. Every interaction
-- opened in a queue inserts a work item, so the columns most items leave empty (a queued item
-- has no deadline, agent, previous item...) are indexed only where they hold a value: a lookup
-- by value (`col = ?`, `col <= ?`) can use such an index, and the insert writes no entry.
CREATE INDEX awa_work_item_document ON awa_work_item (document_id, document_table, active);
CREATE INDEX awa_work_item_queue ON awa_work_item (queue, state);
CREATE INDEX awa_work_item_service_channel ON awa_work_item (service_channel);
CREATE INDEX awa_work_item_timeout ON awa_work_item (timeout_on) WHERE timeout_on IS NOT NULL;
CREATE INDEX awa_work_item_assigned_to ON awa_work_item (assigned_to, active)
    WHERE assigned_to IS NOT NULL;
CREATE INDEX awa_work_item_previous ON awa_work_item (previous_work_item)
    WHERE previous_work_item IS NOT NULL;
CREATE INDEX awa_work_item_after_timeout_presence ON awa_work_item (after_timeout_presence)
    WHERE after_timeout_presence IS NOT NULL;
CREATE INDEX awa_work_item_allocated_by ON awa_work_item (allocated_by)
    WHERE allocated_by IS NOT NULL;

CREATE TABLE awa_reject_reason (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count INTEGER NOT NULL DEFAULT 0,
    reason TEXT, "order" INTEGER, service_channel TEXT, reassignable INTEGER, active INTEGER
);
CREATE INDEX awa_reject_reason_channel ON awa_reject_reason (service_channel);

CREATE TABLE awa_work_item_rejection (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count INTEGER NOT NULL DEFAULT 0,
    work_item TEXT, agent TEXT, reject_reason TEXT
);
CREATE INDEX awa_work_item_rejection_work_item ON awa_work_item_rejection (work_item);
CREATE INDEX awa_work_item_rejection_agent ON awa_work_item_rejection (agent);
CREATE INDEX awa_work_item_rejection_reason ON awa_work_item_rejection (reject_reason);

CREATE TABLE awa_agent_presence_history (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count INTEGER NOT NULL DEFAULT 0,
    agent TEXT, presence_state TEXT, state_start TEXT, state_end TEXT
);
CREATE INDEX awa_agent_presence_history_agent ON awa_agent_presence_history (agent, state_start);
CREATE INDEX awa_agent_presence_history_state ON awa_agent_presence_history (presence_state);
