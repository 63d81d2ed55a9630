//! Wrap-up: the codes an agent closes an interaction with, the configuration a wrap-up follows,
//! and the segments (one agent's wrap-up of an interaction) that are opened, given AI
//! recommendations and closed. The rules behind the Wrap Up API, checked in the page's order;
//! the request's own checks (fields present and well formed) are the API's.

use serde_json::{Value as Json, json};

use super::{Changes, Result};
use crate::model::filter::{Filter, RowLock, Select};
use crate::model::registry::{self, field};
use crate::model::value::{self, Record, Value};
use crate::storage::Tx;

/// A segment's state once created, and once the agent's update closed it.
pub const OPEN: &str = "open";
pub const CLOSED: &str = "closed";

/// A translation of a code's label (and description).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    pub language: String,
    pub code: String,
    pub description: Option<String>,
}

/// A code as `POST /wrapup/code` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCode {
    pub code: String,
    pub description: Option<String>,
    pub active: Option<bool>,
    pub translations: Vec<Translation>,
}

/// A code as the API answers it. `translated_*` are the code's first translation (switchboard
/// keeps no language per user), or the label and description themselves without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub sys_id: String,
    pub code: String,
    pub description: String,
    pub active: bool,
    pub external: bool,
    pub translated_code: String,
    pub translated_description: String,
}

/// A configuration as a segment answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configuration {
    pub sys_id: String,
    pub enable_codes: bool,
    pub allowed_codes: Vec<Code>,
    pub default_code: Option<Code>,
    pub enable_ai_code: bool,
    pub enable_ai_notes: bool,
    pub use_ai_as_default: bool,
    pub use_third_party_ai: bool,
}

/// A segment with what it refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub record: Record,
    pub configuration: Option<Configuration>,
    pub code: Option<Code>,
}

impl Segment {
    pub fn text(&self, name: &str) -> String {
        self.record.get(name).to_api_string()
    }

    pub fn flag(&self, name: &str) -> bool {
        self.record.get(name) == &Value::Bool(true)
    }
}

/// An allowed code of an external configuration: a label, and perhaps its translation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedCode {
    pub code: String,
    pub translation: Option<(String, String)>,
}

/// An external segment's configuration, as its create request gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewConfiguration {
    pub enable_codes: bool,
    pub allowed_codes: Vec<AllowedCode>,
    pub default_code: Option<String>,
    pub duration: Option<i64>,
    pub show_timer: bool,
    pub enable_ai_code: bool,
    pub enable_ai_notes: bool,
    pub use_ai_as_default: bool,
    pub use_third_party_ai: bool,
}

/// Where a segment's configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigurationSource {
    /// An internal segment: an existing configuration, by sys_id.
    Existing(String),
    /// An external segment: a configuration made from the request.
    New(NewConfiguration),
}

/// A segment as `POST /wrapup/segment/create` gives it (already checked by the API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSegment {
    pub agent: String,
    pub interaction: String,
    pub configuration: ConfigurationSource,
    pub external: bool,
    pub external_segment_id: Option<String>,
    pub segmented: bool,
    pub segment_id: Option<String>,
    pub segment_table: Option<String>,
    pub opened_on: Option<String>,
    pub ai_wrap_up_code: Option<String>,
    pub ai_notes: Option<String>,
}

/// Which segment an update names: its sys_id, the external system's id for it, or its agent
/// and interaction (in that order of precedence, as the page lists them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    SysId(String),
    External(String),
    AgentInteraction { agent: String, interaction: String },
}

/// The agent's closing of a segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Closing {
    pub wrap_up_code: Option<String>,
    pub notes: Option<String>,
    pub confirmed_on: Option<String>,
}

/// AI recommendations pushed by an external system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AiRecommendation {
    pub ai_wrap_up_code: Option<String>,
    pub ai_notes: Option<String>,
}

