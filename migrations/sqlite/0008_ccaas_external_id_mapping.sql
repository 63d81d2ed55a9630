-- Contact Center Integration Core: the CCaaS External ID Mappings table (src/model/registry.rs
-- `sn_ct_ctr_it_core_ccaas_external_id_mapping`), behind the External ID Mapping API. One
-- mapping per (table, document, provider): the API's PUT upserts on that key.
CREATE TABLE sn_ct_ctr_it_core_ccaas_external_id_mapping (
    sys_id TEXT PRIMARY KEY NOT NULL, sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,
    sys_created_by TEXT, sys_updated_by TEXT, sys_mod_count INTEGER NOT NULL DEFAULT 0,
    document_table TEXT, document_id TEXT, external_id TEXT, external_provider TEXT
);
CREATE UNIQUE INDEX sn_ct_ctr_it_core_ccaas_external_id_mapping_key
    ON sn_ct_ctr_it_core_ccaas_external_id_mapping (document_table, document_id, external_provider);
