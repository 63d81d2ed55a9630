//! The table registry: every table switchboard stores, its fields and their rules.
//!
//! The Table API, rendering, query translation, the SQL schema check and the record rules all
//! read this one description, so a table or field is added here and nowhere else.

use super::roles::{
    AWA_AGENT, AWA_INTEGRATION_USER, AWA_MANAGER, INTERACTION_AGENT, INTERACTION_INTEGRATION_USER,
    SN_CT_CTR_IT_CORE_ADMIN,
};

/// What a field holds, which decides how it is validated, stored, compared and rendered.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    String,
    Boolean,
    Integer,
    /// `YYYY-MM-DD HH:MM:SS` in UTC; stored as text, which sorts chronologically.
    DateTime,
    /// A sys_id of a record of the table.
    Reference(&'static Table),
    /// A JSON document, stored as text.
    Json,
}

/// A reference shows its target's name: tables refer to each other (and to themselves).
impl std::fmt::Debug for FieldType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldType::String => f.write_str("String"),
            FieldType::Boolean => f.write_str("Boolean"),
            FieldType::Integer => f.write_str("Integer"),
            FieldType::DateTime => f.write_str("DateTime"),
            FieldType::Reference(table) => write!(f, "Reference({})", table.name),
            FieldType::Json => f.write_str("Json"),
        }
    }
}

/// What happens to a reference field when the record it points at is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    /// The referring field is emptied (the platform's default cascade rule).
    Clear,
    /// The referring record is deleted too.
    Cascade,
    /// The referring records are deleted too, all in one statement, without rules or cascades
    /// of their own: for tables of pure content nothing refers to (an attachment's chunks,
    /// which may number thousands).
    Purge,
}

/// Who may write a field through the Table API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    /// Maintained by switchboard (sys_* fields, numbers, derived fields); writes are ignored.
    ReadOnly,
    /// Accepted on write, never rendered or queryable (passwords, secrets).
    WriteOnly,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub ty: FieldType,
    pub access: Access,
    /// Value given to a new record that does not supply one (as Table API text).
    pub default: Option<&'static str>,
    pub on_delete: OnDelete,
    /// The values an integer field may hold, inclusive: checked on every write, so a value
    /// that means nothing (a negative count, a lifespan past any date) is refused at the door
    /// rather than failing wherever it is used.
    pub range: Option<(i64, i64)>,
    /// A write-only field kept as written rather than hashed: a key the server must use (a
    /// JWT profile's shared or public key), never rendered all the same.
    pub kept: bool,
}

impl Field {
    /// The default of an integer field, as a number.
    pub fn integer_default(&self) -> Option<i64> {
        self.default.and_then(|d| d.parse().ok())
    }
}

/// Which roles may read a table through the Table API (admin may always read and write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAccess {
    /// Any authenticated user.
    Authenticated,
    /// Users holding one of these roles (directly or by containment).
    Roles(&'static [&'static str]),
    /// Only admin.
    AdminOnly,
}

#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    pub fields: &'static [Field],
    /// Fields tried in order for a record's display value; the first non-empty one wins.
    pub display: &'static [&'static str],
    /// Sets of fields whose combined values are unique across the table.
    pub unique: &'static [&'static [&'static str]],
    pub read: ReadAccess,
}

/// `a == b`, in a const fn.
const fn bytes_equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// A field of a registry table, checked when the crate compiles: `field!(SYS_USER, user_name)`
/// is the `&'static Field`, and a name the table does not have fails the build instead of
/// panicking when the line first runs. The handle may be a copy of the registry's field
/// (consts are inlined): compare fields by value, never by address.
macro_rules! field {
    ($table:ident, $field:ident) => {{
        const FIELD: &'static $crate::model::registry::Field =
            $crate::model::registry::$table.column(stringify!($field));
        FIELD
    }};
}
pub(crate) use field;

/// Tables are told apart by name (each is one static).
impl PartialEq for Table {
    fn eq(&self, other: &Table) -> bool {
        self.name == other.name
    }
}

impl Eq for Table {}

impl Table {
    /// The field called `name`, found when the crate compiles: what [`field!`] calls, so that
    /// a misspelt name is a compile error. Panics (in const evaluation: fails the build) if
    /// there is no such field.
    pub const fn column(&'static self, name: &str) -> &'static Field {
        let mut i = 0;
        while i < self.fields.len() {
            if bytes_equal(self.fields[i].name.as_bytes(), name.as_bytes()) {
                return &self.fields[i];
            }
            i += 1;
        }
        panic!("no such field in this table of the registry");
    }

    /// The `sys_id` field, which every table has (see `sys_fields!`).
    pub fn sys_id(&'static self) -> &'static Field {
        self.column("sys_id")
    }

    pub fn field(&self, name: &str) -> Option<&'static Field> {
        // Tables are 'static, so the field outlives the borrow of self.
        let fields: &'static [Field] = self.fields;
        fields.iter().find(|f| f.name == name)
    }

    /// Fields a client may see (everything but write-only ones), in declaration order.
    pub fn readable_fields(&self) -> impl Iterator<Item = &'static Field> {
        let fields: &'static [Field] = self.fields;
        fields.iter().filter(|f| f.access != Access::WriteOnly)
    }
}