/// Why a wrap-up request was refused, in the order the checks run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No interaction with this sys_id.
    InteractionNotFound(String),
    /// No user with this sys_id.
    AgentNotFound(String),
    /// No wrap-up configuration with this sys_id (internal segments).
    ConfigurationNotFound(String),
    /// The default code of an external configuration is not among its allowed codes.
    DefaultCodeNotAllowed(String),
    /// No segment matches the request.
    SegmentNotFound,
    /// The segment is closed already: updates follow its create, once.
    SegmentClosed(String),
    /// `update/ai` on a segment whose configuration does not take third-party AI.
    ThirdPartyAiDisabled(String),
    /// No active wrap-up code has this label.
    UnknownCode(String),
    /// The code is not among the configuration's allowed codes.
    CodeNotAllowed(String),
    /// The configuration requires a code and neither the request nor a default gives one.
    CodeRequired,
}

fn text(record: &Record, name: &str) -> String {
    record.get(name).to_api_string()
}

fn flag(record: &Record, name: &str) -> bool {
    record.get(name) == &Value::Bool(true)
}

/// `changes` with the AI code and notes the caller gave, each stamped with when it was set,
/// where the segment's configuration lets AI fields be stored (switchboard fills none itself).
fn with_ai_fields(
    mut changes: Changes,
    configuration: &Record,
    code: Option<String>,
    notes: Option<String>,
) -> Changes {
    let now_millis = epoch_millis();
    if let Some(code) = code
        && flag(configuration, "enable_ai_code")
    {
        changes = changes
            .set(
                field!(INTERACTION_WRAP_UP_SEGMENT, ai_wrap_up_code),
                Value::text(code),
            )
            .set(
                field!(INTERACTION_WRAP_UP_SEGMENT, ai_code_defined_at),
                Value::text(now_millis.clone()),
            );
    }
    if let Some(notes) = notes
        && flag(configuration, "enable_ai_notes")
    {
        changes = changes
            .set(
                field!(INTERACTION_WRAP_UP_SEGMENT, ai_notes),
                Value::text(notes),
            )
            .set(
                field!(INTERACTION_WRAP_UP_SEGMENT, ai_notes_defined_at),
                Value::text(now_millis),
            );
    }
    changes
}

/// The current time in Unix epoch milliseconds, as the AI timestamps hold it.
pub fn epoch_millis() -> String {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000).to_string()
}

/// The translations stored on a code.
fn translations_of(record: &Record) -> Vec<Translation> {
    let Some(stored) = record.str("translations") else {
        return Vec::new();
    };
    let list: Vec<Json> = serde_json::from_str(stored).unwrap_or_default();
    list.iter()
        .filter_map(|t| {
            Some(Translation {
                language: t.get("language")?.as_str()?.to_owned(),
                code: t.get("code")?.as_str()?.to_owned(),
                description: t
                    .get("description")
                    .and_then(Json::as_str)
                    .map(str::to_owned),
            })
        })
        .collect()
}

fn translations_json(list: &[Translation]) -> String {
    let list: Vec<Json> = list
        .iter()
        .map(|t| match &t.description {
            Some(d) => json!({"language": t.language, "code": t.code, "description": d}),
            None => json!({"language": t.language, "code": t.code}),
        })
        .collect();
    Json::Array(list).to_string()
}

/// A code record as the API answers it.
pub fn code_of(record: &Record) -> Code {
    let code = text(record, "code");
    let description = text(record, "description");
    let first = translations_of(record).into_iter().next();
    let (translated_code, translated_description) = match first {
        Some(t) => (t.code, t.description.unwrap_or_default()),
        None => (code.clone(), description.clone()),
    };
    Code {
        sys_id: record.sys_id().to_owned(),
        code,
        description,
        active: flag(record, "active"),
        external: flag(record, "external"),
        translated_code,
        translated_description,
    }
}

