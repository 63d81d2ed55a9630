//! A CCaaS provider's routing id for a record of any table: the rules behind the External ID
//! Mapping API. One mapping per (table, document, provider); writing one again updates it.

use super::{Changes, Result};
use crate::model::filter::{Filter, Select};
use crate::model::registry::{self, field};
use crate::model::value::{Record, Value};
use crate::storage::Tx;

/// A mapping as the API reads and writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub document_table: String,
    pub document_id: String,
    pub external_id: String,
    pub external_provider: String,
}

fn text(record: &Record, name: &str) -> String {
    record.get(name).as_str().unwrap_or_default().to_owned()
}

/// The mapping of a record: the one of `provider` if given, else the most recently updated
/// one of any provider. `None` if there is none.
pub async fn find(
    tx: &mut Tx,
    table: &str,
    document: &str,
    provider: Option<&str>,
) -> Result<Option<Mapping>> {
    let mut filter = Filter::eq(
        field!(CCAAS_EXTERNAL_ID_MAPPING, document_table),
        Value::text(table),
    )
    .and(Filter::eq(
        field!(CCAAS_EXTERNAL_ID_MAPPING, document_id),
        Value::text(document),
    ));
    if let Some(provider) = provider {
        filter = filter.and(Filter::eq(
            field!(CCAAS_EXTERNAL_ID_MAPPING, external_provider),
            Value::text(provider),
        ));
    }
    let found = tx
        .select(
            &registry::CCAAS_EXTERNAL_ID_MAPPING,
            &Select::filter(filter),
        )
        .await?;
    // Timestamps are ISO strings: their order is their text's; the sys_id breaks ties.
    let latest = found
        .iter()
        .max_by_key(|r| (text(r, "sys_updated_on"), r.sys_id().to_owned()));
    Ok(latest.map(|r| Mapping {
        document_table: text(r, "document_table"),
        document_id: text(r, "document_id"),
        external_id: text(r, "external_id"),
        external_provider: text(r, "external_provider"),
    }))
}

/// Creates or updates the mapping of (table, document, provider). `true` if it was created.
pub async fn put(tx: &mut Tx, mapping: Mapping, actor: &str) -> Result<bool> {
    let changes = Changes::default()
        .set(
            field!(CCAAS_EXTERNAL_ID_MAPPING, document_table),
            Value::text(mapping.document_table),
        )
        .set(
            field!(CCAAS_EXTERNAL_ID_MAPPING, document_id),
            Value::text(mapping.document_id),
        )
        .set(
            field!(CCAAS_EXTERNAL_ID_MAPPING, external_provider),
            Value::text(mapping.external_provider),
        )
        .set(
            field!(CCAAS_EXTERNAL_ID_MAPPING, external_id),
            Value::text(mapping.external_id),
        );
    let (_, created) = super::upsert(
        tx,
        &registry::CCAAS_EXTERNAL_ID_MAPPING,
        changes,
        &["document_table", "document_id", "external_provider"],
        &["external_id"],
        actor,
    )
    .await?;
    Ok(created)
}
