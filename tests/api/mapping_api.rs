//! The Agent Mapping API: `PUT /api/sn_ct_ctr_it_core/agent_mapping/agent/{agentId}/inboundId/{inboundId}`
//! maps a CCaaS agent id to a user for every active provider channel identity of the inbound id.

use std::collections::BTreeSet;

use reqwest::header::{ACCEPT, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_content_type, assert_error, content_type, fetch_records, json_of, sys_id_of,
};

const MAPPER: (&str, &str) = ("mapper", "mapper-password");
const INSERTED: &str = "Agent Id mapping record inserted";
const UPDATED: &str = "Agent Id mapping record updated";
const UNKNOWN_ID: &str = "0000000000000000000000000000dead";

struct Fixture {
    app: TestApp,
    agent: String,
    /// The two active identities with inbound id "Voice1".
    voice: BTreeSet<String>,
    /// The inactive identity with inbound id "Voice1".
    inactive_voice: String,
    /// The one active identity with inbound id "Chat1".
    chat: String,
}

async fn identity(app: &TestApp, name: &str, inbound_id: &str, active: bool) -> String {
    sys_id_of(&app.insert(
        "sys_cs_provider_application",
        json!({"name": name, "inbound_id": inbound_id, "provider": "Acme CCaaS", "active": active}),
    ).await)
}

async fn fixture() -> Fixture {
    let app = TestApp::spawn().await;
    app.user(MAPPER.0, MAPPER.1, &["interaction_agent"]).await;
    let agent = app
        .user("voice.agent", "voice-agent-password", &["awa_agent"])
        .await;
    let voice = BTreeSet::from([
        identity(&app, "Voice EU", "Voice1", true).await,
        identity(&app, "Voice US", "Voice1", true).await,
    ]);
    let inactive_voice = identity(&app, "Voice old", "Voice1", false).await;
    let chat = identity(&app, "Chat", "Chat1", true).await;
    identity(&app, "Retired", "Retired1", false).await;
    Fixture {
        app,
        agent,
        voice,
        inactive_voice,
        chat,
    }
}

fn path(agent: &str, inbound_id: &str) -> String {
    format!("/api/sn_ct_ctr_it_core/agent_mapping/agent/{agent}/inboundId/{inbound_id}")
}