const fn typed_field(name: &'static str, ty: FieldType) -> Field {
    Field {
        name,
        ty,
        access: Access::ReadWrite,
        default: None,
        on_delete: OnDelete::Clear,
        range: None,
        kept: false,
    }
}
const fn string(name: &'static str) -> Field {
    typed_field(name, FieldType::String)
}
const fn boolean(name: &'static str, default: &'static str) -> Field {
    with_default(typed_field(name, FieldType::Boolean), default)
}
const fn reference(name: &'static str, table: &'static Table) -> Field {
    typed_field(name, FieldType::Reference(table))
}
const fn owned_by(name: &'static str, table: &'static Table) -> Field {
    let mut f = reference(name, table);
    f.on_delete = OnDelete::Cascade;
    f
}
const fn purged_with(name: &'static str, table: &'static Table) -> Field {
    let mut f = reference(name, table);
    f.on_delete = OnDelete::Purge;
    f
}
const fn read_only(mut f: Field) -> Field {
    f.access = Access::ReadOnly;
    f
}
const fn write_only(mut f: Field) -> Field {
    f.access = Access::WriteOnly;
    f
}
/// Write-only, and kept as written (not hashed): a key the server must read back.
const fn write_only_kept(mut f: Field) -> Field {
    f.access = Access::WriteOnly;
    f.kept = true;
    f
}
const fn with_default(mut f: Field, default: &'static str) -> Field {
    f.default = Some(default);
    f
}
/// An integer field holding `min..=max`.
const fn integer(name: &'static str, min: i64, max: i64) -> Field {
    let mut f = typed_field(name, FieldType::Integer);
    f.range = Some((min, max));
    f
}

/// The longest token lifespan an application may set: ten 365-day years, in seconds. The
/// platform documents no maximum; without one, a lifespan past the last representable date
/// made every grant fail.
pub const MAX_TOKEN_LIFESPAN: i64 = 10 * 365 * 24 * 60 * 60;

/// The largest clock skew a JWT profile may allow, in seconds (the platform's default is 0).
pub const MAX_CLOCK_SKEW: i64 = 3600;

/// The fields every record has, in this order, before the table's own.
pub const SYS_FIELDS: [&str; 6] = [
    "sys_id",
    "sys_created_on",
    "sys_updated_on",
    "sys_created_by",
    "sys_updated_by",
    "sys_mod_count",
];

/// The sys_* fields as registry entries; every table's `fields` starts with these.
macro_rules! sys_fields {
    ($($rest:expr),* $(,)?) => {
        &[
            read_only(typed_field("sys_id", FieldType::String)),
            read_only(typed_field("sys_created_on", FieldType::DateTime)),
            read_only(typed_field("sys_updated_on", FieldType::DateTime)),
            read_only(typed_field("sys_created_by", FieldType::String)),
            read_only(typed_field("sys_updated_by", FieldType::String)),
            read_only(integer("sys_mod_count", 0, i64::MAX)),
            $($rest),*
        ]
    };
}

/// Roles that may read the contact-center tables.
const CONTACT_CENTER_READERS: &[&str] = &[INTERACTION_AGENT, AWA_INTEGRATION_USER, AWA_AGENT];

/// Roles that may read the AWA presence and capacity tables: the integration that routes work,
/// the agents themselves, and their managers (`awa_admin` by containment).
const AWA_READERS: &[&str] = &[AWA_INTEGRATION_USER, AWA_AGENT, AWA_MANAGER];

/// Queues and service channels are read by both: an interaction names its queue, a work item
/// its queue and channel.
const CHANNEL_READERS: &[&str] = &[
    INTERACTION_AGENT,
    AWA_INTEGRATION_USER,
    AWA_AGENT,
    AWA_MANAGER,
];

/// The largest capacity or order a record may hold: the platform's integers are 32-bit.
const MAX_INT: i64 = i32::MAX as i64;

/// What [`AWA_AGENT_CAPACITY`]'s `capacity_for` holds for an agent's universal capacity (its
/// record has no service channel).
pub const UNIVERSAL_CAPACITY: &str = "universal";

/// Every table, in the order the schema creates them.
pub static TABLES: &[&Table] = &[
    &SYS_USER,
    &SYS_USER_ROLE,
    &SYS_USER_ROLE_CONTAINS,
    &SYS_USER_HAS_ROLE,
    &INTERACTION_CONNECTOR,
    &AWA_QUEUE,
    &INTERACTION,
    &INTERACTION_JSON_BLOB,
    &LIVE_GROUP_PROFILE,
    &SYS_CS_CONVERSATION,
    &SYS_CS_CONVERSATION_MEMBER,
    &SYS_CS_PROVIDER_APPLICATION,
    &EXTERNAL_AGENT_MAPPING,
    &OAUTH_ENTITY,
    &OAUTH_CREDENTIAL,
    &OAUTH_JWT_JTI,
    &SYS_TINY_URL,
    &SYS_ATTACHMENT,
    &SYS_ATTACHMENT_DOC,
    &SYS_ATTACHMENT_ATTRIBUTE,
    &AWA_SERVICE_CHANNEL,
    &AWA_PRESENCE_STATE,
    &AWA_AGENT_PRESENCE,
    &AWA_AGENT_CHANNEL_AVAILABILITY,
    &AWA_AGENT_CAPACITY,
    &INCIDENT,
    &AWA_WORK_ITEM,
    &AWA_REJECT_REASON,
    &AWA_WORK_ITEM_REJECTION,
    &AWA_AGENT_PRESENCE_HISTORY,
    &CCAAS_EXTERNAL_ID_MAPPING,
    &AWA_EXTERNAL_PROVIDER,
    &OUTBOUND_EVENT,
    &SYS_OUTBOUND_HTTP_LOG,
    &INTERACTION_WRAP_UP_CODE,
    &INTERACTION_WRAP_UP_CONFIGURATION,
    &INTERACTION_WRAP_UP_SEGMENT,
];

