//! Crash safety under load: eight writers create interactions, upsert agent mappings and close
//! interactions against the real binary; the process is killed with SIGKILL at several points
//! of the load (after a few acknowledged writes, after many, and at random moments), checked
//! while it is dead, restarted on the same database and checked again over HTTP. Runs on SQLite
//! and, in the PostgreSQL pass (`backends.rs`), on PostgreSQL.
//!
//! What must hold after every kill:
//! - every write that got a 2xx is there, with exactly what was sent (an interaction with its
//!   number and sys_id, its context and channel metadata records and its conversation; a
//!   mapping with the last acknowledged external id, or one sent after it; a close);
//! - a write that got no answer (the kill) is wholly there or wholly absent, never in part;
//! - no write is there twice; interaction numbers are unique, and the next create gets a number
//!   above every number stored; each mapping key has one record;
//! - the database passes its own checks while the process is dead: SQLite's
//!   `PRAGMA integrity_check`, PostgreSQL's amcheck on every index, and on both the same SQL
//!   checks of uniqueness and of the references between records.
//!
//! A SIGKILL ends the process, not the machine: what the process handed to the kernel survives
//! it. So this test proves that no 2xx leaves before its transaction is committed (written to
//! the database, not merely queued for it); whether a commit also reached the disk before a
//! power cut (`synchronous=FULL`, `fsync`) is beyond what a test on one machine can show.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::binary::Binary;
use super::helpers::{
    ADMIN, TestDb, client_with_timeout, on_postgres, request_to, stored_json, sys_id_of,
};

const WRITERS: usize = 8;
/// Each inbound id has two active provider identities, so one upsert writes two mappings.
const INBOUNDS: [&str; 2] = ["CrashVoice", "CrashChat"];
/// A writer that is never killed stops after this many requests (a bound, not a goal).
const MAX_OPS_PER_WRITER: usize = 4000;

/// When a round's server is killed.
#[derive(Clone, Copy, Debug)]
enum KillPoint {
    /// Once this many writes (of all writers) were acknowledged.
    AfterAcks(usize),
    /// This long after the writers started.
    AfterMillis(u64),
}

/// What the test set up through the Table API before the first round.
struct Fixture {
    admin: String,
    channel: String,
    queue: String,
    /// One agent (`sys_user`) per writer: writer `w` maps only `agents[w]`, so each mapping key
    /// has one writer and its writes have an order.
    agents: Vec<String>,
    /// inbound id → its two identities.
    identities: BTreeMap<&'static str, BTreeSet<String>>,
    /// The OAuth application (client_id, client_secret) the writers' grants use; its
    /// client-credentials tokens act as the admin.
    oauth: (String, String),
}

/// One interaction create, as sent, and its answer if it got a 2xx.
#[derive(Debug)]
struct SentInteraction {
    context: Value,
    metadata: Value,
    /// (sys_id, number) from the 201.
    answer: Option<(String, String)>,
}

/// One mapping upsert, as sent, and the mapping ids its 2xx named.
#[derive(Debug)]
struct SentMapping {
    external: String,
    acked: Option<BTreeSet<String>>,
}

