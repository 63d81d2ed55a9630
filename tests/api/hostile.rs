//! Hostile input: SQL injection attempts through every parameter a client controls, bodies built
//! to exhaust a parser (deep nesting, entity expansion, external entities), oversized request
//! heads, and NUL bytes or invalid UTF-8 where text is expected. Each must get a clean 4xx, or a
//! normal 2xx that treats the input as the literal text it is; never a 500; and afterwards the
//! tables must be as they were and the admin able to log in.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use switchboard::auth::throttle::LoginLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{
    ADMIN, INTEGRATION, TestApp, base64, basic_authorization, fetch_record, fetch_records,
    form_body, raw, sys_id_of,
};

/// SQL (and SQL-ish) injection attempts, each meant to widen a condition, end a statement or
/// reach another table.
const PAYLOADS: &[&str] = &[
    "' OR '1'='1",
    "' OR 1=1 --",
    "'; DROP TABLE sys_user; --",
    "\" OR \"\"=\"",
    "') OR ('a'='a",
    "x' UNION SELECT user_password FROM sys_user --",
    "admin'--",
    "1; DELETE FROM sys_user_has_role",
    "1 OR 1=1",
    "$1",
    "?",
    "$$; DROP TABLE sys_user; $$",
    "\\'; DROP TABLE sys_user; --",
    "%' OR '%'='",
    "*/ OR /*",
    "sys_user\"; DROP TABLE \"sys_user",
];

/// The tables whose content no hostile request may change.
const GUARDED: &[&str] = &[
    "sys_user",
    "sys_user_role",
    "sys_user_has_role",
    "sys_user_role_contains",
    "oauth_entity",
    "interaction_connector",
    "awa_queue",
    "sys_cs_provider_application",
    "sys_cs_conversation",
    "sys_cs_conversation_member",
    "external_agent_mapping",
];

const CLIENT_ID: &str = "hostile-client";
const CLIENT_SECRET: &str = "hostile-secret";

// ---------------------------------------------------------------------------------------------
// Fixture and checks
// ---------------------------------------------------------------------------------------------

/// A server with something to attack: users with roles, a third-party interaction with a
/// conversation and a member, a provider identity, an agent mapping and an OAuth application.
struct Target {
    app: TestApp,
    agent: String,
    interaction: String,
    /// Every guarded table's records before the attack.
    before: Vec<(String, Vec<Value>)>,
}

async fn target() -> Target {
    target_with(|_| {}).await
}