pub static SYS_USER: Table = Table {
    name: "sys_user",
    fields: sys_fields![
        string("user_name"),
        string("first_name"),
        string("last_name"),
        read_only(string("name")),
        string("email"),
        boolean("active", "true"),
        write_only(string("user_password")),
        read_only(string("roles")),
    ],
    display: &["name", "user_name"],
    unique: &[&["user_name"]],
    read: ReadAccess::Authenticated,
};

pub static SYS_USER_ROLE: Table = Table {
    name: "sys_user_role",
    fields: sys_fields![string("name"), string("description")],
    display: &["name"],
    unique: &[&["name"]],
    read: ReadAccess::Authenticated,
};

pub static SYS_USER_ROLE_CONTAINS: Table = Table {
    name: "sys_user_role_contains",
    fields: sys_fields![
        owned_by("role", &SYS_USER_ROLE),
        owned_by("contains", &SYS_USER_ROLE),
    ],
    display: &[],
    unique: &[&["role", "contains"]],
    read: ReadAccess::Authenticated,
};

pub static SYS_USER_HAS_ROLE: Table = Table {
    name: "sys_user_has_role",
    fields: sys_fields![
        owned_by("user", &SYS_USER),
        owned_by("role", &SYS_USER_ROLE)
    ],
    display: &[],
    unique: &[&["user", "role"]],
    read: ReadAccess::AdminOnly,
};

pub static INTERACTION_CONNECTOR: Table = Table {
    name: "interaction_connector",
    fields: sys_fields![
        string("name"),
        string("type"),
        boolean("third_party", "false"),
        boolean("active", "true"),
    ],
    display: &["name"],
    unique: &[],
    read: ReadAccess::Roles(CONTACT_CENTER_READERS),
};

/// A queue work items wait in. With `external_routing`, a contact center routes its work (the
/// Offer Work and Manual Assignment APIs) and may name it by its own id, `external_id` (the
/// platform's "Provider queue ID"). Its work items are on its `service_channel`; the events of
/// its work go to its `external_provider` (docs/outbound-events.md).
pub static AWA_QUEUE: Table = Table {
    name: "awa_queue",
    fields: sys_fields![
        string("name"),
        boolean("active", "true"),
        reference("service_channel", &AWA_SERVICE_CHANNEL),
        string("external_id"),
        boolean("external_routing", "false"),
        reference("external_provider", &AWA_EXTERNAL_PROVIDER),
    ],
    display: &["name"],
    unique: &[],
    read: ReadAccess::Roles(CHANNEL_READERS),
};

pub static INTERACTION: Table = Table {
    name: "interaction",
    fields: sys_fields![
        read_only(string("number")),
        string("type"),
        reference("channel", &INTERACTION_CONNECTOR),
        string("state"),
        boolean("active", "true"),
        reference("queue", &AWA_QUEUE),
        reference("assigned_to", &SYS_USER),
        reference("opened_for", &SYS_USER),
        reference("opened_by", &SYS_USER),
        reference("closed_by", &SYS_USER),
        typed_field("opened_at", FieldType::DateTime),
        typed_field("closed_at", FieldType::DateTime),
        string("context_table"),
        string("context_document"),
        string("channel_metadata_table"),
        string("channel_metadata_document"),
        string("short_description"),
    ],
    display: &["number"],
    unique: &[&["number"]],
    read: ReadAccess::Roles(CONTACT_CENTER_READERS),
};

pub static INTERACTION_JSON_BLOB: Table = Table {
    name: "interaction_json_blob",
    fields: sys_fields![typed_field("value", FieldType::Json)],
    display: &[],
    unique: &[],
    read: ReadAccess::Roles(CONTACT_CENTER_READERS),
};

pub static LIVE_GROUP_PROFILE: Table = Table {
    name: "live_group_profile",
    fields: sys_fields![
        string("name"),
        string("description"),
        boolean("public", "false"),
        typed_field("metadata", FieldType::Json),
    ],
    display: &["name"],
    unique: &[],
    read: ReadAccess::Roles(CONTACT_CENTER_READERS),
};

pub static SYS_CS_CONVERSATION: Table = Table {
    name: "sys_cs_conversation",
    fields: sys_fields![
        owned_by("interaction", &INTERACTION),
        with_default(string("state"), "open"),
        string("topic"),
    ],
    display: &[],
    unique: &[],
    read: ReadAccess::Roles(CONTACT_CENTER_READERS),
};

