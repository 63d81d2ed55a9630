-- The OAuth JWT bearer grant (src/model/registry.rs `oauth_entity`'s JWT profile,
-- `oauth_jwt_jti`; docs/auth.md): an application's JWT profile, and the `jti` values already
-- used, kept until their assertion expires.
ALTER TABLE oauth_entity ADD COLUMN jwt_algorithm_family TEXT;
ALTER TABLE oauth_entity ADD COLUMN jwt_key TEXT;
ALTER TABLE oauth_entity ADD COLUMN user_field TEXT;
ALTER TABLE oauth_entity ADD COLUMN clock_skew INTEGER;
ALTER TABLE oauth_entity ADD COLUMN enable_jti_verification INTEGER;
UPDATE oauth_entity SET user_field = 'user_name', clock_skew = 0, enable_jti_verification = 1;

CREATE TABLE oauth_jwt_jti (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count INTEGER NOT NULL DEFAULT 0,
    client TEXT, jti TEXT, expires TEXT
);
CREATE UNIQUE INDEX oauth_jwt_jti_client_jti ON oauth_jwt_jti (client, jti);
CREATE INDEX oauth_jwt_jti_expires ON oauth_jwt_jti (expires);