/// The wrap-up code with this sys_id.
pub async fn find_code(tx: &mut Tx, sys_id: &str) -> Result<Option<Code>> {
    let found = tx.get(&registry::INTERACTION_WRAP_UP_CODE, sys_id).await?;
    Ok(found.as_ref().map(code_of))
}

/// The code with this label, locked (it may be about to change).
async fn code_by_label(tx: &mut Tx, label: &str) -> Result<Option<Record>> {
    let filter = Filter::eq(field!(INTERACTION_WRAP_UP_CODE, code), Value::text(label));
    let select = Select::filter(filter).limit(1).locked();
    Ok(tx
        .select(&registry::INTERACTION_WRAP_UP_CODE, &select)
        .await?
        .pop())
}

/// `new` merged into `old`: a language given again replaces its earlier translation.
fn merge_translations(mut old: Vec<Translation>, new: Vec<Translation>) -> Vec<Translation> {
    for t in new {
        match old.iter_mut().find(|o| o.language == t.language) {
            Some(o) => *o = t,
            None => old.push(t),
        }
    }
    old
}

/// Takes the named lock of each label, in one order (sorted), before any code is read: writers
/// of several codes (a POST of codes, an external configuration) then never wait on each other
/// in a cycle. [`put_code`] takes its label's lock again, which a transaction already holding
/// it passes.
async fn lock_labels<'a>(tx: &mut Tx, labels: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut labels: Vec<&str> = labels.collect();
    labels.sort_unstable();
    labels.dedup();
    for label in labels {
        tx.lock(&code_lock(label)).await?;
    }
    Ok(())
}

fn code_lock(label: &str) -> String {
    format!("interaction_wrap_up_code:{label}")
}

/// Creates or updates each code (see [`put_code`]), in the order given.
pub async fn put_codes(tx: &mut Tx, codes: Vec<NewCode>, actor: &str) -> Result<Vec<Code>> {
    lock_labels(tx, codes.iter().map(|c| c.code.as_str())).await?;
    let mut written = Vec::new();
    for code in codes {
        written.push(put_code(tx, code, actor).await?);
    }
    Ok(written)
}

/// Creates the code with this label, or updates the one that has it: the description and the
/// active flag when given, the translations merged by language. Codes written through the API
/// are external. Serialised per label, so two writers of one new label make one code.
async fn put_code(tx: &mut Tx, new: NewCode, actor: &str) -> Result<Code> {
    tx.lock(&code_lock(&new.code)).await?;
    let table = &registry::INTERACTION_WRAP_UP_CODE;
    let existing = code_by_label(tx, &new.code).await?;
    let old_translations = existing.as_ref().map(translations_of).unwrap_or_default();
    let translations = merge_translations(old_translations, new.translations);
    let mut changes = Changes::default()
        .set(
            field!(INTERACTION_WRAP_UP_CODE, external),
            Value::Bool(true),
        )
        .set(
            field!(INTERACTION_WRAP_UP_CODE, translations),
            match translations.is_empty() {
                true => Value::Null,
                false => Value::Text(translations_json(&translations)),
            },
        );
    if let Some(description) = new.description {
        changes = changes.set(
            field!(INTERACTION_WRAP_UP_CODE, description),
            Value::text(description),
        );
    }
    if let Some(active) = new.active {
        changes = changes.set(
            field!(INTERACTION_WRAP_UP_CODE, active),
            Value::Bool(active),
        );
    }
    let record = match existing {
        Some(record) => super::update(tx, table, record.sys_id(), changes, actor).await?,
        None => {
            let changes = changes.set(
                field!(INTERACTION_WRAP_UP_CODE, code),
                Value::text(new.code),
            );
            super::insert(tx, table, None, changes, actor).await?
        }
    };
    Ok(code_of(&record))
}

