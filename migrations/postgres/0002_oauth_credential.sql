-- OAuth tokens (src/registry.rs `oauth_credential`): only a SHA-256 of each token is stored.
CREATE TABLE oauth_credential (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count BIGINT NOT NULL DEFAULT 0,
    token_hash TEXT, token_type TEXT, client TEXT, "user" TEXT, expires TEXT, scope TEXT, refresh TEXT
);
CREATE UNIQUE INDEX oauth_credential_token_hash ON oauth_credential (token_hash);
CREATE INDEX oauth_credential_user ON oauth_credential ("user");
CREATE INDEX oauth_credential_client ON oauth_credential (client);
CREATE INDEX oauth_credential_refresh ON oauth_credential (refresh);