pub static SYS_CS_CONVERSATION_MEMBER: Table = Table {
    name: "sys_cs_conversation_member",
    fields: sys_fields![
        owned_by("conversation", &SYS_CS_CONVERSATION),
        owned_by("member", &SYS_USER),
        string("member_type"),
        boolean("active", "true"),
    ],
    display: &[],
    unique: &[],
    read: ReadAccess::Roles(CONTACT_CENTER_READERS),
};

pub static SYS_CS_PROVIDER_APPLICATION: Table = Table {
    name: "sys_cs_provider_application",
    fields: sys_fields![
        string("name"),
        string("inbound_id"),
        string("provider"),
        boolean("active", "true"),
    ],
    display: &["name"],
    unique: &[],
    read: ReadAccess::Roles(&[INTERACTION_AGENT, AWA_INTEGRATION_USER]),
};

pub static EXTERNAL_AGENT_MAPPING: Table = Table {
    name: "external_agent_mapping",
    fields: sys_fields![
        owned_by("user", &SYS_USER),
        owned_by("provider_application", &SYS_CS_PROVIDER_APPLICATION),
        string("external_agent_id"),
        boolean("active", "true"),
    ],
    display: &[],
    unique: &[&["user", "provider_application"]],
    read: ReadAccess::Roles(&[INTERACTION_AGENT, AWA_INTEGRATION_USER]),
};

/// The CCaaS External ID Mappings table (the platform's name): a CCaaS provider's routing id
/// for a record of any table, one per (table, document, provider).
pub static CCAAS_EXTERNAL_ID_MAPPING: Table = Table {
    name: "sn_ct_ctr_it_core_ccaas_external_id_mapping",
    fields: sys_fields![
        string("document_table"),
        string("document_id"),
        string("external_id"),
        string("external_provider"),
    ],
    display: &[],
    unique: &[&["document_table", "document_id", "external_provider"]],
    read: ReadAccess::Roles(&[SN_CT_CTR_IT_CORE_ADMIN]),
};

/// Roles that may read wrap-up codes and configurations: agents, and the integration calling
/// the Wrap Up API.
const WRAP_UP_READERS: &[&str] = &[INTERACTION_AGENT, INTERACTION_INTEGRATION_USER];

/// A wrap-up code an agent picks when closing an interaction (the platform's Interaction Wrap
/// Up Code table). `code` is its label, unique: the Wrap Up API's `POST /wrapup/code` creates or
/// updates codes by label. `translations` (switchboard's) keeps the translations the API was
/// given, a JSON list of `{"language", "code", "description"}`.
pub static INTERACTION_WRAP_UP_CODE: Table = Table {
    name: "interaction_wrap_up_code",
    fields: sys_fields![
        string("code"),
        string("description"),
        boolean("active", "true"),
        boolean("external", "false"),
        typed_field("translations", FieldType::Json),
    ],
    display: &["code"],
    unique: &[&["code"]],
    read: ReadAccess::Roles(WRAP_UP_READERS),
};

/// How a wrap-up goes (the platform's Interaction Wrap Up Configuration table): whether a code
/// is required, which codes are allowed (`allowed_codes`, a list of code sys_ids separated by
/// commas, as the platform's list fields hold them) and the default one, the timer, and the AI
/// recommendation flags. An external segment's configuration is created from its request.
pub static INTERACTION_WRAP_UP_CONFIGURATION: Table = Table {
    name: "interaction_wrap_up_configuration",
    fields: sys_fields![
        string("name"),
        boolean("active", "true"),
        boolean("external", "false"),
        boolean("enable_codes", "false"),
        string("allowed_codes"),
        reference("default_code", &INTERACTION_WRAP_UP_CODE),
        integer("duration", 0, MAX_INT),
        boolean("show_timer", "false"),
        boolean("enable_ai_code", "false"),
        boolean("enable_ai_notes", "false"),
        boolean("use_ai_as_default", "false"),
        boolean("use_third_party_ai", "false"),
    ],
    display: &["name"],
    unique: &[],
    read: ReadAccess::Roles(WRAP_UP_READERS),
};

/// One agent's wrap-up of an interaction (the platform's Interaction Wrap Up Segment table):
/// opened (`state` `open`) by the Wrap Up API's create, closed by its update with the code and
/// notes the agent chose. `segment_id` and `segment_table` name the interaction segment it
/// wraps up; `external_segment_id` is the external system's id for it.
pub static INTERACTION_WRAP_UP_SEGMENT: Table = Table {
    name: "interaction_wrap_up_segment",
    fields: sys_fields![
        owned_by("interaction", &INTERACTION),
        reference("agent", &SYS_USER),
        reference("wrap_up_configuration", &INTERACTION_WRAP_UP_CONFIGURATION),
        with_default(string("state"), "open"),
        boolean("external", "false"),
        boolean("segmented", "false"),
        string("segment_id"),
        string("segment_table"),
        string("external_segment_id"),
        typed_field("opened_on", FieldType::DateTime),
        typed_field("submitted_on", FieldType::DateTime),
        typed_field("confirmed_on", FieldType::DateTime),
        boolean("awaiting_confirmation", "false"),
        reference("code", &INTERACTION_WRAP_UP_CODE),
        string("notes"),
        string("ai_wrap_up_code"),
        string("ai_notes"),
        string("ai_code_defined_at"),
        string("ai_notes_defined_at"),
    ],
    display: &[],
    unique: &[],
    read: ReadAccess::Roles(&[INTERACTION_AGENT]),
};

