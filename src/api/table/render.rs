//! Records as the Table API shows them: every value a string, references as links, with
//! display values per `sysparm_display_value`.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use super::params::DisplayMode;
use crate::http::{Format, RecordsWriter};
use crate::model::filter::{Filter, Select};
use crate::model::registry::{Field, FieldType, Table};
use crate::model::value::{Record, Value};
use crate::storage::{Result, Storage};

/// How to render: the parameters of one request.
pub struct Renderer<'a> {
    pub display: DisplayMode,
    pub exclude_reference_link: bool,
    pub fields: Option<&'a [String]>,
    /// `scheme://host` of the request, for reference links.
    pub base: &'a str,
    /// The negotiated response format.
    pub format: Format,
}

/// Display values of referenced records: table, then sys_id, to display value.
type Displays = HashMap<&'static str, HashMap<String, String>>;

/// At most this many ids per lookup, to keep statements small.
const LOOKUP_CHUNK: usize = 500;

impl Renderer<'_> {
    /// `{"result": [...]}` of `records`.
    pub async fn list(
        &self,
        store: &dyn Storage,
        table: &'static Table,
        records: Vec<Record>,
    ) -> Result<RecordsWriter> {
        let mut out = RecordsWriter::list(self.format);
        self.write(store, table, records, &mut out).await?;
        Ok(out)
    }

    /// `{"result": {...}}` of `record`.
    pub async fn one(
        &self,
        store: &dyn Storage,
        table: &'static Table,
        record: Record,
    ) -> Result<RecordsWriter> {
        let mut out = RecordsWriter::one(self.format);
        self.write(store, table, vec![record], &mut out).await?;
        Ok(out)
    }

    /// Writes `records` into `out`, each dropped once written: a large page is never held twice
    /// in full.
    async fn write(
        &self,
        store: &dyn Storage,
        table: &'static Table,
        records: Vec<Record>,
        out: &mut RecordsWriter,
    ) -> Result<()> {
        let mut fields: Vec<&'static Field> = table
            .readable_fields()
            .filter(|f| {
                self.fields
                    .is_none_or(|wanted| wanted.iter().any(|w| w == f.name))
            })
            .collect();
        // In name order, as the platform's JSON objects (and `serde_json::Map`) have them.
        fields.sort_by_key(|f| f.name);
        let displays = if self.display == DisplayMode::Value {
            Displays::new()
        } else {
            load_displays(store, &fields, &records).await?
        };
        let mut link = String::new();
        for record in records {
            out.begin_record();
            for field in &fields {
                self.field(out, &mut link, field, record.get(field.name), &displays);
            }
            out.end_record();
        }
        Ok(())
    }

    /// Writes one field; `link` is scratch space for the reference link.
    fn field(
        &self,
        out: &mut RecordsWriter,
        link: &mut String,
        field: &Field,
        value: &Value,
        displays: &Displays,
    ) {
        let name = field.name;
        let text = value.api_str();
        let text = text.as_ref();
        let FieldType::Reference(target) = field.ty else {
            return match self.display {
                DisplayMode::All => out.object(name, &[("display_value", text), ("value", text)]),
                _ => out.text(name, text),
            };
        };
        if value.is_null() {
            return match self.display {
                DisplayMode::All => out.object(name, &[("display_value", ""), ("value", "")]),
                _ => out.text(name, ""),
            };
        }
        let target = target.name;
        let display = displays
            .get(target)
            .and_then(|ids| ids.get(text))
            .map_or("", String::as_str);
        link.clear();
        // Writing into a String cannot fail.
        let _ = write!(link, "{}/api/now/table/{target}/{text}", self.base);
        let link = link.as_str();
        match (self.display, self.exclude_reference_link) {
            (DisplayMode::Value, true) => out.text(name, text),
            (DisplayMode::Value, false) => out.object(name, &[("link", link), ("value", text)]),
            (DisplayMode::Display, true) => out.text(name, display),
            (DisplayMode::Display, false) => {
                out.object(name, &[("display_value", display), ("link", link)])
            }
            (DisplayMode::All, true) => {
                out.object(name, &[("display_value", display), ("value", text)])
            }
            (DisplayMode::All, false) => out.object(
                name,
                &[("display_value", display), ("link", link), ("value", text)],
            ),
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
    // By target table (named, as tables are told apart by name), with the ids wanted of it.
    let mut wanted: HashMap<&'static str, (&'static Table, BTreeSet<String>)> = HashMap::new();
    for f in fields {
        if let FieldType::Reference(target) = f.ty {
            let ids = records
                .iter()
                .filter_map(|r| r.str(f.name))
                .map(str::to_owned);
            let entry = wanted
                .entry(target.name)
                .or_insert_with(|| (target, BTreeSet::new()));
            entry.1.extend(ids);
        }
    }
    let mut displays = Displays::new();
    for (target, (table, ids)) in wanted {
        let ids: Vec<String> = ids.into_iter().collect();
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            let values = chunk.iter().map(|id| Value::text(id.as_str())).collect();
            let select = Select::filter(Filter::one_of(table.sys_id(), values));
            let known = displays.entry(target).or_default();
            for r in store.select(table, &select).await? {
                known.insert(r.sys_id().to_owned(), display_value(table, &r));
            }
        }
    }
    Ok(displays)
}
