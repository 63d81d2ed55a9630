-- Attachments (src/model/registry.rs `sys_attachment`, `sys_attachment_doc`,
-- `sys_attachment_attribute`): a file's metadata, its content in base64 chunks, and its attributes.
CREATE TABLE sys_attachment (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count INTEGER NOT NULL DEFAULT 0,
    file_name TEXT, content_type TEXT, table_name TEXT, table_sys_id TEXT, size_bytes INTEGER,
    size_compressed INTEGER, compressed INTEGER, chunk_size_bytes INTEGER, hash TEXT
);
CREATE INDEX sys_attachment_record ON sys_attachment (table_sys_id, table_name);

CREATE TABLE sys_attachment_doc (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count INTEGER NOT NULL DEFAULT 0,
    sys_attachment TEXT, position INTEGER, length INTEGER, data TEXT
);
CREATE UNIQUE INDEX sys_attachment_doc_chunk ON sys_attachment_doc (sys_attachment, position);

CREATE TABLE sys_attachment_attribute (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count INTEGER NOT NULL DEFAULT 0,
    attachment TEXT, key TEXT, value TEXT
);
CREATE UNIQUE INDEX sys_attachment_attribute_key ON sys_attachment_attribute (attachment, key);