pub static OAUTH_ENTITY: Table = Table {
    name: "oauth_entity",
    fields: sys_fields![
        string("name"),
        string("client_id"),
        write_only(string("client_secret")),
        reference("user", &SYS_USER),
        with_default(
            integer("access_token_lifespan", 1, MAX_TOKEN_LIFESPAN),
            "1800"
        ),
        with_default(
            integer("refresh_token_lifespan", 1, MAX_TOKEN_LIFESPAN),
            "8640000"
        ),
        // The JWT profile (the JWT bearer grant; docs/auth.md): the family of algorithms the
        // key is for (`HS`, `RS` or `ES`; none, no profile), the key (a shared key for HS, a
        // PEM public key for RS and ES: write-only like the secret, but kept as written, since the
        // server verifies with it), the sys_user field the
        // assertion's `sub` is matched against, the clock skew allowed on `exp`, `nbf` and
        // `iat`, and whether a `jti` may be used only once.
        string("jwt_algorithm_family"),
        write_only_kept(string("jwt_key")),
        with_default(string("user_field"), "user_name"),
        with_default(integer("clock_skew", 0, MAX_CLOCK_SKEW), "0"),
        boolean("enable_jti_verification", "true"),
    ],
    display: &["name"],
    unique: &[&["client_id"]],
    read: ReadAccess::AdminOnly,
};

pub static OAUTH_CREDENTIAL: Table = Table {
    name: "oauth_credential",
    fields: sys_fields![
        write_only(string("token_hash")),
        string("token_type"),
        owned_by("client", &OAUTH_ENTITY),
        owned_by("user", &SYS_USER),
        typed_field("expires", FieldType::DateTime),
        string("scope"),
        owned_by("refresh", &OAUTH_CREDENTIAL),
    ],
    display: &[],
    unique: &[&["token_hash"]],
    read: ReadAccess::AdminOnly,
};

/// The `jti` values of JWT bearer assertions already used with an application, kept until the
/// assertion expires (so a replay is refused on every node), then pruned.
pub static OAUTH_JWT_JTI: Table = Table {
    name: "oauth_jwt_jti",
    fields: sys_fields![
        owned_by("client", &OAUTH_ENTITY),
        string("jti"),
        typed_field("expires", FieldType::DateTime),
    ],
    display: &[],
    unique: &[&["client", "jti"]],
    read: ReadAccess::AdminOnly,
};

/// Shortened query strings (`POST /api/now/tinyurl`), for clients whose URLs grow too long: a
/// request names one with `sysparm_tiny`. `data` is the query string; `data_hash` its SHA-256,
/// so that one query string has one tiny URL.
pub static SYS_TINY_URL: Table = Table {
    name: "sys_tiny_url",
    fields: sys_fields![
        read_only(string("tiny_url")),
        read_only(string("data")),
        read_only(string("data_hash")),
    ],
    display: &["tiny_url"],
    unique: &[&["tiny_url"], &["data_hash"]],
    read: ReadAccess::AdminOnly,
};

/// Files attached to records (the Attachment API): what the file is, and which record it is
/// attached to, by table name and sys_id (a reference into any table, so not a `reference`
/// field: `domain::delete` removes a record's attachments itself). The content is in
/// [`SYS_ATTACHMENT_DOC`]. Through the Table API only admin reads it; the Attachment API shows
/// an attachment to whoever may read its record's table.
pub static SYS_ATTACHMENT: Table = Table {
    name: "sys_attachment",
    fields: sys_fields![
        string("file_name"),
        string("content_type"),
        read_only(string("table_name")),
        read_only(string("table_sys_id")),
        read_only(integer("size_bytes", 0, i64::MAX)),
        read_only(integer("size_compressed", 0, i64::MAX)),
        read_only(boolean("compressed", "false")),
        read_only(integer("chunk_size_bytes", 0, i64::MAX)),
        read_only(string("hash")),
    ],
    display: &["file_name"],
    unique: &[],
    read: ReadAccess::AdminOnly,
};

/// An attachment's content, in order by `position`: `data` is a chunk of the file in base64,
/// as the platform keeps it; `length` is the chunk's size in bytes.
pub static SYS_ATTACHMENT_DOC: Table = Table {
    name: "sys_attachment_doc",
    fields: sys_fields![
        read_only(purged_with("sys_attachment", &SYS_ATTACHMENT)),
        read_only(integer("position", 0, i64::MAX)),
        read_only(integer("length", 0, i64::MAX)),
        read_only(string("data")),
    ],
    display: &[],
    unique: &[&["sys_attachment", "position"]],
    read: ReadAccess::AdminOnly,
};

/// Key-value attributes of an attachment (alt text, say), one key once per attachment.
pub static SYS_ATTACHMENT_ATTRIBUTE: Table = Table {
    name: "sys_attachment_attribute",
    fields: sys_fields![
        read_only(purged_with("attachment", &SYS_ATTACHMENT)),
        read_only(string("key")),
        string("value"),
    ],
    display: &["key"],
    unique: &[&["attachment", "key"]],
    read: ReadAccess::AdminOnly,
};