/// A target whose config `tweak` adjusts.
async fn target_with(tweak: impl FnOnce(&mut switchboard::state::Config)) -> Target {
    let app = TestApp::spawn_with(tweak).await;
    app.integration_user().await;
    let agent = app
        .user("agent", "agent-password", &["interaction_agent"])
        .await;
    let chat = app
        .insert(
            "interaction_connector",
            json!({"name": "CCaaS chat", "type": "chat", "third_party": true}),
        )
        .await;
    let (status, created) = answer(
        app.as_user(INTEGRATION, Method::POST, "/api/now/interaction")
            .json(&json!({"channel": chat["sys_id"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let interaction = sys_id_of(&created["result"]);
    let conversation = fetch_records(
        &app,
        "sys_cs_conversation",
        &format!("interaction={interaction}"),
    )
    .await[0]["sys_id"]
        .clone();
    app.insert(
        "sys_cs_conversation_member",
        json!({"conversation": conversation, "member": agent, "member_type": "public_fulfiller"}),
    )
    .await;
    app.insert(
        "sys_cs_provider_application",
        json!({"name": "Voice", "inbound_id": "Voice1", "provider": "Acme", "active": true}),
    )
    .await;
    let (status, mapped) = answer(
        app.as_user(
            INTEGRATION,
            Method::PUT,
            &format!("/api/sn_ct_ctr_it_core/agent_mapping/agent/{agent}/inboundId/Voice1"),
        )
        .json(&json!({"external_agent_id": "12345"}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{mapped}");
    app.insert(
        "oauth_entity",
        json!({"name": "Hostile app", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
    )
    .await;
    let before = snapshot(&app).await;
    Target {
        app,
        agent,
        interaction,
        before,
    }
}

async fn snapshot(app: &TestApp) -> Vec<(String, Vec<Value>)> {
    let mut tables = Vec::new();
    for table in GUARDED {
        tables.push((table.to_string(), fetch_records(app, table, "").await));
    }
    tables
}

/// The guarded tables hold exactly what they held, and the admin's stored password still works.
async fn assert_intact(t: &Target) {
    let after = snapshot(&t.app).await;
    for ((table, before), (_, now)) in t.before.iter().zip(&after) {
        assert_eq!(before, now, "{table} changed");
    }
    // A write to sys_user empties the credential cache, so the next login checks the stored
    // password hash rather than a cached verification.
    let canary = t
        .app
        .insert("sys_user", json!({"user_name": "canary"}))
        .await;
    let response = t
        .app
        .admin(Method::GET, "/api/now/table/sys_user?sysparm_limit=1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the admin can log in");
    let response = t
        .app
        .as_user((ADMIN.0, "wrong"), Method::GET, "/api/now/table/sys_user")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = t
        .app
        .admin(
            Method::DELETE,
            &format!("/api/now/table/sys_user/{}", sys_id_of(&canary)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

/// Status and body (JSON, or the text as a JSON string; `null` when empty).
async fn answer(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = match text.is_empty() {
        true => Value::Null,
        false => serde_json::from_str(&text).unwrap_or(Value::String(text)),
    };
    (status, body)
}

/// Sends the request; asserts a clean answer (2xx or 4xx, never 5xx); returns it.
async fn probe(what: &str, request: RequestBuilder) -> (StatusCode, Value) {
    let (status, body) = answer(request.send().await.unwrap()).await;
    assert!(
        status.is_success() || status.is_client_error(),
        "{what}: {status} {body}"
    );
    (status, body)
}

/// Percent-encodes every byte but the unreserved ones, for a path segment.
fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn results(body: &Value) -> &Vec<Value> {
    body["result"]
        .as_array()
        .unwrap_or_else(|| panic!("no list in {body}"))
}

fn list(app: &TestApp, table: &str, params: &[(&str, &str)]) -> RequestBuilder {
    app.admin(
        Method::GET,
        &format!("/api/now/table/{table}?{}", form_body(params)),
    )
}

// ---------------------------------------------------------------------------------------------
// SQL injection: the Table API's query parameters
// ---------------------------------------------------------------------------------------------

/// Every operator's operand is a literal: a payload matches no user for `=`, `LIKE`/`*`,
/// `STARTSWITH`, `ENDSWITH`/`%` and `IN`, and every user for their negations; ordering operators
/// answer 200; typed fields, date functions, units and other fields' names refuse the payload
/// with a 400.
#[tokio::test]
async fn sysparm_query_operands_are_literals_for_every_operator() {
    let t = target().await;
    let users = fetch_records(&t.app, "sys_user", "").await.len();
    let grants = fetch_records(&t.app, "sys_user_has_role", "").await.len();
    for payload in PAYLOADS {
        for (op, expected) in [
            ("=", Some(0)),
            ("LIKE", Some(0)),
            ("*", Some(0)),
            ("STARTSWITH", Some(0)),
            ("ENDSWITH", Some(0)),
            ("%", Some(0)),
            ("IN", Some(0)),
            ("!=", Some(users)),
            ("NOT LIKE", Some(users)),
            ("!*", Some(users)),
            ("NOT IN", Some(users)),
            ("<", None),
            ("<=", None),
            (">", None),
            (">=", None),
        ] {
            let query = format!("user_name{op}{payload}");
            let (status, body) = probe(
                &query,
                list(&t.app, "sys_user", &[("sysparm_query", &query)]),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{query}: {body}");
            let found = results(&body).len();
            match expected {
                Some(n) => assert_eq!(found, n, "{query}: {body}"),
                None => assert!(found <= users, "{query}"),
            }
        }
        let between = format!("user_nameBETWEEN{payload}@{payload}");
        let (status, body) = probe(
            &between,
            list(&t.app, "sys_user", &[("sysparm_query", &between)]),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{between}: {body}");
        // A reference operand is a literal too, compared with the sys_id or, for the text
        // operators, with the referenced user's display value.
        for (op, expected) in [("=", 0), ("*", 0), ("STARTSWITH", 0), ("!*", grants)] {
            let query = format!("user{op}{payload}");
            let (status, body) = probe(
                &query,
                list(&t.app, "sys_user_has_role", &[("sysparm_query", &query)]),
            )
            .await;
            assert_eq!(
                (status, results(&body).len()),
                (StatusCode::OK, expected),
                "{query}"
            );
        }
        // A label is a caption, never a value: DATEPART ignores it.
        let query = format!(
            "sys_created_onDATEPART{payload}@javascript:gs.datePart('dayofweek','monday','GE')"
        );
        let (status, body) = probe(
            &query,
            list(&t.app, "sys_user", &[("sysparm_query", &query)]),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        // Typed fields refuse what is not of their type.
        for query in [
            format!("active={payload}"),
            format!("sys_mod_count>{payload}"),
            format!("sys_mod_countIN1,{payload}"),
            format!("sys_created_on<{payload}"),
            format!("sys_created_onBETWEEN{payload}@{payload}"),
            format!("activeLIKE{payload}"),
            // Dates, units and other fields are read from fixed lists or the registry.
            format!("sys_created_onON{payload}"),
            format!("sys_created_on<javascript:{payload}"),
            format!("sys_created_on<javascript:gs.daysAgo({payload})"),
            format!("sys_created_onRELATIVEGT@{payload}@ago@1"),
            format!("sys_created_onMORETHAN{payload}@day@before@1"),
            format!("user_nameSAMEAS{payload}"),
            format!("sys_mod_countGT_FIELD{payload}"),
            format!("user_name=javascript:{payload}"),
            format!("user_name=javascript:gs.getUser({payload}).getName()"),
            // Dynamic filter options are read from a fixed list of sys_ids.
            format!("sys_idDYNAMIC{payload}"),
        ] {
            let (status, body) = probe(
                &query,
                list(&t.app, "sys_user", &[("sysparm_query", &query)]),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
            assert_eq!(body["error"]["message"], "Invalid query", "{query}");
        }
        // A payload where a field name or an ordering goes is refused.
        for query in [
            format!("{payload}=1"),
            format!("user_name=x^OR{payload}=1"),
            format!("ORDERBY{payload}"),
            format!("ORDERBYDESC{payload}"),
            format!("user_name {payload}"),
        ] {
            let (status, body) = probe(
                &query,
                list(&t.app, "sys_user", &[("sysparm_query", &query)]),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        }
    }
    assert_intact(&t).await;
}

/// `sysparm_fields` names fields, never SQL: unknown names are ignored and write-only fields
/// (password hashes, client secrets) are never shown. `sysparm_limit` and `sysparm_offset` are
/// numbers or a 400, and the largest numbers are clamped, not overflowed into a 500.
#[tokio::test]
async fn sysparm_fields_limit_and_offset_take_no_sql() {
    let t = target().await;
    let users = fetch_records(&t.app, "sys_user", "").await.len();
    let mut fields: Vec<String> = PAYLOADS.iter().map(|p| p.to_string()).collect();
    fields.extend(
        [
            "*",
            "user_password",
            "sys_id,user_password",
            "user_name FROM sys_user; --",
            "\"user_password\"",
            "sys_id) FROM sys_user --",
            "count(*)",
        ]
        .map(String::from),
    );
    for value in &fields {
        for table in ["sys_user", "oauth_entity"] {
            let (status, body) =
                probe(value, list(&t.app, table, &[("sysparm_fields", value)])).await;
            assert_eq!(status, StatusCode::OK, "{value}: {body}");
            for record in results(&body) {
                let record = record.as_object().unwrap();
                assert!(
                    !record.contains_key("user_password") && !record.contains_key("client_secret"),
                    "sysparm_fields={value} showed a secret: {record:?}"
                );
                assert!(
                    record
                        .keys()
                        .all(|k| value.split(',').any(|f| f.trim() == k)),
                    "sysparm_fields={value} showed more: {record:?}"
                );
            }
        }
    }
    for name in ["sysparm_limit", "sysparm_offset"] {
        for value in PAYLOADS.iter().copied().chain([
            "-1",
            "1e3",
            "0x10",
            "18446744073709551616",
            "1 OFFSET 0",
        ]) {
            let (status, body) = probe(value, list(&t.app, "sys_user", &[(name, value)])).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{name}={value}: {body}");
            assert_eq!(
                body["error"]["message"], "Invalid parameter",
                "{name}={value}"
            );
        }
    }
    let max = u64::MAX.to_string();
    let (status, body) = probe(
        "limit max",
        list(&t.app, "sys_user", &[("sysparm_limit", &max)]),
    )
    .await;
    assert_eq!((status, results(&body).len()), (StatusCode::OK, users));
    let (status, body) = probe(
        "offset max",
        list(&t.app, "sys_user", &[("sysparm_offset", &max)]),
    )
    .await;
    assert_eq!((status, results(&body).len()), (StatusCode::OK, 0));
    for (name, value) in [
        ("sysparm_display_value", PAYLOADS[0]),
        ("sysparm_no_count", PAYLOADS[1]),
        ("sysparm_exclude_reference_link", PAYLOADS[2]),
        ("sysparm_suppress_pagination_header", PAYLOADS[3]),
    ] {
        let (status, _) = probe(name, list(&t.app, "sys_user", &[(name, value)])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}={value}");
    }
    assert_intact(&t).await;
}

/// Plain `field=value` parameters: the value is a literal, a payload as the name is ignored
/// like any name that is not a field, and a typed field refuses the payload.
#[tokio::test]
async fn plain_field_filters_take_no_sql() {
    let t = target().await;
    let users = fetch_records(&t.app, "sys_user", "").await.len();
    for payload in PAYLOADS {
        let (status, body) =
            probe(payload, list(&t.app, "sys_user", &[("user_name", payload)])).await;
        assert_eq!(
            (status, results(&body).len()),
            (StatusCode::OK, 0),
            "user_name={payload}"
        );
        let (status, body) = probe(payload, list(&t.app, "sys_user", &[(payload, "x")])).await;
        assert_eq!(
            (status, results(&body).len()),
            (StatusCode::OK, users),
            "{payload}=x"
        );
        let (status, body) = probe(payload, list(&t.app, "sys_user", &[("active", payload)])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "active={payload}: {body}");
    }
    assert_intact(&t).await;
}

/// A payload as the table name is an unknown table (400) and as a sys_id an unknown record
/// (404), for every verb; nothing is read, changed or deleted.
#[tokio::test]
async fn path_segments_of_the_table_api_take_no_sql() {
    let t = target().await;
    for payload in PAYLOADS {
        let table = format!("sys_user{payload}");
        for (method, path) in [
            (Method::GET, format!("/api/now/table/{}", segment(&table))),
            (Method::POST, format!("/api/now/table/{}", segment(&table))),
            (
                Method::GET,
                format!("/api/now/table/{}/{}", segment(&table), t.agent),
            ),
            (
                Method::PATCH,
                format!("/api/now/table/{}/{}", segment(&table), t.agent),
            ),
            (
                Method::DELETE,
                format!("/api/now/table/{}/{}", segment(&table), t.agent),
            ),
        ] {
            let (status, body) = probe(
                &path,
                t.app
                    .admin(method.clone(), &path)
                    .json(&json!({"active": false})),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}: {body}");
            assert_eq!(
                body["error"]["message"],
                format!("Invalid table {table}"),
                "{path}"
            );
        }
        for sys_id in [payload.to_string(), format!("{}{payload}", t.agent)] {
            let path = format!("/api/now/table/sys_user/{}", segment(&sys_id));
            for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
                let (status, body) = probe(
                    &path,
                    t.app
                        .admin(method.clone(), &path)
                        .json(&json!({"active": false})),
                )
                .await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
                assert_eq!(body["error"]["message"], "No Record found", "{path}");
            }
        }
    }
    assert_intact(&t).await;
}

/// Payloads as the values of a POST or PUT are stored as the literal text they are; payloads
/// as field names are ignored, like any name that is not a field; a payload for a sys_id, a
/// typed field or a reference is a 400.
#[tokio::test]
async fn table_api_bodies_are_stored_literally() {
    let t = target().await;
    for (i, payload) in PAYLOADS.iter().enumerate() {
        let mut body = json!({
            "user_name": format!("{payload}{i}"),
            "first_name": payload,
            "last_name": payload,
            "email": payload,
        });
        body[*payload] = json!("ignored");
        body["email\" = 'x', \"roles\" = 'admin' --"] = json!("ignored");
        let (status, created) = probe(
            payload,
            t.app
                .admin(Method::POST, "/api/now/table/sys_user")
                .json(&body),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{payload}: {created}");
        let id = sys_id_of(&created["result"]);
        let stored = fetch_record(&t.app, "sys_user", &id).await.unwrap();
        assert_eq!(stored["user_name"], format!("{payload}{i}"));
        assert_eq!(stored["last_name"], *payload);
        assert_eq!(stored["email"], *payload);
        assert_eq!(stored["name"], format!("{payload} {payload}"));
        assert_eq!(stored["roles"], "", "no role through an injected name");
        let path = format!("/api/now/table/sys_user/{id}");
        for method in [Method::PUT, Method::PATCH] {
            let replaced =
                json!({"first_name": format!("{payload}!"), "email": format!("!{payload}")});
            let (status, updated) =
                probe(payload, t.app.admin(method.clone(), &path).json(&replaced)).await;
            assert_eq!(status, StatusCode::OK, "{method} {payload}: {updated}");
            assert_eq!(updated["result"]["first_name"], format!("{payload}!"));
            assert_eq!(updated["result"]["email"], format!("!{payload}"));
        }
        for refused in [
            json!({"sys_id": payload, "user_name": "refused"}),
            json!({"user_name": "refused", "active": payload}),
            json!({"user_name": "refused", "sys_created_on": payload, "email": {"a": payload}}),
        ] {
            let (status, body) = probe(
                payload,
                t.app
                    .admin(Method::POST, "/api/now/table/sys_user")
                    .json(&refused),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}: {body}");
        }
        for reference in [
            json!(payload),
            json!({"value": payload}),
            json!({"display_value": payload}),
        ] {
            let grant = json!({"user": reference, "role": "admin"});
            let (status, body) = probe(
                payload,
                t.app
                    .admin(Method::POST, "/api/now/table/sys_user_has_role")
                    .json(&grant),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{grant}: {body}");
            let grant = json!({"user": t.agent, "role": reference});
            let (status, body) = probe(
                payload,
                t.app
                    .admin(Method::POST, "/api/now/table/sys_user_has_role")
                    .json(&grant),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{grant}: {body}");
        }
        let response = t.app.admin(Method::DELETE, &path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
    assert_intact(&t).await;
}

// ---------------------------------------------------------------------------------------------
// SQL injection: the seed APIs and OAuth
// ---------------------------------------------------------------------------------------------

/// The Conversation Member, Interaction Management and Agent Mapping APIs: payloads in path
/// parameters and body fields get their documented 4xx refusals.
#[tokio::test]
async fn seed_api_paths_and_bodies_take_no_sql() {
    let t = target().await;
    let member = |user: &str, action: &str| {
        t.app.as_user(
            INTEGRATION,
            Method::PUT,
            &format!(
                "/api/now/conversation/member/{}/{}",
                segment(user),
                segment(action)
            ),
        )
    };
    let mapping = |agent: &str, inbound: &str| {
        t.app.as_user(
            INTEGRATION,
            Method::PUT,
            &format!(
                "/api/sn_ct_ctr_it_core/agent_mapping/agent/{}/inboundId/{}",
                segment(agent),
                segment(inbound)
            ),
        )
    };
    let no_conversation = "Conversation for corresponding interaction could not be found";
    let not_a_member = "Invalid request. User is not a member of the interaction provided";
    for payload in PAYLOADS {
        let refusal =
            |(status, body): (StatusCode, Value)| (status, body["result"]["message"].clone());
        // Conversation Member: user_id, action, interaction_id, member_type.
        for action in ["drop", "update"] {
            let body = json!({"interaction_id": t.interaction, "member_type": "public_fulfiller"});
            let got = probe(payload, member(payload, action).json(&body)).await;
            assert_eq!(
                refusal(got),
                (StatusCode::BAD_REQUEST, json!(not_a_member)),
                "{payload}"
            );
            let body = json!({"interaction_id": payload, "member_type": "public_fulfiller"});
            let got = probe(payload, member(&t.agent, action).json(&body)).await;
            assert_eq!(
                refusal(got),
                (StatusCode::BAD_REQUEST, json!(no_conversation)),
                "{payload}"
            );
        }
        let body = json!({"interaction_id": t.interaction, "member_type": payload});
        let got = probe(payload, member(&t.agent, "update").json(&body)).await;
        assert_eq!(
            refusal(got),
            (
                StatusCode::BAD_REQUEST,
                json!("Invalid request. Member type must be one of [public_fulfiller]")
            )
        );
        let (status, body) = probe(payload, member(&t.agent, payload).json(&json!({}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            body["error"]["message"],
            "Requested URI does not represent any resource"
        );

        // Interaction Management: the id to close, and the create body's references.
        let path = format!("/api/now/interaction/{}/close", segment(payload));
        let (status, body) = probe(payload, t.app.as_user(INTEGRATION, Method::POST, &path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        let channel = fetch_records(&t.app, "interaction_connector", "").await[0]["sys_id"].clone();
        for create in [
            json!({"channel": payload}),
            json!({"channel": channel, "queue": payload}),
            json!({"channel": channel, "opened_for": payload}),
            json!({"channel": channel, "context": payload}),
            json!({"channel": channel, "context_table": payload}),
        ] {
            let (status, body) = probe(
                payload,
                t.app
                    .as_user(INTEGRATION, Method::POST, "/api/now/interaction")
                    .json(&create),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{create}: {body}");
            assert_eq!(body["error"]["message"], "Invalid request", "{create}");
        }

        // Agent Mapping: agentId, inboundId, and the body's fields.
        let got = probe(
            payload,
            mapping(payload, "Voice1").json(&json!({"external_agent_id": "1"})),
        )
        .await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
        assert_eq!(got.1["result"]["status"], "failure");
        let got = probe(
            payload,
            mapping(&t.agent, payload).json(&json!({"external_agent_id": "1"})),
        )
        .await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
        assert_eq!(got.1["result"]["status"], "failure");
        let got = probe(
            payload,
            mapping(&t.agent, "Voice1").json(&json!({"external_agent_id": "1", "active": payload})),
        )
        .await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
    }
    let interactions = fetch_records(&t.app, "interaction", "").await.len();
    assert_eq!(interactions, 1, "no interaction was created");
    assert_intact(&t).await;

    // Payloads where a value is free text are stored as that text.
    for payload in PAYLOADS {
        let (status, body) = probe(
            payload,
            mapping(&t.agent, "Voice1").json(&json!({"external_agent_id": payload})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let stored = fetch_records(
            &t.app,
            "external_agent_mapping",
            &format!("user={}", t.agent),
        )
        .await;
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0]["external_agent_id"], *payload);
        let channel = fetch_records(&t.app, "interaction_connector", "").await[0]["sys_id"].clone();
        let context = json!({"channel": channel,
                             "short_description": payload, "context": {*payload: payload}});
        let (status, body) = probe(
            payload,
            t.app
                .as_user(INTEGRATION, Method::POST, "/api/now/interaction")
                .json(&context),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["result"]["context"], json!({*payload: payload}));
    }
}

/// Every OAuth form field, and the Basic credentials of the API: a payload is refused with the
/// platform's OAuth errors (or, for revoking an unknown token, the 200 RFC 7009 asks for).
#[tokio::test]
async fn oauth_form_fields_and_basic_credentials_take_no_sql() {
    // Over a hundred failed logins from one address: login throttling would answer 429 long
    // before the last payload (`throttle::*` tests it); this test is about the payloads.
    let t = target_with(|c| c.login_limits = LoginLimits::off()).await;
    let token = "/oauth_token.do";
    // (the field holding the payload, the form, the status the platform answers)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, StatusCode);
    for payload in PAYLOADS {
        let cases: Vec<Case> = vec![
            (
                "grant_type",
                vec![
                    ("grant_type", payload),
                    ("client_id", CLIENT_ID),
                    ("client_secret", CLIENT_SECRET),
                ],
                StatusCode::BAD_REQUEST,
            ),
            (
                "client_id",
                vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", payload),
                    ("client_secret", CLIENT_SECRET),
                ],
                StatusCode::UNAUTHORIZED,
            ),
            (
                "client_secret",
                vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", CLIENT_ID),
                    ("client_secret", payload),
                ],
                StatusCode::UNAUTHORIZED,
            ),
            (
                "username",
                vec![
                    ("grant_type", "password"),
                    ("client_id", CLIENT_ID),
                    ("client_secret", CLIENT_SECRET),
                    ("username", payload),
                    ("password", "x"),
                ],
                StatusCode::UNAUTHORIZED,
            ),
            (
                "password",
                vec![
                    ("grant_type", "password"),
                    ("client_id", CLIENT_ID),
                    ("client_secret", CLIENT_SECRET),
                    ("username", ADMIN.0),
                    ("password", payload),
                ],
                StatusCode::UNAUTHORIZED,
            ),
            (
                "refresh_token",
                vec![
                    ("grant_type", "refresh_token"),
                    ("client_id", CLIENT_ID),
                    ("client_secret", CLIENT_SECRET),
                    ("refresh_token", payload),
                ],
                StatusCode::UNAUTHORIZED,
            ),
        ];
        for (field, pairs, expected) in cases {
            let (status, body) = probe(field, t.app.form_post(token, &pairs)).await;
            assert_eq!(status, expected, "{field}={payload}: {body}");
            assert!(body["error"].is_string(), "{field}={payload}: {body}");
        }
        let revoke = "/oauth_revoke_token.do";
        let (status, body) = probe(
            "revoke",
            t.app.form_post(
                revoke,
                &[
                    ("token", payload),
                    ("client_id", CLIENT_ID),
                    ("client_secret", CLIENT_SECRET),
                ],
            ),
        )
        .await;
        assert_eq!(
            (status, body),
            (StatusCode::OK, json!({})),
            "token={payload}"
        );
        let (status, _) = probe(
            "revoke",
            t.app.form_post(
                revoke,
                &[
                    ("token", "x"),
                    ("client_id", payload),
                    ("client_secret", CLIENT_SECRET),
                ],
            ),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "client_id={payload}");
        // Basic credentials and bearer tokens.
        for (user, password) in [(*payload, "x"), (ADMIN.0, *payload)] {
            let (status, _) = probe(
                payload,
                t.app
                    .as_user((user, password), Method::GET, "/api/now/table/sys_user"),
            )
            .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{user}:{password}");
        }
        let (status, _) = probe(
            payload,
            t.app
                .anonymous(Method::GET, "/api/now/table/sys_user")
                .header(AUTHORIZATION, format!("Bearer {payload}")),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "Bearer {payload}");
    }
    assert_eq!(
        fetch_records(&t.app, "oauth_credential", "").await.len(),
        0,
        "no token was issued"
    );
    assert_intact(&t).await;
}

// ---------------------------------------------------------------------------------------------
// Bodies built to exhaust a parser
// ---------------------------------------------------------------------------------------------

fn post_body(app: &TestApp, path: &str, content_type: &str, body: Vec<u8>) -> RequestBuilder {
    app.admin(Method::POST, path)
        .header(CONTENT_TYPE, content_type)
        .body(body)
}

/// An unreadable body, in the platform's error envelope.
fn assert_unreadable(what: &str, (status, body): &(StatusCode, Value), detail: &str) {
    assert_eq!(*status, StatusCode::BAD_REQUEST, "{what}: {body}");
    assert_eq!(
        body["error"]["message"], "Exception while reading request",
        "{what}: {body}"
    );
    let shown = body["error"]["detail"].as_str().unwrap_or_default();
    assert!(
        shown.contains(detail),
        "{what}: detail {shown:?} lacks {detail:?}"
    );
}

/// 100,000 nested arrays or objects in JSON, and 100,000 nested elements in XML, are refused
/// with a 400 (serde_json's recursion limit, the XML reader's depth limit), not a stack overflow.
#[tokio::test]
async fn deeply_nested_bodies_are_400() {
    let t = target().await;
    let deep = 100_000;
    let json_bodies = [
        "[".repeat(deep),
        format!("{}1{}", "[".repeat(deep), "]".repeat(deep)),
        "{\"a\":".repeat(deep),
        format!("{{\"user_name\": {}}}", "{\"a\":".repeat(deep)),
    ];
    for body in json_bodies {
        for path in ["/api/now/table/sys_user", "/api/now/interaction"] {
            let got = probe(
                path,
                post_body(&t.app, path, "application/json", body.clone().into_bytes()),
            )
            .await;
            assert_unreadable(path, &got, "recursion limit exceeded");
        }
        // The Agent Mapping API answers its own failure shape.
        let path = format!(
            "/api/sn_ct_ctr_it_core/agent_mapping/agent/{}/inboundId/Voice1",
            t.agent
        );
        let (status, got) = probe(
            &path,
            t.app
                .admin(Method::PUT, &path)
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{got}");
        assert_eq!(got["result"]["status"], "failure");
    }
    let xml_bodies = [
        "<a>".repeat(deep),
        format!("{}x{}", "<a>".repeat(deep), "</a>".repeat(deep)),
        format!("<r>{}</r>", "<a><b/>".repeat(deep)),
    ];
    for body in xml_bodies {
        for path in ["/api/now/table/sys_user", "/api/now/interaction"] {
            let got = probe(
                path,
                post_body(&t.app, path, "application/xml", body.clone().into_bytes()),
            )
            .await;
            assert_unreadable(path, &got, "XML nesting deeper than 64 levels");
        }
    }
    assert_intact(&t).await;
}

/// Any DOCTYPE is refused: the billion-laughs entity expansion, an external entity that would
/// read a local file, an external DTD, and a parameter entity.
#[tokio::test]
async fn xml_doctypes_are_400() {
    let t = target().await;
    let laughs = {
        let mut dtd = String::from("<!DOCTYPE lolz [<!ENTITY lol \"lol\">");
        dtd.push_str("<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">");
        for i in 2..=9 {
            let previous = format!("&lol{};", i - 1).repeat(10);
            dtd.push_str(&format!("<!ENTITY lol{i} \"{previous}\">"));
        }
        dtd.push_str("]><request><entry><user_name>&lol9;</user_name></entry></request>");
        dtd
    };
    let bodies = [
        laughs,
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\
         <request><user_name>&xxe;</user_name></request>"
            .to_owned(),
        "<!DOCTYPE r SYSTEM \"http://127.0.0.1:1/evil.dtd\">\
         <request><user_name>x</user_name></request>"
            .to_owned(),
        "<!DOCTYPE r [<!ENTITY % p SYSTEM \"file:///etc/hostname\"> %p;]>\
         <request><user_name>x</user_name></request>"
            .to_owned(),
        "<!DOCTYPE r><request><user_name>plain</user_name></request>".to_owned(),
    ];
    for body in bodies {
        for path in ["/api/now/table/sys_user", "/api/now/interaction"] {
            let got = probe(
                path,
                post_body(&t.app, path, "application/xml", body.clone().into_bytes()),
            )
            .await;
            assert_unreadable(path, &got, "DOCTYPE");
            assert!(
                !got.1.to_string().contains("root:"),
                "a file leaked: {}",
                got.1
            );
        }
        let member = format!("/api/now/conversation/member/{}/drop", t.agent);
        let got = probe(
            &member,
            t.app
                .as_user(INTEGRATION, Method::PUT, &member)
                .header(CONTENT_TYPE, "application/xml")
                .body(body.clone()),
        )
        .await;
        assert_unreadable(&member, &got, "DOCTYPE");
    }
    assert_intact(&t).await;
}

// ---------------------------------------------------------------------------------------------
// NUL bytes and invalid UTF-8
// ---------------------------------------------------------------------------------------------

/// NUL and invalid UTF-8 in JSON and XML bodies: a 4xx, whether the NUL is a raw byte, a JSON
/// `\u0000` escape or a raw byte in XML text; never stored, never a 500.
#[tokio::test]
async fn nul_bytes_and_invalid_utf8_in_bodies_are_4xx() {
    let t = target().await;
    let cases: [(&str, &[u8]); 8] = [
        ("application/json", b"{\"user_name\": \"a\x00b\"}"),
        ("application/json", b"{\"user_name\": \"c\\u0000d\"}"),
        ("application/json", b"{\"user_name\": \"a\xFFb\"}"),
        ("application/json", b"{\"user_name\": \"a\xC3\"}"),
        (
            "application/xml",
            b"<request><user_name>e\x00f</user_name></request>",
        ),
        (
            "application/xml",
            b"<request><user_name>a&#0;b</user_name></request>",
        ),
        (
            "application/xml",
            b"<request><user_name>a\xFFb</user_name></request>",
        ),
        (
            "application/xml",
            b"<request><user_\xFEname>a</user_\xFEname></request>",
        ),
    ];
    let mut wrong = Vec::new();
    for (content_type, body) in cases {
        let what = format!("{content_type} {:?}", String::from_utf8_lossy(body));
        let request = post_body(
            &t.app,
            "/api/now/table/sys_user",
            content_type,
            body.to_vec(),
        );
        let (status, got) = answer(request.send().await.unwrap()).await;
        if !status.is_client_error() {
            wrong.push(format!("{what}: {status} {got}"));
        }
    }
    // Through a seed API too.
    let body = json!({"external_agent_id": "a\u{0}b"}).to_string();
    let path = format!(
        "/api/sn_ct_ctr_it_core/agent_mapping/agent/{}/inboundId/Voice1",
        t.agent
    );
    let request = t
        .app
        .as_user(INTEGRATION, Method::PUT, &path)
        .header(CONTENT_TYPE, "application/json")
        .body(body);
    let (status, got) = answer(request.send().await.unwrap()).await;
    if !status.is_client_error() {
        wrong.push(format!("external_agent_id \"a\\u0000b\": {status} {got}"));
    }
    assert!(wrong.is_empty(), "not a 4xx:\n{}", wrong.join("\n"));
    assert_intact(&t).await;
}

/// NUL and invalid UTF-8 once percent-decoded: in `sysparm_query`, in a plain filter, in a
/// path segment, in Basic credentials and in OAuth form fields, all a 4xx.
#[tokio::test]
async fn nul_bytes_and_invalid_utf8_in_decoded_values_are_4xx() {
    let t = target().await;
    let mut requests: Vec<(String, RequestBuilder)> = Vec::new();
    for bad in ["%00", "a%00b", "%FF", "a%C3", "%ED%A0%80"] {
        for query in [
            format!("sysparm_query=user_name%3D{bad}"),
            format!("sysparm_query=user_nameLIKE{bad}"),
            format!("sysparm_query=user_nameIN{bad},x"),
            format!("user_name={bad}"),
        ] {
            let path = format!("/api/now/table/sys_user?{query}");
            requests.push((path.clone(), t.app.admin(Method::GET, &path)));
        }
        for path in [
            format!("/api/now/table/sys_user/{bad}"),
            format!("/api/now/table/sys_user{bad}"),
        ] {
            requests.push((format!("GET {path}"), t.app.admin(Method::GET, &path)));
            requests.push((format!("DELETE {path}"), t.app.admin(Method::DELETE, &path)));
        }
        let path = format!("/api/now/interaction/{bad}/close");
        requests.push((
            path.clone(),
            t.app.as_user(INTEGRATION, Method::POST, &path),
        ));
        let path = format!("/api/now/conversation/member/{bad}/drop");
        let body = json!({"interaction_id": t.interaction});
        requests.push((
            path.clone(),
            t.app.as_user(INTEGRATION, Method::POST, &path).json(&body),
        ));
        let path = format!(
            "/api/sn_ct_ctr_it_core/agent_mapping/agent/{}/inboundId/{bad}",
            t.agent
        );
        let body = json!({"external_agent_id": "1"});
        requests.push((
            path.clone(),
            t.app.as_user(INTEGRATION, Method::PUT, &path).json(&body),
        ));
        let form = format!("grant_type=client_credentials&client_id={bad}&client_secret=x");
        requests.push((
            form.clone(),
            t.app
                .anonymous(Method::POST, "/oauth_token.do")
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form),
        ));
        let form = format!(
            "grant_type=password&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}\
             &username=ad{bad}min&password=x"
        );
        requests.push((
            form.clone(),
            t.app
                .anonymous(Method::POST, "/oauth_token.do")
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form),
        ));
    }
    let mut wrong = Vec::new();
    for (what, request) in requests {
        let (status, got) = answer(request.send().await.unwrap()).await;
        if !status.is_client_error() {
            wrong.push(format!("{what}: {status} {got}"));
        }
    }
    // Basic credentials whose user name holds a NUL or is not UTF-8.
    for credentials in [&b"ad\x00min:admin-password"[..], b"\x00:x", b"ad\xFFmin:x"] {
        let encoded = base64(credentials);
        let request = t
            .app
            .anonymous(Method::GET, "/api/now/table/sys_user")
            .header(AUTHORIZATION, format!("Basic {encoded}"));
        let (status, got) = answer(request.send().await.unwrap()).await;
        if status != StatusCode::UNAUTHORIZED {
            let shown = String::from_utf8_lossy(credentials);
            wrong.push(format!("Basic {shown:?}: {status} {got}"));
        }
    }
    assert!(wrong.is_empty(), "not a 4xx:\n{}", wrong.join("\n"));
    assert_intact(&t).await;
}

// ---------------------------------------------------------------------------------------------
// Oversized request heads
// ---------------------------------------------------------------------------------------------

/// What became of a request sent on a raw socket.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// The status line's code.
    Answered(u16),
    /// The server closed (or reset) the connection without a response.
    Closed,
}

/// Writes `request` (ignoring write errors: the server may stop reading) and reads until the
/// server closes; a hang fails the test.
async fn exchange(app: &TestApp, request: Vec<u8>) -> Outcome {
    let stream = app.connect().await;
    let (mut reader, mut writer) = stream.into_split();
    let write = tokio::spawn(async move {
        let _ = writer.write_all(&request).await;
        let _ = writer.flush().await;
        writer
    });
    let mut received = Vec::new();
    let read = reader.read_to_end(&mut received);
    let _ = tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("the server answered or closed within a minute");
    write.abort();
    let text = String::from_utf8_lossy(&received);
    match text.strip_prefix("HTTP/1.1 ") {
        Some(rest) => Outcome::Answered(rest[..3].parse().expect("a status code")),
        None if received.is_empty() => Outcome::Closed,
        None => panic!("not an HTTP response: {:?}", &text[..text.len().min(200)]),
    }
}

fn head(request_line: &str, headers: &[String]) -> Vec<u8> {
    let mut head = format!("{request_line}\r\nHost: switchboard\r\nConnection: close\r\n");
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// A 100 KB path, a 100 KB query string, a 1 MB header, 10,000 headers and a 1 MB request line
/// each get a clean 4xx (hyper's 414 or 431) or a closed connection, never a 5xx or a hang,
/// and the server goes on serving.
#[tokio::test]
async fn huge_paths_and_headers_get_a_4xx_or_a_close() {
    let t = target().await;
    let basic = format!("Authorization: {}", basic_authorization(ADMIN));
    let cases = [
        (
            "100 KB path",
            head(
                &format!(
                    "GET /api/now/table/sys_user/{} HTTP/1.1",
                    "a".repeat(100 * 1024)
                ),
                std::slice::from_ref(&basic),
            ),
        ),
        (
            "100 KB query",
            head(
                &format!(
                    "GET /api/now/table/sys_user?sysparm_query=user_name={} HTTP/1.1",
                    "a".repeat(100 * 1024)
                ),
                std::slice::from_ref(&basic),
            ),
        ),
        (
            "1 MB request line",
            head(&format!("GET /{} HTTP/1.1", "a".repeat(1 << 20)), &[]),
        ),
        (
            "1 MB header",
            head(
                "GET /api/now/table/sys_user HTTP/1.1",
                &[basic.clone(), format!("X-Big: {}", "a".repeat(1 << 20))],
            ),
        ),
        (
            "10,000 headers",
            head(
                "GET /api/now/table/sys_user HTTP/1.1",
                &(0..10_000)
                    .map(|i| format!("X-H{i}: v"))
                    .chain([basic.clone()])
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "1 MB Authorization",
            head(
                "GET /api/now/table/sys_user HTTP/1.1",
                &[format!("Authorization: Basic {}", "A".repeat(1 << 20))],
            ),
        ),
    ];
    for (what, request) in cases {
        let outcome = exchange(&t.app, request).await;
        match outcome {
            Outcome::Answered(status) => assert!((400..500).contains(&status), "{what}: {status}"),
            Outcome::Closed => {}
        }
        // Still serving.
        let healthy = raw(
            &t.app,
            "GET",
            "/api/now/table/sys_user_role?sysparm_limit=1",
            &[("Authorization", basic.trim_start_matches("Authorization: "))],
            Vec::new(),
        )
        .await;
        assert_eq!(healthy.status, 200, "after {what}: {}", healthy.text());
    }
    assert_intact(&t).await;
}

/// A client that connects and sends nothing holds a connection slot (of `max_connections`) as a
/// slow client does, and must be cut off by the same header timeout.
#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_timeout() {
    let app = TestApp::spawn_with(|c| c.limits.header_timeout = Duration::from_secs(1)).await;
    let mut stream = app.connect().await;
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "a silent connection was still open 10 s after connecting, with a 1 s header timeout: \
         {read:?}"
    );
}
