//! The Wrap Up API: codes (`GET /api/now/wrapup/code/{code_id}`, `POST /api/now/wrapup/code`)
//! and segments (`POST .../wrapup/segment/create`, `GET .../wrapup/segment/{segment_id}`,
//! `GET .../wrapup/segment/agent/{agent_id}/interaction/{interaction_id}`,
//! `PUT .../wrapup/segment/update`, `PUT .../wrapup/segment/update/ai`), role
//! `interaction_integration_user`, JSON and XML.

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_content_type, assert_error, assert_unauthenticated, fetch_records, json_of,
    sorted_keys, sys_id_of, text_of,
};

const CCAAS: (&str, &str) = ("ccaas", "ccaas-password");
const AGENT_LOGIN: (&str, &str) = ("agent", "agent-password");

const FAILURE_KEYS: [&str; 2] = ["error", "status"];
const SEGMENT_KEYS: [&str; 19] = [
    "agent",
    "ai_code_defined_at",
    "ai_notes",
    "ai_notes_defined_at",
    "ai_wrap_up_code",
    "awaiting_confirmation",
    "confirmed_on",
    "external",
    "interaction",
    "notes",
    "opened_on",
    "segment_id",
    "segment_table",
    "segmented",
    "state",
    "submitted_on",
    "sys_id",
    "wrap_up_configuration",
    "code",
];
const CODE_KEYS: [&str; 7] = [
    "active",
    "code",
    "description",
    "external",
    "sys_id",
    "translated_code",
    "translated_description",
];

/// An app with the integration user, an agent and an interaction.
struct World {
    app: TestApp,
    agent: String,
    interaction: String,
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    app.user(CCAAS.0, CCAAS.1, &["interaction_integration_user"])
        .await;
    let agent = app
        .user(AGENT_LOGIN.0, AGENT_LOGIN.1, &["interaction_agent"])
        .await;
    let interaction = sys_id_of(
        &app.insert(
            "interaction",
            json!({"type": "phone", "state": "work_in_progress", "assigned_to": agent}),
        )
        .await,
    );
    World {
        app,
        agent,
        interaction,
    }
}

impl World {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self
            .app
            .as_user(CCAAS, method, &format!("/api/now{path}"))
            .header(ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(&body);
        }
        json_of(request.send().await.unwrap()).await
    }

    async fn refused(&self, method: Method, path: &str, body: Option<Value>, message: &str) {
        let (status, answer) = self.call(method, path, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(sorted_keys(&answer), FAILURE_KEYS, "{answer}");
        assert_eq!(answer["status"], "failure", "{answer}");
        assert_eq!(answer["error"]["message"], message, "{answer}");
    }

    /// Creates the codes, checking the 200.
    async fn codes(&self, codes: Value) -> Value {
        let (status, answer) = self
            .call(Method::POST, "/wrapup/code", Some(json!({"codes": codes})))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer["result"]["result_map"]["created_wrap_up_codes"].clone()
    }

    /// An external create body for the agent and interaction.
    fn external(&self) -> Value {
        json!({
            "agent_sys_id": self.agent,
            "interaction_sys_id": self.interaction,
            "external": true,
            "external_segment_id": "EXT-SEG-001",
            "configuration": {
                "enable_codes": true,
                "allowed_codes": [
                    {"code": "Billing Issue", "translation": {"code": "Abrechnungsproblem", "language": "de"}},
                    {"code": "Store Issue"}
                ],
                "default_code": "Billing Issue"
            }
        })
    }

    async fn create(&self, body: Value) -> Value {
        let (status, answer) = self
            .call(Method::POST, "/wrapup/segment/create", Some(body))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer
    }

    /// A configuration record (Table API), returning its sys_id.
    async fn configuration(&self, fields: Value) -> String {
        sys_id_of(
            &self
                .app
                .insert("interaction_wrap_up_configuration", fields)
                .await,
        )
    }
}