/// The sys_ids in a list field (`a,b,c`).
fn list_of(record: &Record, name: &str) -> Vec<String> {
    record
        .str(name)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A configuration record with its codes, as a segment answers it.
async fn configuration_of(tx: &mut Tx, record: &Record) -> Result<Configuration> {
    let mut allowed_codes = Vec::new();
    for id in list_of(record, "allowed_codes") {
        if let Some(code) = find_code(tx, &id).await? {
            allowed_codes.push(code);
        }
    }
    let default_code = match record.str("default_code") {
        Some(id) => find_code(tx, id).await?,
        None => None,
    };
    Ok(Configuration {
        sys_id: record.sys_id().to_owned(),
        enable_codes: flag(record, "enable_codes"),
        allowed_codes,
        default_code,
        enable_ai_code: flag(record, "enable_ai_code"),
        enable_ai_notes: flag(record, "enable_ai_notes"),
        use_ai_as_default: flag(record, "use_ai_as_default"),
        use_third_party_ai: flag(record, "use_third_party_ai"),
    })
}

/// A segment record with its configuration and code.
pub async fn segment_of(tx: &mut Tx, record: Record) -> Result<Segment> {
    let configuration = match record.str("wrap_up_configuration") {
        Some(id) => {
            let table = &registry::INTERACTION_WRAP_UP_CONFIGURATION;
            match tx.get(table, id).await? {
                Some(found) => Some(configuration_of(tx, &found).await?),
                None => None,
            }
        }
        None => None,
    };
    let code = match record.str("code") {
        Some(id) => find_code(tx, id).await?,
        None => None,
    };
    Ok(Segment {
        record,
        configuration,
        code,
    })
}

/// The code an external configuration names by label: the existing one (given the request's
/// translation), or a new external code.
async fn code_for_label(
    tx: &mut Tx,
    label: &str,
    translation: Option<(String, String)>,
    actor: &str,
) -> Result<Code> {
    let existing = code_by_label(tx, label).await?;
    match (existing, translation) {
        (Some(record), None) => Ok(code_of(&record)),
        (_, translation) => {
            let translations = translation
                .map(|(language, code)| Translation {
                    language,
                    code,
                    description: None,
                })
                .into_iter()
                .collect();
            let new = NewCode {
                code: label.to_owned(),
                description: None,
                active: None,
                translations,
            };
            put_code(tx, new, actor).await
        }
    }
}

/// Creates an external segment's configuration; its codes are found or created by label.
async fn create_configuration(
    tx: &mut Tx,
    new: NewConfiguration,
    actor: &str,
) -> Result<std::result::Result<Record, Refusal>> {
    let labels = new.allowed_codes.iter().map(|c| c.code.as_str());
    lock_labels(tx, labels.chain(new.default_code.as_deref())).await?;
    let mut allowed = Vec::new();
    for code in new.allowed_codes {
        let found = code_for_label(tx, &code.code, code.translation, actor).await?;
        if !allowed.iter().any(|c: &Code| c.sys_id == found.sys_id) {
            allowed.push(found);
        }
    }
    let default_code = match new.default_code {
        Some(label) if allowed.is_empty() => Some(code_for_label(tx, &label, None, actor).await?),
        Some(label) => match allowed.iter().find(|c| c.code == label) {
            Some(code) => Some(code.clone()),
            None => return Ok(Err(Refusal::DefaultCodeNotAllowed(label))),
        },
        None => None,
    };
    let ids: Vec<&str> = allowed.iter().map(|c| c.sys_id.as_str()).collect();
    let t = &registry::INTERACTION_WRAP_UP_CONFIGURATION;
    let changes = Changes::default()
        .set(
            field!(INTERACTION_WRAP_UP_CONFIGURATION, name),
            Value::text("External wrap-up"),
        )
        .set(
            field!(INTERACTION_WRAP_UP_CONFIGURATION, external),
            Value::Bool(true),
        )
        .set(
            field!(INTERACTION_WRAP_UP_CONFIGURATION, enable_codes),
            Value::Bool(new.enable_codes),
        )
        .set(
            field!(INTERACTION_WRAP_UP_CONFIGURATION, allowed_codes),
            Value::text(ids.join(",")),
        )
        .set(
            field!(INTERACTION_WRAP_UP_CONFIGURATION, default_code),
            default_code.map_or(Value::Null, |c| Value::Text(c.sys_id)),
        )
        .set(
            field!(INTERACTION_WRAP_UP_CONFIGURATION, duration),
            new.duration.map_or(Value::Null, Value::Int),
        )
        .set(
            field!(INTERACTION_WRAP_UP_CONFIGURATION, show_timer),
            Value::Bool(new.show_timer),
        )
        .set(
            field!(INTERACTION_WRAP_UP_CONFIGURATION, enable_ai_code),
            Value::Bool(new.enable_ai_code),
        )
        .set(
            field!(INTERACTION_WRAP_UP_CONFIGURATION, enable_ai_notes),
            Value::Bool(new.enable_ai_notes),
        )
        .set(
            field!(INTERACTION_WRAP_UP_CONFIGURATION, use_ai_as_default),
            Value::Bool(new.use_ai_as_default),
        )
        .set(
            field!(INTERACTION_WRAP_UP_CONFIGURATION, use_third_party_ai),
            Value::Bool(new.use_third_party_ai),
        );
    Ok(Ok(super::insert(tx, t, None, changes, actor).await?))
}

/// Opens a segment: the interaction and the agent must exist (held while the segment refers
/// to them), and an internal segment's configuration too; an external one's is created.
/// AI fields given are stored when the configuration enables them, with the time they were.
pub async fn create_segment(
    tx: &mut Tx,
    new: NewSegment,
    actor: &str,
) -> Result<std::result::Result<Segment, Refusal>> {
    let held = tx
        .get_held(&registry::INTERACTION, &new.interaction, RowLock::KeyShare)
        .await?;
    if held.is_none() {
        return Ok(Err(Refusal::InteractionNotFound(new.interaction)));
    }
    let agent = tx
        .get_held(&registry::SYS_USER, &new.agent, RowLock::KeyShare)
        .await?;
    if agent.is_none() {
        return Ok(Err(Refusal::AgentNotFound(new.agent)));
    }
    let configuration = match new.configuration {
        ConfigurationSource::Existing(id) => {
            let table = &registry::INTERACTION_WRAP_UP_CONFIGURATION;
            match tx.get_held(table, &id, RowLock::KeyShare).await? {
                Some(found) => found,
                None => return Ok(Err(Refusal::ConfigurationNotFound(id))),
            }
        }
        ConfigurationSource::New(config) => match create_configuration(tx, config, actor).await? {
            Ok(created) => created,
            Err(refusal) => return Ok(Err(refusal)),
        },
    };
    let mut changes = Changes::default()
        .set(
            field!(INTERACTION_WRAP_UP_SEGMENT, interaction),
            Value::text(new.interaction),
        )
        .set(
            field!(INTERACTION_WRAP_UP_SEGMENT, agent),
            Value::text(new.agent),
        )
        .set(
            field!(INTERACTION_WRAP_UP_SEGMENT, wrap_up_configuration),
            Value::text(configuration.sys_id()),
        )
        .set(
            field!(INTERACTION_WRAP_UP_SEGMENT, state),
            Value::text(OPEN),
        )
        .set(
            field!(INTERACTION_WRAP_UP_SEGMENT, external),
            Value::Bool(new.external),
        )
        .set(
            field!(INTERACTION_WRAP_UP_SEGMENT, segmented),
            Value::Bool(new.segmented),
        )
        .set(
            field!(INTERACTION_WRAP_UP_SEGMENT, segment_id),
            Value::text(new.segment_id.unwrap_or_default()),
        )
        .set(
            field!(INTERACTION_WRAP_UP_SEGMENT, segment_table),
            Value::text(new.segment_table.unwrap_or_default()),
        )
        .set(
            field!(INTERACTION_WRAP_UP_SEGMENT, external_segment_id),
            Value::text(new.external_segment_id.unwrap_or_default()),
        )
        .set(
            field!(INTERACTION_WRAP_UP_SEGMENT, opened_on),
            Value::text(new.opened_on.unwrap_or_else(value::now)),
        );
    changes = with_ai_fields(changes, &configuration, new.ai_wrap_up_code, new.ai_notes);
    let table = &registry::INTERACTION_WRAP_UP_SEGMENT;
    let record = super::insert(tx, table, None, changes, actor).await?;
    Ok(Ok(segment_of(tx, record).await?))
}

/// The most recent of `records`: by `opened_on`, then creation, then sys_id (date-times are
/// text that sorts chronologically); an open one before any closed one when `open_first`.
fn latest(records: Vec<Record>, open_first: bool) -> Option<Record> {
    records.into_iter().max_by_key(|r| {
        (
            open_first && r.str("state") == Some(OPEN),
            text(r, "opened_on"),
            text(r, "sys_created_on"),
            r.sys_id().to_owned(),
        )
    })
}

async fn segments_where(tx: &mut Tx, filter: Filter, lock: bool) -> Result<Vec<Record>> {
    let mut select = Select::filter(filter);
    if lock {
        select = select.locked();
    }
    tx.select(&registry::INTERACTION_WRAP_UP_SEGMENT, &select)
        .await
        .map_err(Into::into)
}

/// The segment an identifier names, for `GET /wrapup/segment/{segment_id}`: its sys_id, else
/// the external system's id for it, else the id of the interaction segment it wraps up (the
/// most recent, when several share one).
pub async fn find_segment(tx: &mut Tx, id: &str) -> Result<Option<Segment>> {
    let table = &registry::INTERACTION_WRAP_UP_SEGMENT;
    let mut found = tx.get(table, id).await?;
    if found.is_none() {
        let filter = Filter::eq(
            field!(INTERACTION_WRAP_UP_SEGMENT, external_segment_id),
            Value::text(id),
        );
        found = latest(segments_where(tx, filter, false).await?, false);
    }
    if found.is_none() {
        let filter = Filter::eq(
            field!(INTERACTION_WRAP_UP_SEGMENT, segment_id),
            Value::text(id),
        );
        found = latest(segments_where(tx, filter, false).await?, false);
    }
    match found {
        Some(record) => Ok(Some(segment_of(tx, record).await?)),
        None => Ok(None),
    }
}

/// The most recent segment of an agent in an interaction.
pub async fn find_by_agent(tx: &mut Tx, agent: &str, interaction: &str) -> Result<Option<Segment>> {
    let filter = Filter::eq(
        field!(INTERACTION_WRAP_UP_SEGMENT, agent),
        Value::text(agent),
    )
    .and(Filter::eq(
        field!(INTERACTION_WRAP_UP_SEGMENT, interaction),
        Value::text(interaction),
    ));
    match latest(segments_where(tx, filter, false).await?, false) {
        Some(record) => Ok(Some(segment_of(tx, record).await?)),
        None => Ok(None),
    }
}

/// The segment an update names, locked: by sys_id; by the external system's id or by agent and
/// interaction, the most recent open one (else the most recent one).
async fn target_locked(tx: &mut Tx, target: &Target) -> Result<Option<Record>> {
    let filter = match target {
        Target::SysId(id) => {
            let table = &registry::INTERACTION_WRAP_UP_SEGMENT;
            return Ok(tx.get_locked(table, id).await?);
        }
        Target::External(id) => Filter::eq(
            field!(INTERACTION_WRAP_UP_SEGMENT, external_segment_id),
            Value::text(id.as_str()),
        ),
        Target::AgentInteraction { agent, interaction } => Filter::eq(
            field!(INTERACTION_WRAP_UP_SEGMENT, agent),
            Value::text(agent.as_str()),
        )
        .and(Filter::eq(
            field!(INTERACTION_WRAP_UP_SEGMENT, interaction),
            Value::text(interaction.as_str()),
        )),
    };
    Ok(latest(segments_where(tx, filter, true).await?, true))
}

/// The open segment an update names, and its configuration record.
async fn open_target(
    tx: &mut Tx,
    target: &Target,
) -> Result<std::result::Result<(Record, Option<Record>), Refusal>> {
    let Some(record) = target_locked(tx, target).await? else {
        return Ok(Err(Refusal::SegmentNotFound));
    };
    if record.str("state") != Some(OPEN) {
        return Ok(Err(Refusal::SegmentClosed(record.sys_id().to_owned())));
    }
    let configuration = match record.str("wrap_up_configuration") {
        Some(id) => {
            tx.get(&registry::INTERACTION_WRAP_UP_CONFIGURATION, id)
                .await?
        }
        None => None,
    };
    Ok(Ok((record, configuration)))
}

/// The code a closing names by label: one of the configuration's allowed codes when it lists
/// any, else any active code.
async fn closing_code(
    tx: &mut Tx,
    label: &str,
    allowed: &[String],
) -> Result<std::result::Result<Record, Refusal>> {
    let Some(code) = code_by_label(tx, label).await? else {
        return Ok(Err(Refusal::UnknownCode(label.to_owned())));
    };
    if !allowed.is_empty() && !allowed.iter().any(|id| id == code.sys_id()) {
        return Ok(Err(Refusal::CodeNotAllowed(label.to_owned())));
    }
    if !flag(&code, "active") {
        return Ok(Err(Refusal::UnknownCode(label.to_owned())));
    }
    Ok(Ok(code))
}

/// Closes an open segment with the agent's code and notes. Without a code, the AI's
/// recommendation when the configuration uses it as the default and allows it, else the
/// configured default; a configuration that enables codes refuses a closing with neither.
/// An external segment closed without `confirmed_on` awaits the external system's
/// confirmation.
pub async fn close_segment(
    tx: &mut Tx,
    target: &Target,
    closing: Closing,
    actor: &str,
) -> Result<std::result::Result<Segment, Refusal>> {
    let (record, configuration) = match open_target(tx, target).await? {
        Ok(found) => found,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let configuration = configuration.unwrap_or_default();
    let allowed = list_of(&configuration, "allowed_codes");
    let code = match closing.wrap_up_code {
        Some(label) => match closing_code(tx, &label, &allowed).await? {
            Ok(code) => Some(code.sys_id().to_owned()),
            Err(refusal) => return Ok(Err(refusal)),
        },
        None => {
            let mut chosen = None;
            if flag(&configuration, "use_ai_as_default")
                && let Some(ai) = record.str("ai_wrap_up_code")
                && let Ok(code) = closing_code(tx, ai, &allowed).await?
            {
                chosen = Some(code.sys_id().to_owned());
            }
            chosen.or_else(|| configuration.str("default_code").map(str::to_owned))
        }
    };
    if code.is_none() && flag(&configuration, "enable_codes") {
        return Ok(Err(Refusal::CodeRequired));
    }
    let awaiting = flag(&record, "external") && closing.confirmed_on.is_none();
    let mut changes = Changes::default()
        .set(
            field!(INTERACTION_WRAP_UP_SEGMENT, state),
            Value::text(CLOSED),
        )
        .set(
            field!(INTERACTION_WRAP_UP_SEGMENT, code),
            code.map_or(Value::Null, Value::Text),
        )
        .set(
            field!(INTERACTION_WRAP_UP_SEGMENT, submitted_on),
            Value::text(value::now()),
        )
        .set(
            field!(INTERACTION_WRAP_UP_SEGMENT, awaiting_confirmation),
            Value::Bool(awaiting),
        );
    if let Some(notes) = closing.notes {
        changes = changes.set(
            field!(INTERACTION_WRAP_UP_SEGMENT, notes),
            Value::text(notes),
        );
    }
    if let Some(confirmed_on) = closing.confirmed_on {
        changes = changes.set(
            field!(INTERACTION_WRAP_UP_SEGMENT, confirmed_on),
            Value::text(confirmed_on),
        );
    }
    let table = &registry::INTERACTION_WRAP_UP_SEGMENT;
    let after = super::update(tx, table, record.sys_id(), changes, actor).await?;
    Ok(Ok(segment_of(tx, after).await?))
}

/// Stores an external system's AI recommendations on an open segment whose configuration takes
/// third-party AI: each one only when the configuration enables it, with the time it was
/// stored (Unix epoch milliseconds).
pub async fn recommend(
    tx: &mut Tx,
    target: &Target,
    ai: AiRecommendation,
    actor: &str,
) -> Result<std::result::Result<Record, Refusal>> {
    let (record, configuration) = match open_target(tx, target).await? {
        Ok(found) => found,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let configuration = configuration.unwrap_or_default();
    if !flag(&configuration, "use_third_party_ai") {
        return Ok(Err(Refusal::ThirdPartyAiDisabled(
            record.sys_id().to_owned(),
        )));
    }
    let changes = with_ai_fields(
        Changes::default(),
        &configuration,
        ai.ai_wrap_up_code,
        ai.ai_notes,
    );
    let table = &registry::INTERACTION_WRAP_UP_SEGMENT;
    Ok(Ok(super::update(
        tx,
        table,
        record.sys_id(),
        changes,
        actor,
    )
    .await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translation(language: &str, code: &str) -> Translation {
        Translation {
            language: language.into(),
            code: code.into(),
            description: None,
        }
    }

    #[test]
    fn a_language_given_again_replaces_its_translation() {
        let merged = merge_translations(
            vec![translation("de", "A"), translation("fr", "B")],
            vec![translation("de", "C"), translation("es", "D")],
        );
        assert_eq!(
            merged,
            vec![
                translation("de", "C"),
                translation("fr", "B"),
                translation("es", "D")
            ]
        );
    }

    #[test]
    fn a_code_answers_its_first_translation_or_itself() {
        let record = Record::new()
            .with("sys_id", Value::text("x"))
            .with("code", Value::text("Billing Issue"))
            .with("active", Value::Bool(true));
        let plain = code_of(&record);
        assert_eq!(plain.translated_code, "Billing Issue");
        assert_eq!(plain.translated_description, "");
        let stored = translations_json(&[Translation {
            language: "de".into(),
            code: "Abrechnungsproblem".into(),
            description: Some("Ein code".into()),
        }]);
        let translated = code_of(&record.with("translations", Value::Text(stored)));
        assert_eq!(translated.translated_code, "Abrechnungsproblem");
        assert_eq!(translated.translated_description, "Ein code");
    }

    #[test]
    fn the_latest_segment_is_the_last_opened_and_an_open_one_first_when_asked() {
        let segment = |id: &str, opened: &str, state: &str| {
            Record::new()
                .with("sys_id", Value::text(id))
                .with("opened_on", Value::text(opened))
                .with("state", Value::text(state))
        };
        let records = vec![
            segment("a", "2024-09-16 17:52:01", OPEN),
            segment("b", "2024-09-16 18:00:00", CLOSED),
        ];
        assert_eq!(latest(records.clone(), false).unwrap().sys_id(), "b");
        assert_eq!(latest(records, true).unwrap().sys_id(), "a");
    }

    #[test]
    fn lists_are_comma_separated_ids() {
        let record = Record::new().with("allowed_codes", Value::text("a, b,,c"));
        assert_eq!(list_of(&record, "allowed_codes"), vec!["a", "b", "c"]);
        assert!(list_of(&Record::new(), "allowed_codes").is_empty());
    }
}