/// Every write sent, in every round; a write is entered before it is sent.
#[derive(Default)]
struct Ledger {
    /// short_description (unique per create) → the create.
    interactions: BTreeMap<String, SentInteraction>,
    /// (writer, inbound id) → its upserts in the order sent.
    mappings: BTreeMap<(usize, &'static str), Vec<SentMapping>>,
    /// interaction sys_id → whether a close of it was acknowledged.
    closes: BTreeMap<String, bool>,
    /// The access tokens of acknowledged OAuth grants.
    tokens: Vec<String>,
    /// Answers that were neither a 2xx nor a lost connection (each one a failure).
    unexpected: Vec<String>,
}

impl Ledger {
    fn acknowledged(&self) -> usize {
        self.interactions
            .values()
            .filter(|i| i.answer.is_some())
            .count()
            + self
                .mappings
                .values()
                .flatten()
                .filter(|m| m.acked.is_some())
                .count()
            + self.closes.values().filter(|acked| **acked).count()
            + self.tokens.len()
    }
}

fn start(database: &str) -> Binary {
    Binary::serve(database, &[], &[("SWITCHBOARD_ADMIN_PASSWORD", ADMIN.1)])
}

fn client() -> reqwest::Client {
    client_with_timeout(Duration::from_secs(30))
}

/// A request as admin that may get no answer (the server is being killed): `None` when no
/// complete answer came (connection refused or reset).
async fn attempt(
    client: &reqwest::Client,
    base: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Option<(StatusCode, Value)> {
    let request = request_to(client, base, ADMIN, method, path, body.as_ref());
    let response = request.send().await.ok()?;
    let status = response.status();
    // A 2xx whose body did not arrive whole is no acknowledgement the client could rely on.
    let text = response.text().await.ok()?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Some((status, body))
}

/// A request the test's own set-up and checks make: it must succeed.
async fn must(base: &str, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, body) = attempt(&client(), base, method.clone(), path, body)
        .await
        .unwrap_or_else(|| panic!("{method} {path}: no answer"));
    assert!(status.is_success(), "{method} {path}: {status} {body}");
    body
}

async fn insert(base: &str, table: &str, body: Value) -> String {
    let body = must(
        base,
        Method::POST,
        &format!("/api/now/table/{table}"),
        Some(body),
    )
    .await;
    sys_id_of(&body["result"])
}

/// Every record of a table, references as plain sys_ids.
async fn all(base: &str, table: &str) -> Vec<Value> {
    let path =
        format!("/api/now/table/{table}?sysparm_exclude_reference_link=true&sysparm_limit=1000000");
    let body = must(base, Method::GET, &path, None).await;
    body["result"].as_array().expect("a list").clone()
}

async fn fixture(base: &str) -> Fixture {
    let users = all(base, "sys_user").await;
    let admin = sys_id_of(
        users
            .iter()
            .find(|u| u["user_name"] == ADMIN.0)
            .expect("admin"),
    );
    let channel = insert(
        base,
        "interaction_connector",
        json!({"name": "crash chat", "type": "chat", "third_party": true}),
    )
    .await;
    let queue = insert(base, "awa_queue", json!({"name": "crash queue"})).await;
    let mut agents = Vec::new();
    for w in 0..WRITERS {
        let name = format!("crash.agent{w}");
        agents.push(
            insert(
                base,
                "sys_user",
                json!({"user_name": name, "first_name": name, "active": true}),
            )
            .await,
        );
    }
    let mut identities = BTreeMap::new();
    for inbound in INBOUNDS {
        let mut ids = BTreeSet::new();
        for region in ["EU", "US"] {
            ids.insert(
                insert(
                    base,
                    "sys_cs_provider_application",
                    json!({"name": format!("{inbound} {region}"), "inbound_id": inbound,
                           "provider": "Acme", "active": true}),
                )
                .await,
            );
        }
        identities.insert(inbound, ids);
    }
    let oauth = ("crash-client".to_owned(), "crash-client-secret".to_owned());
    insert(
        base,
        "oauth_entity",
        json!({"name": "crash", "client_id": oauth.0, "client_secret": oauth.1, "user": admin}),
    )
    .await;
    Fixture {
        admin,
        channel,
        queue,
        agents,
        identities,
        oauth,
    }
}

/// One writer's loop: create, map, create, map (every other time an OAuth grant instead), close
/// its last interaction, and again, until a request gets no answer (the kill) or the bound is
/// reached. Every write enters the ledger
/// before it is sent, and is marked acknowledged on a 2xx.
async fn writer(
    w: usize,
    round: usize,
    base: String,
    fixture: Arc<Fixture>,
    ledger: Arc<Mutex<Ledger>>,
    acked: Arc<AtomicUsize>,
) {
    let client = client();
    let mut open: Vec<String> = Vec::new();
    let mut maps = 0usize;
    for i in 0..MAX_OPS_PER_WRITER {
        let label = format!("round {round} writer {w} op {i}");
        let answer = match i % 5 {
            0 | 2 => {
                let tag = format!("crash r{round} w{w} i{i}");
                let context = json!({"writer": w, "round": round, "op": i,
                                     "customer": format!("customer {w}/{i}"),
                                     "notes": "x".repeat(100 + i % 50)});
                let metadata = json!({"tag": tag, "language": "en"});
                ledger.lock().unwrap().interactions.insert(
                    tag.clone(),
                    SentInteraction {
                        context: context.clone(),
                        metadata: metadata.clone(),
                        answer: None,
                    },
                );
                let body = json!({"channel": fixture.channel, "queue": fixture.queue,
                                  "short_description": tag, "context": context,
                                  "channel_metadata": metadata});
                let answer = attempt(
                    &client,
                    &base,
                    Method::POST,
                    "/api/now/interaction",
                    Some(body),
                )
                .await;
                if let Some((StatusCode::CREATED, body)) = &answer {
                    let sys_id = sys_id_of(&body["result"]);
                    let number = body["result"]["number"].as_str().unwrap().to_owned();
                    ledger
                        .lock()
                        .unwrap()
                        .interactions
                        .get_mut(&tag)
                        .unwrap()
                        .answer = Some((sys_id.clone(), number));
                    open.push(sys_id);
                }
                answer.map(|(status, body)| (status, body, StatusCode::CREATED))
            }
            4 if !open.is_empty() => {
                let id = open.remove(0);
                ledger.lock().unwrap().closes.insert(id.clone(), false);
                let path = format!("/api/now/interaction/{id}/close");
                let answer = attempt(&client, &base, Method::POST, &path, None).await;
                if let Some((StatusCode::OK, _)) = &answer {
                    ledger.lock().unwrap().closes.insert(id, true);
                }
                answer.map(|(status, body)| (status, body, StatusCode::OK))
            }
            3 if i % 10 == 3 => {
                let form = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs([
                        ("grant_type", "client_credentials"),
                        ("client_id", fixture.oauth.0.as_str()),
                        ("client_secret", fixture.oauth.1.as_str()),
                    ])
                    .finish();
                let answer = async {
                    let response = client
                        .post(format!("{base}/oauth_token.do"))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(form)
                        .send()
                        .await
                        .ok()?;
                    let status = response.status();
                    let text = response.text().await.ok()?;
                    Some((
                        status,
                        serde_json::from_str(&text).unwrap_or(Value::String(text)),
                    ))
                }
                .await;
                if let Some((StatusCode::OK, body)) = &answer {
                    let token = body["access_token"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{label}: {body}"));
                    ledger.lock().unwrap().tokens.push(token.to_owned());
                }
                answer.map(|(status, body)| (status, body, StatusCode::OK))
            }
            _ => {
                let inbound = INBOUNDS[maps % 2];
                maps += 1;
                let external = format!("r{round}-w{w}-i{i}");
                let key = (w, inbound);
                ledger
                    .lock()
                    .unwrap()
                    .mappings
                    .entry(key)
                    .or_default()
                    .push(SentMapping {
                        external: external.clone(),
                        acked: None,
                    });
                let path = format!(
                    "/api/sn_ct_ctr_it_core/agent_mapping/agent/{}/inboundId/{inbound}",
                    fixture.agents[w]
                );
                let body = json!({"external_agent_id": external, "active": true});
                let answer = attempt(&client, &base, Method::PUT, &path, Some(body)).await;
                if let Some((status, body)) = &answer
                    && status.is_success()
                {
                    let ids = body["result"]["mappingIds"]
                        .as_array()
                        .unwrap_or_else(|| panic!("{label}: {body}"))
                        .iter()
                        .map(|v| v.as_str().unwrap().to_owned())
                        .collect();
                    let mut ledger = ledger.lock().unwrap();
                    let sent = ledger.mappings.get_mut(&key).unwrap().last_mut().unwrap();
                    sent.acked = Some(ids);
                }
                // 201 when the upsert inserted, 200 when it updated: either acknowledges it.
                answer.map(|(status, body)| {
                    let expected = match status {
                        StatusCode::CREATED => StatusCode::CREATED,
                        _ => StatusCode::OK,
                    };
                    (status, body, expected)
                })
            }
        };
        match answer {
            // The kill: this writer's last write is unacknowledged, and it stops.
            None => return,
            Some((status, _, expected)) if status == expected => {
                acked.fetch_add(1, Ordering::SeqCst);
            }
            Some((status, body, _)) => {
                ledger
                    .lock()
                    .unwrap()
                    .unexpected
                    .push(format!("{label}: {status} {body}"));
                return;
            }
        }
    }
}

/// Runs the writers against `server` and kills it at `kill`; returns once every writer has
/// stopped and the process is gone.
async fn load_and_kill(
    round: usize,
    server: &mut Binary,
    fixture: &Arc<Fixture>,
    ledger: &Arc<Mutex<Ledger>>,
    kill: KillPoint,
) {
    let acked = Arc::new(AtomicUsize::new(0));
    let active = Arc::new(AtomicUsize::new(WRITERS));
    let started = Instant::now();
    let mut writers = JoinSet::new();
    for w in 0..WRITERS {
        let load = writer(
            w,
            round,
            server.base.clone(),
            fixture.clone(),
            ledger.clone(),
            acked.clone(),
        );
        let active = active.clone();
        writers.spawn(async move {
            load.await;
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
    let deadline = started + Duration::from_secs(20);
    loop {
        let due = match kill {
            KillPoint::AfterAcks(n) => acked.load(Ordering::SeqCst) >= n,
            KillPoint::AfterMillis(ms) => started.elapsed() >= Duration::from_millis(ms),
        };
        if due {
            break;
        }
        assert!(
            Instant::now() < deadline && !writers.is_empty(),
            "round {round}: the load never reached {kill:?} ({} acknowledged)",
            acked.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // Every writer is still writing: the kill lands in the middle of their requests.
    assert_eq!(
        active.load(Ordering::SeqCst),
        WRITERS,
        "round {round}: writers stopped before the kill"
    );
    server.signal("KILL");
    assert!(!server.wait().success(), "SIGKILL is not a clean exit");
    while let Some(done) = writers.join_next().await {
        done.expect("a writer panicked");
    }
    eprintln!(
        "crash round {round}: killed at {kill:?} after {:?}, {} writes acknowledged in the round",
        started.elapsed(),
        acked.load(Ordering::SeqCst)
    );
}

/// Interaction number → its integer.
fn number_value(number: &str) -> i64 {
    number
        .strip_prefix("IMS")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not an interaction number: {number:?}"))
}

fn by_sys_id(records: Vec<Value>) -> BTreeMap<String, Value> {
    records.into_iter().map(|r| (sys_id_of(&r), r)).collect()
}

fn str_of<'a>(record: &'a Value, field: &str) -> &'a str {
    record[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {record}"))
}

/// Checks, over HTTP on the restarted server, everything the ledger says must be there; returns
/// the highest interaction number stored and how many interactions there are.
async fn verify(round: usize, base: &str, fixture: &Fixture, ledger: &Ledger) -> (i64, usize) {
    let interactions = all(base, "interaction").await;
    let blobs = by_sys_id(all(base, "interaction_json_blob").await);
    let profiles = by_sys_id(all(base, "live_group_profile").await);
    let conversations = all(base, "sys_cs_conversation").await;
    let mappings = all(base, "external_agent_mapping").await;
    let at = format!("after round {round}");

    // Interactions: each one stored is one that was sent, once, whole.
    let mut numbers = BTreeSet::new();
    let mut stored_tags = BTreeMap::new();
    for interaction in &interactions {
        let sys_id = str_of(interaction, "sys_id");
        let tag = str_of(interaction, "short_description");
        let sent = ledger
            .interactions
            .get(tag)
            .unwrap_or_else(|| panic!("{at}: an interaction nobody sent: {interaction}"));
        assert!(
            stored_tags.insert(tag.to_owned(), interaction).is_none(),
            "{at}: {tag} is stored twice"
        );
        let number = str_of(interaction, "number");
        assert!(
            numbers.insert(number_value(number)),
            "{at}: number {number} is stored twice"
        );
        assert_eq!(
            interaction["channel"],
            fixture.channel.as_str(),
            "{at}: {interaction}"
        );
        assert_eq!(
            interaction["queue"],
            fixture.queue.as_str(),
            "{at}: {interaction}"
        );
        assert_eq!(
            interaction["opened_by"],
            fixture.admin.as_str(),
            "{at}: {interaction}"
        );
        assert_eq!(interaction["type"], "chat", "{at}: {interaction}");
        // Its context and channel metadata records, with what was sent.
        assert_eq!(
            interaction["context_table"], "interaction_json_blob",
            "{at}"
        );
        let blob = blobs
            .get(str_of(interaction, "context_document"))
            .unwrap_or_else(|| panic!("{at}: no context record for {interaction}"));
        assert_eq!(stored_json(&blob["value"]), sent.context, "{at}: {tag}");
        assert_eq!(
            interaction["channel_metadata_table"], "live_group_profile",
            "{at}"
        );
        let profile = profiles
            .get(str_of(interaction, "channel_metadata_document"))
            .unwrap_or_else(|| panic!("{at}: no channel metadata record for {interaction}"));
        assert_eq!(
            stored_json(&profile["metadata"]),
            sent.metadata,
            "{at}: {tag}"
        );
        // Its one conversation, closed exactly when it is.
        let own: Vec<&Value> = conversations
            .iter()
            .filter(|c| c["interaction"] == sys_id)
            .collect();
        assert_eq!(own.len(), 1, "{at}: conversations of {tag}: {own:?}");
        let closed = match interaction["state"].as_str() {
            Some("queued") => false,
            Some("closed_complete") => true,
            _ => panic!("{at}: unexpected state: {interaction}"),
        };
        assert_eq!(interaction["active"], json!((!closed).to_string()), "{at}");
        let conversation_state = if closed { "closed" } else { "open" };
        assert_eq!(own[0]["state"], conversation_state, "{at}: {tag}: {own:?}");
        assert_eq!(
            interaction["closed_by"],
            if closed { fixture.admin.as_str() } else { "" },
            "{at}: {interaction}"
        );
        match ledger.closes.get(sys_id) {
            Some(true) => assert!(closed, "{at}: an acknowledged close is lost: {tag}"),
            Some(false) => {} // the close in flight at the kill: either is whole
            None => assert!(!closed, "{at}: closed without a close: {tag}"),
        }
    }
    // Every acknowledged create is there, with the number and sys_id it was given.
    for (tag, sent) in &ledger.interactions {
        if let Some((sys_id, number)) = &sent.answer {
            let stored = stored_tags
                .get(tag)
                .unwrap_or_else(|| panic!("{at}: acknowledged {tag} ({number}) is lost"));
            assert_eq!(stored["sys_id"], sys_id.as_str(), "{at}: {tag}");
            assert_eq!(stored["number"], number.as_str(), "{at}: {tag}");
        }
    }
    // Nothing half-written: no context, metadata or conversation without its interaction.
    let n = interactions.len();
    assert_eq!(
        blobs.len(),
        n,
        "{at}: context records without an interaction"
    );
    assert_eq!(
        profiles.len(),
        n,
        "{at}: metadata records without an interaction"
    );
    assert_eq!(
        conversations.len(),
        n,
        "{at}: conversations without an interaction"
    );

    // Mappings: one record per key, holding the last acknowledged value or a later one.
    let mut expected_keys = 0;
    for ((w, inbound), sent) in &ledger.mappings {
        let identities = &fixture.identities[inbound];
        let stored: Vec<&Value> = mappings
            .iter()
            .filter(|m| m["user"] == fixture.agents[*w].as_str())
            .filter(|m| identities.contains(str_of(m, "provider_application")))
            .collect();
        let last_acked = sent.iter().rposition(|m| m.acked.is_some());
        let acked = sent.iter().filter(|m| m.acked.is_some()).count();
        let label = format!("{at}: writer {w} {inbound}");
        if stored.is_empty() {
            assert!(
                last_acked.is_none(),
                "{label}: acknowledged mappings are lost"
            );
            continue;
        }
        expected_keys += identities.len();
        assert_eq!(stored.len(), identities.len(), "{label}: {stored:?}");
        // One upsert wrote both identities' mappings: they agree.
        let external = str_of(stored[0], "external_agent_id");
        let count = &stored[0]["sys_mod_count"];
        for mapping in &stored {
            assert_eq!(
                mapping["external_agent_id"], external,
                "{label}: {stored:?}"
            );
            assert_eq!(&mapping["sys_mod_count"], count, "{label}: {stored:?}");
            assert_eq!(mapping["active"], "true", "{label}: {mapping}");
        }
        let position = sent
            .iter()
            .position(|m| m.external == external)
            .unwrap_or_else(|| panic!("{label}: a value nobody sent: {external}"));
        if let Some(last) = last_acked {
            assert!(
                position >= last,
                "{label}: holds {external}, older than the acknowledged {}",
                sent[last].external
            );
            let ids: BTreeSet<String> = stored.iter().map(|m| str_of(m, "sys_id").into()).collect();
            for m in sent.iter().filter_map(|m| m.acked.as_ref()) {
                assert_eq!(m, &ids, "{label}: the mappings were replaced");
            }
        }
        // Every acknowledged upsert counted once; the unacknowledged ones at most once.
        let count: usize = count.as_str().unwrap().parse().unwrap();
        let applied = count + 1;
        assert!(
            acked <= applied && applied <= sent.len(),
            "{label}: {applied} writes applied, {acked} acknowledged of {} sent",
            sent.len()
        );
    }
    assert_eq!(mappings.len(), expected_keys, "{at}: mappings nobody wrote");

    // Every acknowledged token was kept and works.
    let client = client();
    for token in &ledger.tokens {
        let response = client
            .get(format!(
                "{base}/api/now/table/sys_user_role?sysparm_limit=1"
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{at}: {e}"));
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{at}: an acknowledged OAuth token no longer works"
        );
    }
    let unanswered = ledger
        .interactions
        .iter()
        .filter(|(_, sent)| sent.answer.is_none());
    let (kept, dropped): (Vec<_>, Vec<_>) =
        unanswered.partition(|(tag, _)| stored_tags.contains_key(tag.as_str()));
    eprintln!(
        "crash round {round}: {} interactions stored; of the creates the kills left unanswered so far, \
         {} were committed and {} not",
        interactions.len(),
        kept.len(),
        dropped.len()
    );
    (numbers.last().copied().unwrap_or(0), interactions.len())
}

/// A handle on the database behind the dead server, for its own checks.
enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(sqlx::PgConnection),
}

impl Db {
    async fn open(test_db: &TestDb) -> Db {
        use sqlx::Connection;
        match test_db.sqlite_path() {
            Some(path) => {
                // Read-only: the check must see the database (and its write-ahead log) exactly
                // as the killed process left it, and change nothing the restart will read.
                let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
                Db::Sqlite(
                    rusqlite::Connection::open_with_flags(path, flags)
                        .expect("open the SQLite file"),
                )
            }
            None => Db::Postgres(
                sqlx::PgConnection::connect(&test_db.url)
                    .await
                    .expect("connect to PostgreSQL"),
            ),
        }
    }

    async fn strings(&mut self, sql: &str) -> Vec<String> {
        match self {
            Db::Sqlite(conn) => {
                let mut statement = conn.prepare(sql).unwrap_or_else(|e| panic!("{e}"));
                let rows = statement.query_map([], |row| row.get(0));
                rows.and_then(|rows| rows.collect())
                    .unwrap_or_else(|e| panic!("{e}"))
            }
            Db::Postgres(conn) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_all(conn)
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        }
    }

    async fn count(&mut self, sql: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM ({sql}) AS found");
        match self {
            Db::Sqlite(conn) => conn
                .query_row(&sql, [], |row| row.get(0))
                .unwrap_or_else(|e| panic!("{e}")),
            Db::Postgres(conn) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(conn)
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        }
    }
}

/// Rows that must not exist, in either dialect: each query lists violations.
const VIOLATIONS: &[(&str, &str)] = &[
    (
        "interaction numbers stored twice",
        "SELECT number FROM interaction GROUP BY number HAVING count(*) > 1",
    ),
    (
        "interactions without a number",
        "SELECT sys_id FROM interaction WHERE number IS NULL OR number NOT LIKE 'IMS%'",
    ),
    (
        "mapping keys stored twice",
        "SELECT \"user\" FROM external_agent_mapping \
         GROUP BY \"user\", provider_application HAVING count(*) > 1",
    ),
    (
        "interactions whose context record is missing",
        "SELECT i.sys_id FROM interaction i WHERE NOT EXISTS \
         (SELECT 1 FROM interaction_json_blob b WHERE b.sys_id = i.context_document)",
    ),
    (
        "context records of no interaction",
        "SELECT b.sys_id FROM interaction_json_blob b WHERE NOT EXISTS \
         (SELECT 1 FROM interaction i WHERE i.context_document = b.sys_id)",
    ),
    (
        "interactions whose channel metadata record is missing",
        "SELECT i.sys_id FROM interaction i WHERE NOT EXISTS \
         (SELECT 1 FROM live_group_profile p WHERE p.sys_id = i.channel_metadata_document)",
    ),
    (
        "channel metadata records of no interaction",
        "SELECT p.sys_id FROM live_group_profile p WHERE NOT EXISTS \
         (SELECT 1 FROM interaction i WHERE i.channel_metadata_document = p.sys_id)",
    ),
    (
        "interactions without exactly one conversation",
        "SELECT i.sys_id FROM interaction i WHERE \
         (SELECT count(*) FROM sys_cs_conversation c WHERE c.interaction = i.sys_id) <> 1",
    ),
    (
        "conversations of no interaction",
        "SELECT c.sys_id FROM sys_cs_conversation c WHERE NOT EXISTS \
         (SELECT 1 FROM interaction i WHERE i.sys_id = c.interaction)",
    ),
    (
        "interactions closed without their conversation, or the reverse",
        "SELECT i.sys_id FROM interaction i JOIN sys_cs_conversation c ON c.interaction = i.sys_id \
         WHERE (CASE WHEN i.state = 'closed_complete' THEN 1 ELSE 0 END) \
            <> (CASE WHEN c.state = 'closed' THEN 1 ELSE 0 END)",
    ),
    (
        "OAuth tokens of an unknown application or user",
        "SELECT t.sys_id FROM oauth_credential t WHERE \
         NOT EXISTS (SELECT 1 FROM oauth_entity e WHERE e.sys_id = t.client) OR NOT EXISTS \
         (SELECT 1 FROM sys_user u WHERE u.sys_id = t.\"user\")",
    ),
    (
        "mappings of an unknown user or identity",
        "SELECT m.sys_id FROM external_agent_mapping m WHERE \
         NOT EXISTS (SELECT 1 FROM sys_user u WHERE u.sys_id = m.\"user\") OR NOT EXISTS \
         (SELECT 1 FROM sys_cs_provider_application p WHERE p.sys_id = m.provider_application)",
    ),
];

/// The database's own checks, with the server dead: structure (SQLite's integrity check,
/// PostgreSQL's amcheck on every B-tree index of the schema), uniqueness and references, and
/// the interaction counter at or above every stored number. Returns how many interactions the
/// database holds.
async fn check_database(round: usize, test_db: &TestDb) -> i64 {
    let at = format!("after the kill of round {round}");
    let mut db = Db::open(test_db).await;
    match &db {
        Db::Sqlite(_) => {
            let result = db.strings("PRAGMA integrity_check").await;
            assert_eq!(result, ["ok"], "{at}: integrity_check");
        }
        Db::Postgres(_) => {
            let amcheck = amcheck_schema(&mut db).await;
            let indexes = db
                .strings(
                    "SELECT c.relname::text FROM pg_index i \
                     JOIN pg_class c ON c.oid = i.indexrelid \
                     JOIN pg_am a ON a.oid = c.relam \
                     WHERE a.amname = 'btree' AND c.relnamespace = current_schema()::regnamespace",
                )
                .await;
            assert!(indexes.len() > 10, "{at}: indexes found: {indexes:?}");
            for index in &indexes {
                // With heapallindexed: every row of the table is found through the index.
                let sql = format!(
                    "SELECT 'ok' FROM (SELECT \"{amcheck}\".bt_index_check('\"{index}\"'::regclass, true)) AS checked"
                );
                assert_eq!(db.strings(&sql).await, ["ok"], "{at}: amcheck {index}");
            }
        }
    }
    for (what, sql) in VIOLATIONS {
        assert_eq!(db.count(sql).await, 0, "{at}: {what}: {sql}");
    }
    let counter = match &db {
        Db::Sqlite(_) => "SELECT value FROM sys_counter WHERE name = 'interaction'",
        Db::Postgres(_) => "SELECT last_value FROM sys_counter_interaction",
    };
    let behind = format!(
        "SELECT sys_id FROM interaction WHERE CAST(substr(number, 4) AS BIGINT) > ({counter})"
    );
    assert_eq!(
        db.count(&behind).await,
        0,
        "{at}: numbers above the counter"
    );
    db.count("SELECT sys_id FROM interaction").await
}

/// The schema holding PostgreSQL's amcheck functions, creating the extension (in a schema of
/// its own, kept: every test schema is dropped) when the database has none.
async fn amcheck_schema(db: &mut Db) -> String {
    let Db::Postgres(conn) = db else {
        unreachable!()
    };
    let find = "SELECT n.nspname::text FROM pg_extension e \
                JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'amcheck'";
    for _ in 0..5 {
        if let Some(schema) = sqlx::query_scalar::<_, String>(find)
            .fetch_optional(&mut *conn)
            .await
            .unwrap()
        {
            return schema;
        }
        // Another test run may create it at the same moment: then look again.
        let _ = sqlx::raw_sql(
            "CREATE SCHEMA IF NOT EXISTS switchboard_amcheck; \
             CREATE EXTENSION IF NOT EXISTS amcheck WITH SCHEMA switchboard_amcheck",
        )
        .execute(&mut *conn)
        .await;
    }
    panic!("PostgreSQL's amcheck extension is not available (package postgresql-contrib)");
}

/// Picks `n` pseudo-random delays in `range` (ms), different on every run; printed, so that
/// a failing run can be told from its output.
fn random_delays(n: usize, range: std::ops::Range<u64>) -> Vec<u64> {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    (0..n)
        .map(|i| {
            hasher.write_usize(i);
            range.start + hasher.finish() % (range.end - range.start)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill_under_load_at_every_kill_point() {
    let test_db = TestDb::new();
    let db = test_db.url.clone();
    let backend = if on_postgres() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let mut kill_points = vec![
        KillPoint::AfterAcks(1),
        KillPoint::AfterAcks(40),
        KillPoint::AfterAcks(300),
        KillPoint::AfterAcks(1000),
    ];
    kill_points.extend(
        random_delays(8, 20..800)
            .into_iter()
            .map(KillPoint::AfterMillis),
    );
    eprintln!("crash test on {backend}: kill points {kill_points:?}");

    let mut server = start(&db);
    let fixture = Arc::new(fixture(&server.base).await);
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    for (round, kill) in kill_points.iter().enumerate() {
        load_and_kill(round, &mut server, &fixture, &ledger, *kill).await;
        {
            let ledger = ledger.lock().unwrap();
            assert!(
                ledger.unexpected.is_empty(),
                "round {round}: answers that were neither a 2xx nor the kill: {:#?}",
                ledger.unexpected
            );
        }
        let in_database = check_database(round, &test_db).await;

        server = start(&db);
        // No writer runs any more: the ledger is the test's alone until the next round.
        let snapshot = std::mem::take(&mut *ledger.lock().unwrap());
        assert!(
            snapshot.acknowledged() > 0,
            "round {round}: nothing acknowledged"
        );
        assert!(
            round < 3 || !snapshot.tokens.is_empty(),
            "round {round}: no OAuth grant acknowledged yet"
        );
        let (highest, served) = verify(round, &server.base, &fixture, &snapshot).await;
        // The checks above saw what the restarted server serves (SQLite's log included).
        assert_eq!(
            served as i64, in_database,
            "round {round}: the checked database"
        );
        *ledger.lock().unwrap() = snapshot;
        // Numbering continues above every number stored, acknowledged or not.
        let body = must(
            &server.base,
            Method::POST,
            "/api/now/interaction",
            Some(json!({"channel": fixture.channel, "queue": fixture.queue,
                        "short_description": format!("probe {round}"),
                        "context": {"probe": round}, "channel_metadata": {"probe": round}})),
        )
        .await;
        let number = body["result"]["number"].as_str().unwrap();
        assert!(
            number_value(number) > highest,
            "after round {round}: the next number {number} is not above {highest}"
        );
        ledger.lock().unwrap().interactions.insert(
            format!("probe {round}"),
            SentInteraction {
                context: json!({"probe": round}),
                metadata: json!({"probe": round}),
                answer: Some((sys_id_of(&body["result"]), number.to_owned())),
            },
        );
    }
    let total = ledger.lock().unwrap().acknowledged();
    eprintln!("crash test on {backend}: {total} acknowledged writes, all present");
    server.signal("KILL");
    server.wait();
}
