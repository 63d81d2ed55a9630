//! Records as the Table API shows them: every value a string, references as links, with
//! display values per `sysparm_display_value`.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use super::params::DisplayMode;
use crate::http::{Format, RecordsWriter};
use crate::model::filter::{Filter, Path, Select, walk};
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
pub type Displays = HashMap<&'static str, HashMap<String, String>>;

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
        let fields: Vec<&'static Field> = table
            .readable_fields()
            .filter(|f| {
                self.fields
                    .is_none_or(|wanted| wanted.iter().any(|w| w == f.name))
            })
            .collect();
        let walks = self
            .fields
            .map_or_else(Vec::new, |wanted| walks(table, wanted));
        let reached = reach(store, &walks, &records).await?;
        // In name order, as the platform's JSON objects (and `serde_json::Map`) have them.
        let mut columns: Vec<Column> = fields.iter().map(|f| Column::Own(f)).collect();
        columns.extend((0..walks.len()).map(Column::Walked));
        columns.sort_by(|a, b| a.name(&walks).cmp(b.name(&walks)));
        let displays = if self.display == DisplayMode::Value {
            Displays::new()
        } else {
            // Collected before the lookups: nothing borrowed is held across them.
            let mut wanted: Vec<(&'static Table, String)> = Vec::new();
            for field in &fields {
                if let Some(target) = reference_target(field) {
                    let ids = records.iter().filter_map(|r| r.str(field.name));
                    wanted.extend(ids.map(|id| (target, id.to_owned())));
                }
            }
            for walk in &walks {
                if let Some(target) = reference_target(walk.path.last) {
                    let ids = records
                        .iter()
                        .filter_map(|r| walk.value(&reached, r).as_str());
                    wanted.extend(ids.map(|id| (target, id.to_owned())));
                }
            }
            load_displays(store, wanted).await?
        };
        let mut link = String::new();
        for record in records {
            out.begin_record();
            for column in &columns {
                let (field, value) = match column {
                    Column::Own(field) => (*field, record.get(field.name)),
                    Column::Walked(i) => (walks[*i].path.last, walks[*i].value(&reached, &record)),
                };
                let name = column.name(&walks);
                self.field(out, &mut link, name, field, value, &displays);
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
        name: &str,
        field: &Field,
        value: &Value,
        displays: &Displays,
    ) {
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

/// A column of the answer: a field of the record, or a dot-walked one (by its index).
enum Column {
    Own(&'static Field),
    Walked(usize),
}

impl Column {
    fn name<'a>(&self, walks: &'a [Walk]) -> &'a str {
        match self {
            Column::Own(field) => field.name,
            Column::Walked(i) => &walks[*i].name,
        }
    }
}

fn reference_target(field: &Field) -> Option<&'static Table> {
    match field.ty {
        FieldType::Reference(target) => Some(target),
        _ => None,
    }
}

/// A dot-walked field of `sysparm_fields` (`user.user_name`): the references walked and the
/// field read at the end, shown under the name as asked. Each step is checked as a query's is
/// (no write-only field; the registry lets whoever reads a table read what it references).
struct Walk {
    name: String,
    path: Path,
}

impl Walk {
    /// The value at the end of the walk from `record`; empty where a reference is.
    fn value<'a>(&self, reached: &'a Reached, record: &'a Record) -> &'a Value {
        let mut at = record;
        for (reference, target) in &self.path.steps {
            match reached
                .get(target.name)
                .and_then(|known| known.get(at.str(reference.name)?))
            {
                Some(next) => at = next,
                None => return &Value::Null,
            }
        }
        at.get(self.path.last.name)
    }
}

/// The dot-walked names among `wanted` that walk through references to a field; the others are
/// left out, as a name that is no field is.
fn walks(table: &'static Table, wanted: &[String]) -> Vec<Walk> {
    wanted
        .iter()
        .filter(|name| name.contains('.'))
        .filter_map(|name| {
            let path = walk(table, name).ok()?;
            Some(Walk {
                name: name.clone(),
                path,
            })
        })
        .collect()
}

/// Records reached by walking, by table name and sys_id.
type Reached = HashMap<&'static str, HashMap<String, Record>>;

/// Reads, step by step, every record the walks reach from `records` (each one once).
async fn reach(store: &dyn Storage, walks: &[Walk], records: &[Record]) -> Result<Reached> {
    let mut reached = Reached::new();
    for walk in walks {
        let mut from: Vec<&Record> = records.iter().collect();
        for (reference, target) in &walk.path.steps {
            let ids: BTreeSet<String> = from
                .iter()
                .filter_map(|r| r.str(reference.name))
                .map(str::to_owned)
                .collect();
            let known = reached.entry(target.name).or_default();
            let missing: Vec<Value> = ids
                .iter()
                .filter(|id| !known.contains_key(*id))
                .map(|id| Value::text(id.as_str()))
                .collect();
            for chunk in missing.chunks(LOOKUP_CHUNK) {
                let select = Select::filter(Filter::one_of(target.sys_id(), chunk.to_vec()));
                for r in store.select(target, &select).await? {
                    known.insert(r.sys_id().to_owned(), r);
                }
            }
            let known = &reached[target.name];
            from = ids.iter().filter_map(|id| known.get(id)).collect();
        }
    }
    Ok(reached)
}

/// The display values of the referenced records named by `wanted` (target table, sys_id).
pub async fn load_displays(
    store: &dyn Storage,
    wanted: Vec<(&'static Table, String)>,
) -> Result<Displays> {
    // By target table (named, as tables are told apart by name), with the ids wanted of it.
    let mut by_table: HashMap<&'static str, (&'static Table, BTreeSet<String>)> = HashMap::new();
    for (target, id) in wanted {
        by_table
            .entry(target.name)
            .or_insert_with(|| (target, BTreeSet::new()))
            .1
            .insert(id);
    }
    let mut displays = Displays::new();
    for (target, (table, ids)) in by_table {
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
