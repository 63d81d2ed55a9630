//! Records as the Table API shows them: every value a string, references as links, with
//! display values per `sysparm_display_value`.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value as Json, json};

use super::params::DisplayMode;
use crate::filter::{Filter, Select};
use crate::record::{Record, Value};
use crate::registry::{self, Field, FieldType, Table};
use crate::storage::{Result, Storage};

/// How to render: the parameters of one request.
pub struct Renderer<'a> {
    pub display: DisplayMode,
    pub exclude_reference_link: bool,
    pub fields: Option<&'a [String]>,
    /// `scheme://host` of the request, for reference links.
    pub base: &'a str,
}

/// Display values of referenced records: (table, sys_id) to display value.
type Displays = HashMap<(&'static str, String), String>;

/// At most this many ids per lookup, to keep statements small.
const LOOKUP_CHUNK: usize = 500;

impl Renderer<'_> {
    pub async fn render(
        &self,
        store: &dyn Storage,
        table: &'static Table,
        records: Vec<Record>,
    ) -> Result<Vec<Json>> {
        let fields: Vec<&'static Field> = table
            .readable_fields()
            .filter(|f| {
                self.fields
                    .is_none_or(|wanted| wanted.iter().any(|w| w == f.name))
            })
            .collect();
        let displays = if self.display == DisplayMode::Value {
            Displays::new()
        } else {
            load_displays(store, &fields, &records).await?
        };
        // Each record is dropped once rendered: a large page is never held twice in full.
        Ok(records
            .into_iter()
            .map(|r| {
                let object: Map<String, Json> = fields
                    .iter()
                    .map(|f| (f.name.to_owned(), self.field(f, r.get(f.name), &displays)))
                    .collect();
                Json::Object(object)
            })
            .collect())
    }

    fn field(&self, field: &Field, value: &Value, displays: &Displays) -> Json {
        let text = value.to_api_string();
        let FieldType::Reference(target) = field.ty else {
            return match self.display {
                DisplayMode::All => json!({"display_value": text, "value": text}),
                _ => Json::String(text),
            };
        };
        if value.is_null() {
            return match self.display {
                DisplayMode::All => json!({"display_value": "", "value": ""}),
                _ => Json::String(String::new()),
            };
        }
        let display = displays
            .get(&(target, text.clone()))
            .cloned()
            .unwrap_or_default();
        let link = format!("{}/api/now/table/{target}/{text}", self.base);
        match (self.display, self.exclude_reference_link) {
            (DisplayMode::Value, true) => Json::String(text),
            (DisplayMode::Value, false) => json!({"link": link, "value": text}),
            (DisplayMode::Display, true) => Json::String(display),
            (DisplayMode::Display, false) => json!({"display_value": display, "link": link}),
            (DisplayMode::All, true) => json!({"display_value": display, "value": text}),
            (DisplayMode::All, false) => {
                json!({"display_value": display, "value": text, "link": link})
            }
        }
    }
}

/// A record's display value: its first non-empty display field, else its sys_id.
pub fn display_value(table: &Table, record: &Record) -> String {
    table
        .display
        .iter()
        .find_map(|d| record.str(d))
        .unwrap_or(record.sys_id())
        .to_owned()
}

async fn load_displays(
    store: &dyn Storage,
    fields: &[&'static Field],
    records: &[Record],
) -> Result<Displays> {
    let mut wanted: HashMap<&'static str, BTreeSet<String>> = HashMap::new();
    for f in fields {
        if let FieldType::Reference(target) = f.ty {
            let ids = records
                .iter()
                .filter_map(|r| r.str(f.name))
                .map(str::to_owned);
            wanted.entry(target).or_default().extend(ids);
        }
    }
    let mut displays = Displays::new();
    for (target, ids) in wanted {
        let table = registry::table(target).expect("reference targets are registry tables");
        let ids: Vec<String> = ids.into_iter().collect();
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            let values = chunk.iter().map(|id| Value::text(id.as_str())).collect();
            let select = Select::filter(Filter::one_of(table, "sys_id", values));
            for r in store.select(table, &select).await? {
                displays.insert((target, r.sys_id().to_owned()), display_value(table, &r));
            }
        }
    }
    Ok(displays)
}