/// A channel work arrives on (chat, phone, case...). `max_capacity` is the channel's default
/// capacity: how many of its work items an agent may hold at once, unless the agent has an
/// [`AWA_AGENT_CAPACITY`] override. `restrict_update` is reported to clients with the channel
/// (the AWA Agent API's `restrict_update`).
pub static AWA_SERVICE_CHANNEL: Table = Table {
    name: "awa_service_channel",
    fields: sys_fields![
        string("name"),
        string("service_channel_type"),
        boolean("active", "true"),
        with_default(integer("max_capacity", 0, MAX_INT), "1"),
        boolean("restrict_update", "false"),
    ],
    display: &["name"],
    unique: &[],
    read: ReadAccess::Roles(CHANNEL_READERS),
};

/// A presence state an agent can be in (Available, Away, Offline): `available` states take
/// work, and only in them are an agent's channels available. `order` sorts them in the inbox.
pub static AWA_PRESENCE_STATE: Table = Table {
    name: "awa_presence_state",
    fields: sys_fields![
        string("name"),
        boolean("available", "false"),
        with_default(integer("order", -MAX_INT, MAX_INT), "0"),
        boolean("show_channels", "false"),
        boolean("disable_inactivity_check", "false"),
        boolean("active", "true"),
    ],
    display: &["name"],
    unique: &[],
    read: ReadAccess::Roles(AWA_READERS),
};

/// An agent's current presence state, one record per agent, and when it last changed.
pub static AWA_AGENT_PRESENCE: Table = Table {
    name: "awa_agent_presence",
    fields: sys_fields![
        owned_by("agent", &SYS_USER),
        reference("current_presence_state", &AWA_PRESENCE_STATE),
        typed_field("state_changed_on", FieldType::DateTime),
    ],
    display: &[],
    unique: &[&["agent"]],
    read: ReadAccess::Roles(AWA_READERS),
};

/// Whether an agent takes work on a service channel, one record per agent and channel. The
/// channels an agent has a record for are the agent's channels.
pub static AWA_AGENT_CHANNEL_AVAILABILITY: Table = Table {
    name: "awa_agent_channel_availability",
    fields: sys_fields![
        owned_by("agent", &SYS_USER),
        owned_by("service_channel", &AWA_SERVICE_CHANNEL),
        boolean("available", "false"),
    ],
    display: &[],
    unique: &[&["agent", "service_channel"]],
    read: ReadAccess::Roles(AWA_READERS),
};

/// An agent's capacities: a record with a service channel overrides that channel's default
/// capacity for the agent; a record without one is the agent's universal capacity (across
/// every channel). `capacity_for` is derived on every write (the channel's sys_id, or
/// [`UNIVERSAL_CAPACITY`]), so one unique key holds both kinds: an empty reference is NULL, and
/// NULLs never clash in a unique index.
pub static AWA_AGENT_CAPACITY: Table = Table {
    name: "awa_agent_capacity",
    fields: sys_fields![
        owned_by("agent", &SYS_USER),
        owned_by("service_channel", &AWA_SERVICE_CHANNEL),
        with_default(integer("max_capacity", 0, MAX_INT), "1"),
        read_only(string("capacity_for")),
    ],
    display: &[],
    unique: &[&["agent", "capacity_for"]],
    read: ReadAccess::Roles(AWA_READERS),
};

/// An incident: a document the AWA samples route (numbered `INC0000001`). Only the fields a
/// routed document needs.
pub static INCIDENT: Table = Table {
    name: "incident",
    fields: sys_fields![
        read_only(string("number")),
        string("short_description"),
        with_default(string("state"), "1"),
        boolean("active", "true"),
        reference("assigned_to", &SYS_USER),
        reference("caller_id", &SYS_USER),
    ],
    display: &["number"],
    unique: &[&["number"]],
    read: ReadAccess::Authenticated,
};

/// A piece of work (an interaction, an incident) routed to a queue and offered to agents. The
/// document is named by table and sys_id, as any table may be routed. `state` is `queued`,
/// `pending_accept`, `accepted` or `cancelled` (with a `reason`); an inactive item is over.
/// `timeout_on` is when a pending offer expires (the sweeper cancels it then).
pub static AWA_WORK_ITEM: Table = Table {
    name: "awa_work_item",
    fields: sys_fields![
        string("document_table"),
        string("document_id"),
        string("display_name"),
        reference("queue", &AWA_QUEUE),
        reference("service_channel", &AWA_SERVICE_CHANNEL),
        with_default(string("state"), "queued"),
        boolean("active", "true"),
        string("reason"),
        reference("assigned_to", &SYS_USER),
        boolean("rejected", "false"),
        boolean("timed_out", "false"),
        typed_field("offered_on", FieldType::DateTime),
        with_default(integer("offer_timeout", 0, MAX_INT), "0"),
        typed_field("timeout_on", FieldType::DateTime),
        reference("after_timeout_presence", &AWA_PRESENCE_STATE),
        boolean("allowed_to_decline", "true"),
        boolean("auto_assign", "false"),
        string("display_option"),
        reference("allocated_by", &SYS_USER),
        with_default(integer("offer_count", 0, MAX_INT), "0"),
        with_default(integer("size", 0, MAX_INT), "1"),
        string("external_segment_id"),
        reference("previous_work_item", &AWA_WORK_ITEM),
        typed_field("state_changed_on", FieldType::DateTime),
        boolean("is_queue_transferred", "false"),
        boolean("consult", "false"),
        string("consult_state"),
        string("transfer_type"),
    ],
    display: &["display_name"],
    unique: &[],
    read: ReadAccess::Roles(AWA_READERS),
};