async fn put(app: &TestApp, agent: &str, inbound_id: &str, body: Value) -> (StatusCode, Value) {
    json_of(
        app.as_user(MAPPER, Method::PUT, &path(agent, inbound_id))
            .header(ACCEPT, "application/json")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn ids(body: &Value) -> Vec<String> {
    body["result"]["mappingIds"]
        .as_array()
        .unwrap_or_else(|| panic!("no mappingIds in {body}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn failure(message: &str) -> Value {
    json!({"result": {"message": message, "status": "failure", "mappingIds": []}})
}

/// Asserts a 400 failure in the API's own shape; returns its message.
fn assert_failure(status: StatusCode, body: &Value) -> String {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["result"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message in {body}"))
        .to_owned();
    assert!(!message.is_empty(), "{body}");
    assert_eq!(*body, failure(&message));
    message
}

async fn mappings(app: &TestApp, query: &str) -> Vec<Value> {
    fetch_records(app, "external_agent_mapping", query).await
}

#[tokio::test]
async fn the_first_call_inserts_a_mapping_per_active_identity() {
    let f = fixture().await;
    let (status, body) = put(
        &f.app,
        &f.agent,
        "Voice1",
        json!({"external_agent_id": "12345"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mapping_ids = ids(&body);
    assert_eq!(mapping_ids.len(), 2, "{body}");
    assert_eq!(
        body,
        json!({"result": {"message": INSERTED, "status": "success", "mappingIds": mapping_ids}})
    );

    let records = mappings(&f.app, &format!("user={}", f.agent)).await;
    assert_eq!(records.len(), 2, "{records:?}");
    let record_ids: BTreeSet<String> = records.iter().map(sys_id_of).collect();
    assert_eq!(record_ids, mapping_ids.iter().cloned().collect());
    let identities: BTreeSet<String> = records
        .iter()
        .map(|r| r["provider_application"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(identities, f.voice);
    assert!(!identities.contains(&f.inactive_voice));
    for record in &records {
        assert_eq!(record["external_agent_id"], "12345");
        assert_eq!(record["active"], "true");
        assert_eq!(record["user"], f.agent.as_str());
    }
    // Nothing for the other inbound id.
    assert!(
        mappings(&f.app, &format!("provider_application={}", f.chat))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn the_second_call_updates_the_same_records() {
    let f = fixture().await;
    let (status, first) = put(
        &f.app,
        &f.agent,
        "Voice1",
        json!({"external_agent_id": "12345"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, second) = put(
        &f.app,
        &f.agent,
        "Voice1",
        json!({"external_agent_id": "67890"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(
        second,
        json!({"result": {"message": UPDATED, "status": "success", "mappingIds": ids(&first)}})
    );
    let records = mappings(&f.app, "").await;
    assert_eq!(records.len(), 2);
    for record in &records {
        assert_eq!(record["external_agent_id"], "67890");
        assert_eq!(record["active"], "true");
        assert_eq!(record["sys_mod_count"], "1", "{record}");
    }
    // A repeated report with the same values still counts as an update.
    let (status, third) = put(
        &f.app,
        &f.agent,
        "Voice1",
        json!({"external_agent_id": "67890"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{third}");
    assert_eq!(third, second);
    for record in mappings(&f.app, "").await {
        assert_eq!(record["sys_mod_count"], "2", "{record}");
    }
}

#[tokio::test]
async fn active_false_as_a_string_or_a_boolean_logs_the_agent_out() {
    let f = fixture().await;
    let (status, _) = put(
        &f.app,
        &f.agent,
        "Voice1",
        json!({"external_agent_id": "12345"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    for (active, expected) in [
        (json!("false"), "false"),
        (json!("true"), "true"),
        (json!(false), "false"),
        (json!(true), "true"),
    ] {
        let (status, body) = put(
            &f.app,
            &f.agent,
            "Voice1",
            json!({"external_agent_id": "12345", "active": active}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{active}: {body}");
        assert_eq!(body["result"]["message"], UPDATED);
        let records = mappings(&f.app, "").await;
        assert_eq!(records.len(), 2);
        assert!(
            records.iter().all(|r| r["active"] == expected),
            "{active}: {records:?}"
        );
    }
    // A first mapping may be created logged out.
    let (status, body) = put(
        &f.app,
        &f.agent,
        "Chat1",
        json!({"external_agent_id": "c-1", "active": "false"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let records = mappings(&f.app, &format!("provider_application={}", f.chat)).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["active"], "false");
}

#[tokio::test]
async fn a_bad_active_is_400_and_changes_nothing() {
    let f = fixture().await;
    let (status, _) = put(
        &f.app,
        &f.agent,
        "Voice1",
        json!({"external_agent_id": "12345"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let before = mappings(&f.app, "").await;
    for active in [json!("maybe"), json!(1), json!("FALSE"), json!({"a": 1})] {
        let (status, body) = put(
            &f.app,
            &f.agent,
            "Voice1",
            json!({"external_agent_id": "99999", "active": active}),
        )
        .await;
        let message = assert_failure(status, &body);
        assert_eq!(message, "Field active must be true or false", "{active}");
    }
    assert_eq!(mappings(&f.app, "").await, before);
}

#[tokio::test]
async fn a_missing_or_empty_external_agent_id_is_400() {
    let f = fixture().await;
    for body in [
        json!({}),
        json!({"active": true}),
        json!({"external_agent_id": ""}),
        json!({"external_agent_id": "   "}),
        json!({"external_agent_id": null}),
    ] {
        let (status, response) = put(&f.app, &f.agent, "Voice1", body.clone()).await;
        let message = assert_failure(status, &response);
        assert_eq!(
            message, "Mandatory field external_agent_id is missing",
            "{body}"
        );
    }
    let (status, response) = put(
        &f.app,
        &f.agent,
        "Voice1",
        json!({"external_agent_id": 12345}),
    )
    .await;
    let message = assert_failure(status, &response);
    assert_eq!(message, "Field external_agent_id must be a string");
    // An empty body too.
    let (status, response) = json_of(
        f.app
            .as_user(MAPPER, Method::PUT, &path(&f.agent, "Voice1"))
            .header(CONTENT_TYPE, "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_failure(status, &response);
    assert!(mappings(&f.app, "").await.is_empty());
}

#[tokio::test]
async fn unknown_or_inactive_agents_and_unheld_inbound_ids_are_400() {
    let f = fixture().await;
    let inactive = sys_id_of(
        &f.app
            .insert(
                "sys_user",
                json!({"user_name": "gone", "first_name": "Gone", "active": false}),
            )
            .await,
    );
    let cases = [
        (
            UNKNOWN_ID.to_owned(),
            "Voice1",
            format!("Invalid agent id {UNKNOWN_ID}: no active user has this sys_id"),
        ),
        (
            inactive.clone(),
            "Voice1",
            format!("Invalid agent id {inactive}: no active user has this sys_id"),
        ),
        (
            f.agent.clone(),
            "Nobody1",
            "Invalid inbound id Nobody1: no active provider channel identity has it".to_owned(),
        ),
        (
            f.agent.clone(),
            "Retired1",
            "Invalid inbound id Retired1: no active provider channel identity has it".to_owned(),
        ),
    ];
    for (agent, inbound_id, expected) in cases {
        let (status, body) = put(
            &f.app,
            &agent,
            inbound_id,
            json!({"external_agent_id": "12345"}),
        )
        .await;
        assert_eq!(
            (status, &body),
            (StatusCode::BAD_REQUEST, &failure(&expected)),
            "{agent} / {inbound_id}"
        );
    }
    assert!(mappings(&f.app, "").await.is_empty());
}

#[tokio::test]
async fn malformed_json_is_400_in_the_failure_shape() {
    let f = fixture().await;
    for text in [
        "{\"external_agent_id\":",
        "{\"external_agent_id\":\"1\",}",
        "not json",
        "[1, 2]",
    ] {
        let (status, body) = json_of(
            f.app
                .as_user(MAPPER, Method::PUT, &path(&f.agent, "Voice1"))
                .header(CONTENT_TYPE, "application/json")
                .body(text)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_failure(status, &body);
    }
    let (status, body) = json_of(
        f.app
            .as_user(MAPPER, Method::PUT, &path(&f.agent, "Voice1"))
            .header(CONTENT_TYPE, "application/json")
            .body("{\"external_agent_id\": ")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let message = assert_failure(status, &body);
    assert!(
        message.starts_with("The payload is not valid JSON"),
        "{message}"
    );
    assert!(mappings(&f.app, "").await.is_empty());
}

#[tokio::test]
async fn xml_is_refused_with_json_answers() {
    let f = fixture().await;
    // Accept: application/xml is 406, answered in JSON (before authentication too).
    for authenticated in [true, false] {
        let mut request = f
            .app
            .anonymous(Method::PUT, &path(&f.agent, "Voice1"))
            .header(ACCEPT, "application/xml")
            .json(&json!({"external_agent_id": "12345"}));
        if authenticated {
            request = request.basic_auth(MAPPER.0, Some(MAPPER.1));
        }
        let response = request.send().await.unwrap();
        assert_content_type(&response, "application/json");
        assert_error(response, StatusCode::NOT_ACCEPTABLE, "Not Acceptable").await;
    }
    // An XML body is 415, before authentication too.
    let response = f
        .app
        .anonymous(Method::PUT, &path(&f.agent, "Voice1"))
        .header(CONTENT_TYPE, "application/xml")
        .body("<request><external_agent_id>12345</external_agent_id></request>")
        .send()
        .await
        .unwrap();
    assert_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Unsupported Media Type",
    )
    .await;
    // An XML body is 415, answered in JSON.
    for accept in [
        "application/json",
        "application/xml, application/json;q=0.5",
    ] {
        let response = f
            .app
            .as_user(MAPPER, Method::PUT, &path(&f.agent, "Voice1"))
            .header(CONTENT_TYPE, "application/xml")
            .header(ACCEPT, accept)
            .body("<request><external_agent_id>12345</external_agent_id></request>")
            .send()
            .await
            .unwrap();
        let status = response.status();
        let content_type = content_type(&response);
        assert!(
            content_type.starts_with("application/json"),
            "{accept}: {content_type}"
        );
        if accept == "application/json" {
            assert_error(
                response,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported Media Type",
            )
            .await;
        } else {
            // An Accept that prefers XML is refused first.
            assert!(
                status == StatusCode::NOT_ACCEPTABLE
                    || status == StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{accept}: {status}"
            );
            let (_, body) = json_of(response).await;
            assert_eq!(body["status"], "failure", "{body}");
        }
    }
    assert!(mappings(&f.app, "").await.is_empty());
}

#[tokio::test]
async fn without_interaction_agent_is_403_and_without_credentials_401() {
    let f = fixture().await;
    f.app
        .user(
            "integrator",
            "integrator-password",
            &["awa_integration_user", "awa_agent"],
        )
        .await;
    let response = f
        .app
        .as_user(
            ("integrator", "integrator-password"),
            Method::PUT,
            &path(&f.agent, "Voice1"),
        )
        .json(&json!({"external_agent_id": "12345"}))
        .send()
        .await
        .unwrap();
    let detail = assert_error(response, StatusCode::FORBIDDEN, "User Not Authorized").await;
    assert_eq!(detail, "Failed API level ACL Validation", "{detail}");

    let response = f
        .app
        .anonymous(Method::PUT, &path(&f.agent, "Voice1"))
        .json(&json!({"external_agent_id": "12345"}))
        .send()
        .await
        .unwrap();
    assert!(response.headers().get(WWW_AUTHENTICATE).is_some());
    assert_error(response, StatusCode::UNAUTHORIZED, "User Not Authenticated").await;
    assert!(mappings(&f.app, "").await.is_empty());

    // A role containing interaction_agent is enough.
    f.app
        .user("manager", "manager-password", &["awa_manager"])
        .await;
    let response = f
        .app
        .as_user(
            ("manager", "manager-password"),
            Method::PUT,
            &path(&f.agent, "Voice1"),
        )
        .json(&json!({"external_agent_id": "12345"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn the_versioned_path_works() {
    let f = fixture().await;
    let versioned = format!(
        "/api/sn_ct_ctr_it_core/v1/agent_mapping/agent/{}/inboundId/Chat1",
        f.agent
    );
    let (status, body) = json_of(
        f.app
            .as_user(MAPPER, Method::PUT, &versioned)
            .json(&json!({"external_agent_id": "c-1"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(ids(&body).len(), 1);
    assert_eq!(body["result"]["message"], INSERTED);
    // The unversioned path sees the same record.
    let (status, again) = put(
        &f.app,
        &f.agent,
        "Chat1",
        json!({"external_agent_id": "c-2"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(ids(&again), ids(&body));
    assert_eq!(again["result"]["message"], UPDATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_parallel_first_mappings_create_one_record() {
    let f = fixture().await;
    let mut handles = Vec::new();
    for i in 0..16 {
        let request = f
            .app
            .as_user(MAPPER, Method::PUT, &path(&f.agent, "Chat1"))
            .json(&json!({"external_agent_id": format!("ext-{i}")}));
        handles.push(tokio::spawn(async move {
            json_of(request.send().await.unwrap()).await
        }));
    }
    let mut created = 0;
    let mut updated = 0;
    let mut all_ids = BTreeSet::new();
    for handle in handles {
        let (status, body) = handle.await.unwrap();
        assert!(!status.is_server_error(), "{status}: {body}");
        match status {
            StatusCode::CREATED => {
                created += 1;
                assert_eq!(body["result"]["message"], INSERTED);
            }
            StatusCode::OK => {
                updated += 1;
                assert_eq!(body["result"]["message"], UPDATED);
            }
            other => panic!("{other}: {body}"),
        }
        assert_eq!(body["result"]["status"], "success");
        let got = ids(&body);
        assert_eq!(got.len(), 1, "{body}");
        all_ids.extend(got);
    }
    assert_eq!((created, updated), (1, 15));
    assert_eq!(all_ids.len(), 1, "{all_ids:?}");

    let response = f
        .app
        .admin(
            Method::GET,
            &format!(
                "/api/now/table/external_agent_mapping?user={}&provider_application={}",
                f.agent, f.chat
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        response
            .headers()
            .get("x-total-count")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let (_, body) = json_of(response).await;
    let records = body["result"].as_array().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(Some(sys_id_of(&records[0])), all_ids.iter().next().cloned());
}

#[tokio::test]
async fn a_newly_active_identity_makes_the_call_an_insert_again() {
    let f = fixture().await;
    let (status, first) = put(
        &f.app,
        &f.agent,
        "Voice1",
        json!({"external_agent_id": "12345"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let response = f
        .app
        .admin(
            Method::PATCH,
            &format!(
                "/api/now/table/sys_cs_provider_application/{}",
                f.inactive_voice
            ),
        )
        .json(&json!({"active": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // One of the three is new: 201, and every mapping written is listed.
    let (status, second) = put(
        &f.app,
        &f.agent,
        "Voice1",
        json!({"external_agent_id": "12345"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["result"]["message"], INSERTED);
    let second_ids: BTreeSet<String> = ids(&second).into_iter().collect();
    assert_eq!(second_ids.len(), 3, "{second}");
    assert!(ids(&first).iter().all(|id| second_ids.contains(id)));
    let records = mappings(&f.app, &format!("user={}", f.agent)).await;
    assert_eq!(records.len(), 3);
    // Another agent on the same identities gets records of its own.
    let other = f.app.user("agent.two", "agent-two-password", &[]).await;
    let (status, third) = put(
        &f.app,
        &other,
        "Voice1",
        json!({"external_agent_id": "777"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{third}");
    let third_ids: BTreeSet<String> = ids(&third).into_iter().collect();
    assert_eq!(third_ids.len(), 3);
    assert!(third_ids.is_disjoint(&second_ids));
    assert_eq!(mappings(&f.app, "").await.len(), 6);
    // The first agent's records kept their external id.
    assert!(
        mappings(&f.app, &format!("user={}", f.agent))
            .await
            .iter()
            .all(|r| r["external_agent_id"] == "12345")
    );
}