fn keys(list: &[&str]) -> Vec<String> {
    let mut keys: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn wrap_up_codes_are_created_then_updated_by_label_and_read_back() {
    let w = world().await;
    let created = w
        .codes(json!([{
            "code": "Billing Issue",
            "description": "A code for billing issues",
            "translations": [{"language": "de", "code": "Abrechnungsproblem",
                              "description": "Ein code für Abrechnungsprobleme"}]
        }]))
        .await;
    let code = &created[0];
    assert_eq!(sorted_keys(code), keys(&CODE_KEYS), "{code}");
    let id = code["sys_id"].as_str().unwrap().to_owned();
    let expected = json!({
        "code": "Billing Issue", "description": "A code for billing issues", "active": true,
        "external": true, "sys_id": id, "translated_code": "Abrechnungsproblem",
        "translated_description": "Ein code für Abrechnungsprobleme"
    });
    assert_eq!(code, &expected);

    let (status, answer) = w
        .call(Method::GET, &format!("/wrapup/code/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer,
        json!({"result": {"message": "Wrap up code found.",
                          "result_map": {"wrap_up_code": expected}, "success": true}})
    );

    // The same label again updates the same code: inactive now, a French translation added.
    let again = w
        .codes(json!([{"code": "Billing Issue", "active": false,
                        "translations": [{"language": "fr", "code": "Problème de facturation"}]}]))
        .await;
    assert_eq!(again[0]["sys_id"], id.as_str());
    assert_eq!(again[0]["active"], false);
    assert_eq!(again[0]["description"], "A code for billing issues");
    let stored = fetch_records(&w.app, "interaction_wrap_up_code", "").await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["sys_created_by"], CCAAS.0);

    // The versioned paths serve the same.
    for prefix in ["v1", "v2"] {
        let (status, _) = w
            .call(Method::GET, &format!("/{prefix}/wrapup/code/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{prefix}");
    }
    w.refused(
        Method::GET,
        "/wrapup/code/0123456789abcdef0123456789abcdef",
        None,
        "Wrap up code not found: 0123456789abcdef0123456789abcdef",
    )
    .await;
}

#[tokio::test]
async fn wrap_up_codes_partly_valid_answer_207_and_none_valid_400() {
    let w = world().await;
    let (status, answer) = w
        .call(
            Method::POST,
            "/wrapup/code",
            Some(json!({"codes": [
                {"code": "Store Issue"},
                {"description": "no label"},
                {"code": "Refund", "description": "d", "translations": [{"language": "de", "code": "Erstattung"}]},
                {"code": "Plan", "translations": [{"code": "Tarif"}]},
                {"code": "Cancel", "translations": [{"language": "german", "code": "Kündigung"}]},
                {"code": "Late", "active": "perhaps"}
            ]})),
        )
        .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{answer}");
    let result = &answer["result"];
    assert_eq!(
        result["message"],
        "Some wrap up codes created successfully. Validation errors occurred while creating others."
    );
    assert_eq!(result["success"], true);
    let created = result["result_map"]["created_wrap_up_codes"]
        .as_array()
        .unwrap();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["code"], "Store Issue");
    assert_eq!(created[0]["translated_code"], "Store Issue");
    assert_eq!(
        result["result_map"]["failed_wrap_up_codes"],
        json!([
            {"code": "", "message": "Missing required field: code"},
            {"code": "Refund", "message": "Missing required field: translations.description"},
            {"code": "Plan", "message": "Missing required field: translations.language"},
            {"code": "Cancel", "message": "Field translations.language must be a two-letter language code: german"},
            {"code": "Late", "message": "Field active must be a boolean"}
        ])
    );

    let (status, answer) = w
        .call(
            Method::POST,
            "/wrapup/code",
            Some(json!({"codes": [{"code": ""}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(
        answer,
        json!({"error": {"message": "No wrap up codes created.",
                         "detail": "Missing required field: code"}, "status": "failure"})
    );
    for body in [json!({}), json!({"codes": []})] {
        w.refused(
            Method::POST,
            "/wrapup/code",
            Some(body),
            "Missing required field: codes",
        )
        .await;
    }
    w.refused(
        Method::POST,
        "/wrapup/code",
        Some(json!({"codes": "Billing"})),
        "Field codes must be a list",
    )
    .await;
}

#[tokio::test]
async fn wrap_up_an_external_segment_is_created_updated_by_ai_closed_and_read() {
    let w = world().await;
    let mut body = w.external();
    body["ai_wrap_up_code"] = json!("Billing Issue");
    body["ai_notes"] = json!("Customer called about an incorrect charge.");
    body["configuration"]["enable_ai_code"] = json!(true);
    body["configuration"]["enable_ai_notes"] = json!(true);
    body["configuration"]["use_third_party_ai"] = json!(true);
    let created = w.create(body).await;
    assert_eq!(
        sorted_keys(&created),
        ["message", "segment", "success", "sys_id"]
    );
    assert_eq!(created["success"], true);
    assert_eq!(created["message"], "Wrap-up segment created successfully.");
    let segment = &created["segment"];
    let id = created["sys_id"].as_str().unwrap().to_owned();
    // No code until the agent closes it.
    let mut open_keys = keys(&SEGMENT_KEYS);
    open_keys.retain(|k| k != "code");
    assert_eq!(sorted_keys(segment), open_keys, "{segment}");
    assert_eq!(segment["sys_id"], id.as_str());
    assert_eq!(segment["state"], "open");
    assert_eq!(segment["external"], true);
    assert_eq!(segment["agent"], w.agent.as_str());
    assert_eq!(segment["interaction"], w.interaction.as_str());
    assert_eq!(segment["ai_wrap_up_code"], "Billing Issue");
    let defined_at = segment["ai_code_defined_at"].as_str().unwrap();
    assert!(
        defined_at.len() == 13 && defined_at.chars().all(|c| c.is_ascii_digit()),
        "{defined_at}"
    );
    let config = &segment["wrap_up_configuration"];
    assert_eq!(
        sorted_keys(config),
        [
            "allowed_codes",
            "default_code",
            "enable_ai_code",
            "enable_ai_notes",
            "enable_codes",
            "use_ai_as_default",
            "use_third_party_ai"
        ]
    );
    let allowed = config["allowed_codes"].as_array().unwrap();
    assert_eq!(allowed.len(), 2);
    assert_eq!(allowed[0]["code"], "Billing Issue");
    assert_eq!(allowed[0]["translated_code"], "Abrechnungsproblem");
    assert_eq!(allowed[0]["external"], true);
    assert_eq!(allowed[1]["code"], "Store Issue");
    assert_eq!(config["default_code"], allowed[0]);
    // Codes an external configuration names are created by label.
    assert_eq!(
        fetch_records(&w.app, "interaction_wrap_up_code", "")
            .await
            .len(),
        2
    );

    // update/ai stores the external system's recommendations.
    let (status, answer) = w
        .call(
            Method::PUT,
            "/wrapup/segment/update/ai",
            Some(
                json!({"segment_sys_id": id, "ai_wrap_up_code": "Plan Update",
                        "ai_notes": "Customer requested an upgrade to the Premium plan."}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(sorted_keys(&answer), ["message", "segment", "success"]);
    assert_eq!(answer["message"], "AI wrap-up data updated successfully.");
    assert_eq!(
        sorted_keys(&answer["segment"]),
        [
            "agent",
            "ai_code_defined_at",
            "ai_notes",
            "ai_notes_defined_at",
            "ai_wrap_up_code",
            "interaction",
            "sys_id"
        ]
    );
    assert_eq!(answer["segment"]["ai_wrap_up_code"], "Plan Update");
    assert_eq!(
        answer["segment"]["ai_notes"],
        "Customer requested an upgrade to the Premium plan."
    );

    // The agent closes it with a code, by the external system's id.
    let (status, answer) = w
        .call(
            Method::PUT,
            "/wrapup/segment/update?external_segment_id=EXT-SEG-001",
            Some(
                json!({"wrap_up_code": "Store Issue", "notes": "Card expired.",
                        "confirmed_on": "2024-09-16 18:52:01"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        sorted_keys(&answer),
        ["message", "segment", "success", "sys_id"]
    );
    assert_eq!(answer["message"], "Wrap-up segment updated successfully.");
    let closed = &answer["segment"];
    assert_eq!(sorted_keys(closed), keys(&SEGMENT_KEYS), "{closed}");
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["code"]["code"], "Store Issue");
    assert_eq!(closed["notes"], "Card expired.");
    assert_eq!(closed["confirmed_on"], "2024-09-16 18:52:01");
    assert_eq!(closed["awaiting_confirmation"], false);
    assert!(
        closed["submitted_on"].as_str().unwrap().len() == 19,
        "{closed}"
    );

    // Read back by sys_id, by the external id, and by agent and interaction.
    for path in [
        format!("/wrapup/segment/{id}"),
        "/wrapup/segment/EXT-SEG-001".to_owned(),
        format!(
            "/wrapup/segment/agent/{}/interaction/{}",
            w.agent, w.interaction
        ),
        format!("/v1/wrapup/segment/{id}"),
    ] {
        let (status, answer) = w.call(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        assert_eq!(
            sorted_keys(&answer),
            ["message", "segment", "segment_id", "success"]
        );
        assert_eq!(answer["message"], "Wrap up segment retrieved successfully.");
        assert_eq!(answer["segment_id"], id.as_str());
        assert_eq!(&answer["segment"], closed, "{path}");
    }

    // Closed: no second update, no AI update.
    let message = format!("Wrap up segment {id} is already closed");
    w.refused(
        Method::PUT,
        &format!("/wrapup/segment/update?segment_sys_id={id}"),
        Some(json!({})),
        &message,
    )
    .await;
    w.refused(
        Method::PUT,
        "/wrapup/segment/update/ai",
        Some(json!({"segment_sys_id": id, "ai_notes": "late"})),
        &message,
    )
    .await;
}

#[tokio::test]
async fn wrap_up_an_internal_segment_follows_its_configuration() {
    let w = world().await;
    let codes = w
        .codes(json!([{"code": "Sale"}, {"code": "No sale"}, {"code": "Other"}]))
        .await;
    let id = |i: usize| codes[i]["sys_id"].as_str().unwrap().to_owned();
    let config = w
        .configuration(json!({"name": "Sales", "enable_codes": true,
                               "allowed_codes": format!("{},{}", id(0), id(1)),
                               "enable_ai_code": true, "use_ai_as_default": true}))
        .await;
    let create = json!({"agent_sys_id": w.agent, "interaction_sys_id": w.interaction,
                        "wrap_up_configuration_sys_id": config,
                        "ai_wrap_up_code": "No sale", "ai_notes": "not enabled: not stored",
                        "opened_on": "2024-09-16 17:52:01"});
    let created = w.create(create.clone()).await;
    let segment = &created["segment"];
    assert_eq!(segment["external"], false);
    assert_eq!(segment["opened_on"], "2024-09-16 17:52:01");
    assert_eq!(segment["ai_wrap_up_code"], "No sale");
    assert_eq!(segment["ai_notes"], "");
    assert_eq!(segment["ai_notes_defined_at"], "");
    assert!(
        segment["wrap_up_configuration"]
            .get("default_code")
            .is_none()
    );
    let segment_id = created["sys_id"].as_str().unwrap().to_owned();
    let update = format!("/wrapup/segment/update?segment_sys_id={segment_id}");

    // A code outside the allowed ones, an unknown one; third-party AI is not taken.
    w.refused(
        Method::PUT,
        &update,
        Some(json!({"wrap_up_code": "Other"})),
        "Wrap up code Other is not allowed for this segment",
    )
    .await;
    w.refused(
        Method::PUT,
        &update,
        Some(json!({"wrap_up_code": "Nothing"})),
        "Wrap up code not found: Nothing",
    )
    .await;
    w.refused(
        Method::PUT,
        "/wrapup/segment/update/ai",
        Some(json!({"segment_sys_id": segment_id, "ai_notes": "n"})),
        &format!(
            "Third-party AI is not enabled on the wrap up configuration of segment {segment_id}"
        ),
    )
    .await;

    // Without a code, the AI's recommendation is the default (use_ai_as_default).
    let (status, answer) = w
        .call(
            Method::PUT,
            &format!(
                "/wrapup/segment/update?agent_sys_id={}&interaction_sys_id={}",
                w.agent, w.interaction
            ),
            Some(json!({"notes": "Done"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["segment"]["code"]["code"], "No sale");
    assert_eq!(answer["segment"]["awaiting_confirmation"], false);

    // A configuration that requires a code, without a default, refuses a closing without one.
    let strict = w
        .configuration(json!({"name": "Strict", "enable_codes": true}))
        .await;
    let mut create = create;
    create["wrap_up_configuration_sys_id"] = json!(strict);
    create["opened_on"] = json!("2024-09-16 18:00:00");
    let second = w.create(create).await;
    let second_id = second["sys_id"].as_str().unwrap();
    w.refused(
        Method::PUT,
        &format!("/wrapup/segment/update?segment_sys_id={second_id}"),
        Some(json!({})),
        "A wrap up code is required",
    )
    .await;
    // The agent's most recent segment of the interaction is the second.
    let (_, answer) = w
        .call(
            Method::GET,
            &format!(
                "/wrapup/segment/agent/{}/interaction/{}",
                w.agent, w.interaction
            ),
            None,
        )
        .await;
    assert_eq!(answer["segment_id"], second_id);
}

#[tokio::test]
async fn wrap_up_an_external_segment_without_confirmation_awaits_it() {
    let w = world().await;
    let created = w.create(w.external()).await;
    let id = created["sys_id"].as_str().unwrap();
    let (status, answer) = w
        .call(
            Method::PUT,
            &format!("/wrapup/segment/update?segment_sys_id={id}"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // The configured default code, and awaiting the external system's confirmation.
    assert_eq!(answer["segment"]["code"]["code"], "Billing Issue");
    assert_eq!(answer["segment"]["awaiting_confirmation"], true);
    assert_eq!(answer["segment"]["confirmed_on"], "");
}

#[tokio::test]
async fn wrap_up_create_refuses_each_documented_mistake_in_order() {
    let w = world().await;
    let (a, i) = (w.agent.clone(), w.interaction.clone());
    let unknown = "0123456789abcdef0123456789abcdef";
    let cases: Vec<(Value, String)> = vec![
        (json!({}), "Missing required field: agent_sys_id".into()),
        (
            json!({"agent_sys_id": a, "ai_wrap_up_code": {"x": 1}}),
            "Field ai_wrap_up_code must be a string".into(),
        ),
        (
            json!({"agent_sys_id": a, "ai_notes": "n".repeat(4001)}),
            "Field ai_notes exceeds the maximum length of 4000 characters".into(),
        ),
        (
            json!({"agent_sys_id": a, "external": true}),
            "Missing required field: configuration".into(),
        ),
        (
            json!({"agent_sys_id": a, "external": true, "configuration": "x"}),
            "Field configuration must be an object".into(),
        ),
        (
            json!({"agent_sys_id": a, "external": true, "configuration": {"enable_codes": true}}),
            "Missing required field: configuration.allowed_codes".into(),
        ),
        (
            json!({"agent_sys_id": a, "external": true,
                   "configuration": {"enable_codes": true, "allowed_codes": [{"code": "A"}]}}),
            "Missing required field: configuration.default_code".into(),
        ),
        (
            json!({"agent_sys_id": a, "external": true,
                   "configuration": {"allowed_codes": [{"translation": {}}]}}),
            "Missing required field: configuration.allowed_codes.code".into(),
        ),
        (
            json!({"agent_sys_id": a, "external": true, "configuration": {"duration": "abc"}}),
            "Field configuration.duration must be a whole number of seconds".into(),
        ),
        (
            json!({"agent_sys_id": a, "external": true, "configuration": {"duration": "60"}}),
            "Missing required field: configuration.show_timer".into(),
        ),
        (
            json!({"agent_sys_id": a, "external": true, "configuration": {"enable_ai_code": "sometimes"}}),
            "Field configuration.enable_ai_code must be a boolean".into(),
        ),
        (
            json!({"agent_sys_id": a, "external": true, "configuration": {}}),
            "Missing required field: external_segment_id".into(),
        ),
        (
            json!({"agent_sys_id": a, "external": "maybe"}),
            "Field external must be a boolean".into(),
        ),
        (
            json!({"agent_sys_id": a}),
            "Missing required field: interaction_sys_id".into(),
        ),
        (
            json!({"agent_sys_id": a, "interaction_sys_id": i, "opened_on": "yesterday"}),
            "Field opened_on must be a date and time (YYYY-MM-DD HH:MM:SS)".into(),
        ),
        (
            json!({"agent_sys_id": a, "interaction_sys_id": i, "external": true,
                   "external_segment_id": "E",
                   "configuration": {"duration": 60, "show_timer": true}}),
            "Missing required field: opened_on".into(),
        ),
        (
            json!({"agent_sys_id": a, "interaction_sys_id": i, "external": true,
                   "external_segment_id": "E", "configuration": {}, "segmented": true}),
            "Missing required field: segment_id".into(),
        ),
        (
            json!({"agent_sys_id": a, "interaction_sys_id": i, "external": true,
                   "external_segment_id": "E", "configuration": {}, "segmented": true,
                   "segment_id": "S"}),
            "Missing required field: segment_table".into(),
        ),
        (
            json!({"agent_sys_id": a, "interaction_sys_id": i}),
            "Missing required field: wrap_up_configuration_sys_id".into(),
        ),
        // Then the records named: the interaction, the agent, the configuration.
        (
            json!({"agent_sys_id": a, "interaction_sys_id": unknown,
                   "wrap_up_configuration_sys_id": unknown}),
            format!("Interaction not found: {unknown}"),
        ),
        (
            json!({"agent_sys_id": unknown, "interaction_sys_id": i,
                   "wrap_up_configuration_sys_id": unknown}),
            format!("Agent not found: {unknown}"),
        ),
        (
            json!({"agent_sys_id": a, "interaction_sys_id": i,
                   "wrap_up_configuration_sys_id": unknown}),
            format!("Wrap up configuration not found: {unknown}"),
        ),
        (
            json!({"agent_sys_id": a, "interaction_sys_id": i, "external": true,
                   "external_segment_id": "E",
                   "configuration": {"allowed_codes": [{"code": "A"}], "default_code": "B"}}),
            "Default code B is not one of the allowed codes".into(),
        ),
    ];
    for (body, message) in cases {
        w.refused(Method::POST, "/wrapup/segment/create", Some(body), &message)
            .await;
    }
    // Nothing was written by any of them.
    assert!(
        fetch_records(&w.app, "interaction_wrap_up_segment", "")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn wrap_up_updates_refuse_what_names_no_open_segment() {
    let w = world().await;
    let unknown = "0123456789abcdef0123456789abcdef";
    w.refused(
        Method::PUT,
        "/wrapup/segment/update",
        Some(json!({})),
        "Missing required field: agent_sys_id (with interaction_sys_id, when neither segment_sys_id nor external_segment_id is given)",
    )
    .await;
    w.refused(
        Method::PUT,
        "/wrapup/segment/update?agent_sys_id=a",
        Some(json!({})),
        "Missing required field: interaction_sys_id (with agent_sys_id, when neither segment_sys_id nor external_segment_id is given)",
    )
    .await;
    w.refused(
        Method::PUT,
        &format!("/wrapup/segment/update?segment_sys_id={unknown}"),
        Some(json!({})),
        "Wrap up segment not found",
    )
    .await;
    w.refused(
        Method::PUT,
        &format!("/wrapup/segment/update?segment_sys_id={unknown}"),
        Some(json!({"confirmed_on": "soon"})),
        "Field confirmed_on must be a date and time (YYYY-MM-DD HH:MM:SS)",
    )
    .await;
    w.refused(
        Method::PUT,
        "/wrapup/segment/update/ai",
        Some(json!({"agent_sys_id": w.agent})),
        "Missing required field: interaction_sys_id (with agent_sys_id, when neither segment_sys_id nor external_segment_id is given)",
    )
    .await;
    w.refused(
        Method::PUT,
        "/wrapup/segment/update/ai",
        Some(json!({"external_segment_id": "nothing"})),
        "Missing required field: ai_wrap_up_code or ai_notes",
    )
    .await;
    w.refused(
        Method::PUT,
        "/wrapup/segment/update/ai",
        Some(json!({"external_segment_id": "nothing", "ai_notes": "n".repeat(4001)})),
        "Field ai_notes exceeds the maximum length of 4000 characters",
    )
    .await;
    w.refused(
        Method::PUT,
        "/wrapup/segment/update/ai",
        Some(json!({"external_segment_id": "nothing", "ai_notes": "n"})),
        "Wrap up segment not found",
    )
    .await;
    w.refused(
        Method::GET,
        &format!("/wrapup/segment/{unknown}"),
        None,
        &format!("Wrap up segment not found: {unknown}"),
    )
    .await;
    w.refused(
        Method::GET,
        &format!("/wrapup/segment/agent/{}/interaction/{unknown}", w.agent),
        None,
        &format!(
            "Wrap up segment not found for agent {} and interaction {unknown}",
            w.agent
        ),
    )
    .await;
}

#[tokio::test]
async fn wrap_up_hostile_ids_are_400s_not_500s() {
    let w = world().await;
    for path in [
        "/wrapup/code/a%00b",
        "/wrapup/segment/a%00b",
        "/wrapup/segment/agent/a%00b/interaction/c%00d",
    ] {
        let (status, answer) = w.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {answer}");
        assert_eq!(answer["status"], "failure", "{answer}");
    }
    let (status, answer) = w
        .call(
            Method::PUT,
            "/wrapup/segment/update?segment_sys_id=a%00b",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    w.refused(
        Method::POST,
        "/wrapup/segment/create",
        Some(json!({"agent_sys_id": "a\0b"})),
        "Field agent_sys_id may not contain NUL characters",
    )
    .await;
}

#[tokio::test]
async fn wrap_up_speaks_xml_both_ways() {
    let w = world().await;
    let xml = format!(
        "<request><agent_sys_id>{}</agent_sys_id><interaction_sys_id>{}</interaction_sys_id>\
         <external>true</external><external_segment_id>X-1</external_segment_id>\
         <configuration><enable_codes>true</enable_codes>\
         <allowed_codes><code>Billing Issue</code></allowed_codes>\
         <default_code>Billing Issue</default_code></configuration></request>",
        w.agent, w.interaction
    );
    let response = w
        .app
        .as_user(CCAAS, Method::POST, "/api/now/wrapup/segment/create")
        .header(CONTENT_TYPE, "application/xml")
        .header(ACCEPT, "application/xml")
        .body(xml)
        .send()
        .await
        .unwrap();
    assert_content_type(&response, "application/xml");
    let (status, text) = text_of(response).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    // Bare: the answer's fields straight inside <response>.
    assert!(
        text.contains(
            "<response><message>Wrap-up segment created successfully.</message><segment>"
        ),
        "{text}"
    );
    assert!(
        text.contains("</segment><success>true</success><sys_id>"),
        "{text}"
    );
    assert!(text.contains("<state>open</state>"), "{text}");
    assert!(
        text.contains("<allowed_codes><active>true</active><code>Billing Issue</code>"),
        "{text}"
    );

    // Codes in XML, answered inside <result>.
    let response = w
        .app
        .as_user(CCAAS, Method::POST, "/api/now/wrapup/code")
        .header(CONTENT_TYPE, "application/xml")
        .header(ACCEPT, "application/xml")
        .body("<request><codes><code>Store Issue</code><active>false</active></codes></request>")
        .send()
        .await
        .unwrap();
    let (status, text) = text_of(response).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains(
            "<response><result><message>All wrap up codes created successfully.</message>"
        ),
        "{text}"
    );
    assert!(text.contains("<active>false</active>"), "{text}");

    // A refusal in XML is the error envelope.
    let response = w
        .app
        .as_user(CCAAS, Method::POST, "/api/now/wrapup/segment/create")
        .header(CONTENT_TYPE, "application/xml")
        .header(ACCEPT, "application/xml")
        .body("<request><agent_sys_id></agent_sys_id></request>")
        .send()
        .await
        .unwrap();
    let (status, text) = text_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(
        text.contains("<error><message>Missing required field: agent_sys_id</message>"),
        "{text}"
    );
}

#[tokio::test]
async fn wrap_up_needs_the_integration_role() {
    let w = world().await;
    let paths = [
        (Method::GET, "/api/now/wrapup/code/abc"),
        (Method::POST, "/api/now/wrapup/code"),
        (Method::POST, "/api/now/wrapup/segment/create"),
        (Method::GET, "/api/now/wrapup/segment/abc"),
        (Method::GET, "/api/now/wrapup/segment/agent/a/interaction/i"),
        (Method::PUT, "/api/now/wrapup/segment/update"),
        (Method::PUT, "/api/now/wrapup/segment/update/ai"),
    ];
    for (method, path) in paths {
        let response = w
            .app
            .anonymous(method.clone(), path)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_unauthenticated(response).await;
        let response = w
            .app
            .as_user(AGENT_LOGIN, method, path)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let detail = assert_error(response, StatusCode::FORBIDDEN, "User Not Authorized").await;
        assert_eq!(detail, "Failed API level ACL Validation", "{path}");
    }
}

#[tokio::test]
async fn wrap_up_an_unreadable_body_is_the_platforms_400() {
    let w = world().await;
    let response = w
        .app
        .as_user(CCAAS, Method::POST, "/api/now/wrapup/code")
        .header(CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(
        response,
        StatusCode::BAD_REQUEST,
        "Exception while reading request",
    )
    .await;
}

#[tokio::test]
async fn wrap_up_concurrent_writers_of_one_new_label_make_one_code() {
    let w = world().await;
    let post = |codes: Value| {
        w.app
            .as_user(CCAAS, Method::POST, "/api/now/wrapup/code")
            .json(&json!({"codes": codes}))
            .send()
    };
    // Two writers naming the same two new labels in opposite orders.
    let (a, b) = tokio::join!(
        post(json!([{"code": "Alpha"}, {"code": "Beta"}])),
        post(json!([{"code": "Beta"}, {"code": "Alpha"}]))
    );
    for response in [a.unwrap(), b.unwrap()] {
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let stored = fetch_records(&w.app, "interaction_wrap_up_code", "").await;
    assert_eq!(stored.len(), 2, "{stored:?}");
}