/// A reason an agent gives for declining a work item, for one channel (or, without one, for
/// every channel). `reassignable`: whether AWA may offer the item again to an agent who
/// declined it for this reason.
pub static AWA_REJECT_REASON: Table = Table {
    name: "awa_reject_reason",
    fields: sys_fields![
        string("reason"),
        with_default(integer("order", -MAX_INT, MAX_INT), "0"),
        reference("service_channel", &AWA_SERVICE_CHANNEL),
        boolean("reassignable", "true"),
        boolean("active", "true"),
    ],
    display: &["reason"],
    unique: &[],
    read: ReadAccess::Roles(AWA_READERS),
};

/// One agent declining one work item, and why.
pub static AWA_WORK_ITEM_REJECTION: Table = Table {
    name: "awa_work_item_rejection",
    fields: sys_fields![
        owned_by("work_item", &AWA_WORK_ITEM),
        reference("agent", &SYS_USER),
        reference("reject_reason", &AWA_REJECT_REASON),
    ],
    display: &[],
    unique: &[],
    read: ReadAccess::Roles(AWA_READERS),
};

/// An agent's presence over time: one record per state it was in, from `state_start` until
/// `state_end` (empty while it is the current one).
pub static AWA_AGENT_PRESENCE_HISTORY: Table = Table {
    name: "awa_agent_presence_history",
    fields: sys_fields![
        owned_by("agent", &SYS_USER),
        reference("presence_state", &AWA_PRESENCE_STATE),
        typed_field("state_start", FieldType::DateTime),
        typed_field("state_end", FieldType::DateTime),
    ],
    display: &[],
    unique: &[],
    read: ReadAccess::Roles(AWA_READERS),
};

/// The longest a provider may take to answer one delivery, in seconds.
pub const MAX_DELIVERY_TIMEOUT: i64 = 300;

/// A contact center that AWA's external routing sends events to (docs/outbound-events.md):
/// where (`endpoint_url`), how it is authenticated (`authentication`: `none`, `basic` with
/// `username` and `password`, `bearer` with `token`, or `hmac`, a signature of the body with
/// `secret` in the `signature_header`), which `event_types` it takes (comma-separated; empty,
/// all), how long one delivery may take (`timeout`, seconds) and how many attempts an event
/// gets before it is given up (`max_attempts`). The secrets are write-only, and kept as
/// written: the server must send them.
pub static AWA_EXTERNAL_PROVIDER: Table = Table {
    name: "awa_external_provider",
    fields: sys_fields![
        string("name"),
        boolean("active", "true"),
        string("endpoint_url"),
        with_default(string("authentication"), "none"),
        string("username"),
        write_only_kept(string("password")),
        write_only_kept(string("token")),
        write_only_kept(string("secret")),
        with_default(string("signature_header"), "X-Switchboard-Signature"),
        string("event_types"),
        with_default(integer("timeout", 1, MAX_DELIVERY_TIMEOUT), "10"),
        with_default(integer("max_attempts", 1, 1000), "10"),
    ],
    display: &["name"],
    unique: &[],
    read: ReadAccess::Roles(CHANNEL_READERS),
};

/// switchboard's outbox (not a platform table, hence the `x_` of a custom application): one
/// record per event for one provider, written in the transaction of the change it reports and
/// delivered afterwards, at least once, in `sequence` order per `ordering_key` (the document, or
/// the agent). `state` is `ready` (to deliver: at `next_attempt_on`, by the node whose claim has
/// not run out), `delivered`, or `failed` (its attempts used up). The sys_id is the event id.
pub static OUTBOUND_EVENT: Table = Table {
    name: "x_switchboard_outbound_event",
    fields: sys_fields![
        owned_by("provider", &AWA_EXTERNAL_PROVIDER),
        string("event_type"),
        string("ordering_key"),
        read_only(integer("sequence", 0, i64::MAX)),
        typed_field("payload", FieldType::Json),
        with_default(string("state"), "ready"),
        with_default(integer("attempts", 0, i64::MAX), "0"),
        typed_field("next_attempt_on", FieldType::DateTime),
        string("claimed_by"),
        typed_field("claimed_until", FieldType::DateTime),
        integer("last_status", 0, 999),
        string("last_error"),
        typed_field("delivered_on", FieldType::DateTime),
    ],
    display: &["event_type"],
    unique: &[],
    read: ReadAccess::AdminOnly,
};

