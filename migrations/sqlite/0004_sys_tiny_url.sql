-- Tiny URLs (src/model/registry.rs `sys_tiny_url`): long query strings stored under a short id.
CREATE TABLE sys_tiny_url (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count INTEGER NOT NULL DEFAULT 0,
    tiny_url TEXT, data TEXT, data_hash TEXT
);
CREATE UNIQUE INDEX sys_tiny_url_tiny_url ON sys_tiny_url (tiny_url);
CREATE UNIQUE INDEX sys_tiny_url_data_hash ON sys_tiny_url (data_hash);