/// The platform's outbound HTTP log: one record per request switchboard sent (an event
/// delivery attempt), with the fields of the platform's "All" log level. Bodies keep their
/// first [`OUTBOUND_LOG_BODY_CHARS`] characters, the platform's largest limit; `error` says why
/// an attempt has no status (a refused connection, a timeout).
pub static SYS_OUTBOUND_HTTP_LOG: Table = Table {
    name: "sys_outbound_http_log",
    fields: sys_fields![
        read_only(integer("sequence", 0, i64::MAX)),
        string("http_method"),
        string("url"),
        string("scheme"),
        string("hostname"),
        string("path"),
        integer("response_status", 0, 999),
        integer("request_length", 0, i64::MAX),
        integer("response_length", 0, i64::MAX),
        integer("response_time", 0, i64::MAX),
        string("source_table"),
        string("source_record"),
        string("request_headers"),
        string("request_body"),
        string("response_headers"),
        string("response_body"),
        string("error"),
    ],
    display: &["url"],
    unique: &[],
    read: ReadAccess::AdminOnly,
};

/// How many characters of a request or response body the outbound log keeps.
pub const OUTBOUND_LOG_BODY_CHARS: usize = 1000;

/// A kind of write, for the rules that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Insert,
    Update,
    Delete,
}

/// Whether a write can make a credential that was checked earlier (and cached) wrong: a
/// change to a user, a role, a grant, an application or a token. Issuing a new token cannot.
pub fn stales_credentials(table: &Table, write: Write) -> bool {
    match table.name {
        "oauth_credential" => write != Write::Insert,
        "sys_user"
        | "sys_user_role"
        | "sys_user_has_role"
        | "sys_user_role_contains"
        | "oauth_entity" => true,
        _ => false,
    }
}

/// Looks a table up by name.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().copied().find(|t| t.name == name)
}

/// Every (table, field) whose reference points at `target`.
pub fn references_to(
    target: &'static Table,
) -> impl Iterator<Item = (&'static Table, &'static Field)> {
    TABLES.iter().copied().flat_map(move |t| {
        t.fields
            .iter()
            .filter(move |f| matches!(f.ty, FieldType::Reference(to) if to == target))
            .map(move |f| (t, f))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_starts_with_the_sys_fields() {
        for t in TABLES {
            let names: Vec<_> = t.fields.iter().take(6).map(|f| f.name).collect();
            assert_eq!(names, SYS_FIELDS, "{}", t.name);
        }
    }

    #[test]
    fn references_display_and_unique_fields_name_real_things() {
        for t in TABLES {
            for f in t.fields {
                if let FieldType::Reference(target) = f.ty {
                    let listed = TABLES.contains(&target);
                    assert!(listed, "{}.{} -> {}", t.name, f.name, target.name);
                }
            }
            for name in t
                .display
                .iter()
                .chain(t.unique.iter().flat_map(|u| u.iter()))
            {
                assert!(t.field(name).is_some(), "{}.{name}", t.name);
            }
        }
    }

    #[test]
    fn every_integer_field_has_a_range_holding_its_default() {
        for t in TABLES {
            for f in t.fields.iter().filter(|f| f.ty == FieldType::Integer) {
                let (min, max) = f.range.unwrap_or_else(|| panic!("{}.{}", t.name, f.name));
                assert!(min <= max, "{}.{}", t.name, f.name);
                if let Some(default) = f.default {
                    let default: i64 = default.parse().unwrap();
                    assert!((min..=max).contains(&default), "{}.{}", t.name, f.name);
                }
            }
            for f in t.fields.iter().filter(|f| f.ty != FieldType::Integer) {
                assert_eq!(f.range, None, "{}.{}", t.name, f.name);
            }
        }
    }

    #[test]
    fn field_names_are_unique_within_a_table() {
        for t in TABLES {
            let mut names: Vec<_> = t.fields.iter().map(|f| f.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), t.fields.len(), "{}", t.name);
        }
    }

    /// Whoever may read a table may read every table its references point into, so filtering
    /// on a reference's display value shows nothing a read would not (docs/decisions.md,
    /// "Operators"). Roles are compared as listed, without containment: the stricter reading.
    #[test]
    fn references_point_into_tables_their_readers_may_read() {
        let covers = |target: ReadAccess, table: ReadAccess| match (target, table) {
            (ReadAccess::Authenticated, _) | (_, ReadAccess::AdminOnly) => true,
            (ReadAccess::Roles(wide), ReadAccess::Roles(narrow)) => {
                narrow.iter().all(|role| wide.contains(role))
            }
            _ => false,
        };
        for t in TABLES {
            for f in t.fields {
                if let FieldType::Reference(target) = f.ty {
                    let readable = covers(target.read, t.read);
                    assert!(readable, "{}.{} -> {}", t.name, f.name, target.name);
                }
            }
        }
    }

    /// A purge deletes in one statement, skipping the cascades and rules of each record it
    /// removes: so nothing may refer to a purged table, and no write to it may stale a
    /// credential.
    #[test]
    fn purged_tables_are_leaves() {
        for t in TABLES {
            if t.fields.iter().any(|f| f.on_delete == OnDelete::Purge) {
                assert_eq!(references_to(t).count(), 0, "{} is referred to", t.name);
                assert!(!stales_credentials(t, Write::Delete), "{}", t.name);
            }
        }
    }

    #[test]
    fn field_handles_are_the_registry_fields() {
        // Equal, not necessarily at the same address: a const may hold a copy.
        assert_eq!(
            field!(SYS_USER, user_name),
            SYS_USER.field("user_name").unwrap()
        );
        assert_eq!(
            OAUTH_CREDENTIAL.sys_id(),
            OAUTH_CREDENTIAL.field("sys_id").unwrap()
        );
    }
}
