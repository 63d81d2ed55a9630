//! The Interaction Management API: creating interactions (`POST /api/now/interaction`) and
//! closing them (`POST /api/now/interaction/{id}/close`), as the seed page and SPEC describe.

use std::collections::BTreeSet;

use reqwest::header::{ACCEPT, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_content_type, assert_error, assert_interaction_keys, assert_unreadable_request,
    chat_connector, fetch_record, fetch_records, is_sys_id, json_of, phone_connector, stored_json,
    sys_id_of,
};

const CREATE: &str = "/api/now/interaction";
const AGENT: (&str, &str) = ("agent", "agent-password");

/// A server with an agent, a plain (not third-party) phone connector, a third-party chat
/// connector and a queue.
struct Fixture {
    app: TestApp,
    agent: String,
    phone: String,
    chat: String,
    queue: String,
}

async fn fixture() -> Fixture {
    let app = TestApp::spawn().await;
    let agent = app.user(AGENT.0, AGENT.1, &["interaction_agent"]).await;
    let phone = phone_connector(&app).await;
    let chat = chat_connector(&app).await;
    let queue = sys_id_of(
        &app.insert("awa_queue", json!({"name": "Support", "active": true}))
            .await,
    );
    Fixture {
        app,
        agent,
        phone,
        chat,
        queue,
    }
}

/// POSTs `body` as `who` to `path`; status and JSON body.
async fn post_as(
    app: &TestApp,
    who: (&str, &str),
    path: &str,
    body: &Value,
) -> (StatusCode, Value) {
    json_of(
        app.as_user(who, Method::POST, path)
            .json(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Creates an interaction as the agent and returns its `result` (asserting 201).
async fn create(f: &Fixture, body: Value) -> Value {
    let (status, response) = post_as(&f.app, AGENT, CREATE, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{body} -> {response}");
    response["result"].clone()
}

/// Closes an interaction as `who`; status and body.
async fn close_as(app: &TestApp, who: (&str, &str), path: &str) -> (StatusCode, Value) {
    json_of(
        app.as_user(who, Method::POST, path)
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn close_path(id: &str) -> String {
    format!("/api/now/interaction/{id}/close")
}

fn is_number(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        s.len() == 10 && s.starts_with("IMS") && s[3..].chars().all(|c| c.is_ascii_digit())
    })
}

// ---------------------------------------------------------------------------------------------
// Creating
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_with_a_queue_answers_201_with_exactly_the_sample_keys_and_values() {
    let f = fixture().await;
    let result = create(&f, json!({"channel": f.phone, "queue": f.queue})).await;
    assert_interaction_keys(&result);
    assert_eq!(result["channel"], f.phone.as_str());
    assert_eq!(result["queue"], f.queue.as_str());
    assert_eq!(result["state"], "queued");
    assert!(is_number(&result["number"]), "{result}");
    assert!(is_sys_id(&result["sys_id"]), "{result}");
    assert_eq!(result["contextTable"], "interaction_json_blob");
    assert_eq!(result["channelMetadataTable"], "live_group_profile");
    assert!(is_sys_id(&result["contextDocument"]), "{result}");
    assert!(is_sys_id(&result["channelMetadataDocument"]), "{result}");
    assert_eq!(result["context"], json!({"present": true}));
    assert_eq!(result["channel_metadata"], json!({"present": true}));
    assert_eq!(result["assigned_to"], "");
    assert_eq!(result["closed_by"], "");
    assert_eq!(result["opened_for"], "");

    // The documents behind the response exist.
    let blob = fetch_record(
        &f.app,
        "interaction_json_blob",
        result["contextDocument"].as_str().unwrap(),
    )
    .await;
    assert!(blob.is_some(), "no interaction_json_blob behind {result}");
    let profile = fetch_record(
        &f.app,
        "live_group_profile",
        result["channelMetadataDocument"].as_str().unwrap(),
    )
    .await;
    assert!(profile.is_some(), "no live_group_profile behind {result}");

    // The stored interaction agrees, and the caller opened it.
    let stored = fetch_record(&f.app, "interaction", &sys_id_of(&result))
        .await
        .expect("the interaction is stored");
    assert_eq!(stored["number"], result["number"]);
    assert_eq!(stored["state"], "queued");
    assert_eq!(stored["active"], "true");
    assert_eq!(stored["opened_by"], f.agent.as_str());
    assert_eq!(stored["channel"], f.phone.as_str());
    assert_eq!(stored["queue"], f.queue.as_str());
    assert_eq!(stored["context_table"], "interaction_json_blob");
    assert_eq!(stored["context_document"], result["contextDocument"]);
    assert_eq!(stored["channel_metadata_table"], "live_group_profile");
    assert_eq!(
        stored["channel_metadata_document"],
        result["channelMetadataDocument"]
    );
    assert_ne!(stored["opened_at"], "", "{stored}");
    assert_eq!(stored["closed_at"], "");
}

#[tokio::test]
async fn create_without_a_queue_is_new_with_an_empty_queue() {
    let f = fixture().await;
    let result = create(&f, json!({"channel": f.phone})).await;
    assert_interaction_keys(&result);
    assert_eq!(result["state"], "new");
    assert_eq!(result["queue"], "");
    assert_eq!(result["context"], json!({"present": true}));
    assert_eq!(result["channel_metadata"], json!({"present": true}));
    let stored = fetch_record(&f.app, "interaction", &sys_id_of(&result))
        .await
        .unwrap();
    assert_eq!(stored["state"], "new");
    assert_eq!(stored["queue"], "");
}

#[tokio::test]
async fn numbers_are_ims_and_seven_digits_and_increase() {
    let f = fixture().await;
    let mut numbers = Vec::new();
    for _ in 0..3 {
        let result = create(&f, json!({"channel": f.phone})).await;
        assert!(is_number(&result["number"]), "{result}");
        numbers.push(result["number"].as_str().unwrap().to_owned());
    }
    let mut sorted = numbers.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, numbers, "numbers are distinct and increasing");
}

#[tokio::test]
async fn context_and_channel_metadata_objects_are_stored_and_echoed() {
    let f = fixture().await;
    let context = json!({"customer": "Ada", "priority": 2, "tags": ["vip"]});
    let metadata = json!({"locale": "en_GB", "nested": {"a": true}});
    let result = create(
        &f,
        json!({"channel": f.chat, "queue": f.queue, "context": context, "channel_metadata": metadata}),
    )
    .await;
    assert_interaction_keys(&result);
    assert_eq!(result["context"], context);
    assert_eq!(result["channel_metadata"], metadata);
    assert_eq!(result["contextTable"], "interaction_json_blob");
    assert_eq!(result["channelMetadataTable"], "live_group_profile");

    let blob = fetch_record(
        &f.app,
        "interaction_json_blob",
        result["contextDocument"].as_str().unwrap(),
    )
    .await
    .expect("context blob");
    assert_eq!(stored_json(&blob["value"]), context);
    let profile = fetch_record(
        &f.app,
        "live_group_profile",
        result["channelMetadataDocument"].as_str().unwrap(),
    )
    .await
    .expect("live_group_profile");
    assert_eq!(stored_json(&profile["metadata"]), metadata);
}

#[tokio::test]
async fn a_table_and_id_pair_is_kept_as_given() {
    let f = fixture().await;
    let context_id = "0123456789abcdef0123456789abcdef";
    let metadata_id = "fedcba9876543210fedcba9876543210";
    let result = create(
        &f,
        json!({
            "channel": f.phone,
            "context_table": "incident", "context_id": context_id,
            "channel_metadata_table": "sys_cs_channel_profile",
            "channel_metadata_id": metadata_id,
        }),
    )
    .await;
    assert_interaction_keys(&result);
    assert_eq!(result["contextTable"], "incident");
    assert_eq!(result["contextDocument"], context_id);
    assert_eq!(result["channelMetadataTable"], "sys_cs_channel_profile");
    assert_eq!(result["channelMetadataDocument"], metadata_id);
    assert_eq!(result["context"], json!({"present": true}));
    assert_eq!(result["channel_metadata"], json!({"present": true}));
    let stored = fetch_record(&f.app, "interaction", &sys_id_of(&result))
        .await
        .unwrap();
    assert_eq!(stored["context_table"], "incident");
    assert_eq!(stored["context_document"], context_id);
    assert_eq!(stored["channel_metadata_table"], "sys_cs_channel_profile");
    assert_eq!(stored["channel_metadata_document"], metadata_id);
    // No default documents were made for a given pair.
    assert!(
        fetch_records(&f.app, "interaction_json_blob", "")
            .await
            .is_empty()
    );
    assert!(
        fetch_records(&f.app, "live_group_profile", "")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn opened_for_is_echoed_and_stored() {
    let f = fixture().await;
    let customer = f.app.user("customer", "customer-password", &[]).await;
    let result = create(&f, json!({"channel": f.phone, "opened_for": customer})).await;
    assert_eq!(result["opened_for"], customer.as_str());
    let stored = fetch_record(&f.app, "interaction", &sys_id_of(&result))
        .await
        .unwrap();
    assert_eq!(stored["opened_for"], customer.as_str());
    assert_eq!(stored["opened_by"], f.agent.as_str());
}

#[tokio::test]
async fn versioned_paths_create_too() {
    let f = fixture().await;
    for path in ["/api/now/v1/interaction", "/api/now/v2/interaction"] {
        let (status, body) = post_as(
            &f.app,
            AGENT,
            path,
            &json!({"channel": f.phone, "queue": f.queue}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{path}: {body}");
        assert_interaction_keys(&body["result"]);
        assert_eq!(body["result"]["state"], "queued", "{path}");
    }
    assert_eq!(fetch_records(&f.app, "interaction", "").await.len(), 2);
}

#[tokio::test]
async fn a_third_party_channel_opens_a_conversation_and_a_plain_one_does_not() {
    let f = fixture().await;
    let chat = create(&f, json!({"channel": f.chat, "queue": f.queue})).await;
    let id = sys_id_of(&chat);
    let conversations =
        fetch_records(&f.app, "sys_cs_conversation", &format!("interaction={id}")).await;
    assert_eq!(conversations.len(), 1, "{conversations:?}");
    assert_eq!(conversations[0]["state"], "open");
    assert_eq!(conversations[0]["interaction"], id);

    let phone = create(&f, json!({"channel": f.phone, "queue": f.queue})).await;
    let id = sys_id_of(&phone);
    let conversations =
        fetch_records(&f.app, "sys_cs_conversation", &format!("interaction={id}")).await;
    assert!(conversations.is_empty(), "{conversations:?}");
    assert_eq!(
        fetch_records(&f.app, "sys_cs_conversation", "").await.len(),
        1
    );
}

#[tokio::test]
async fn bad_requests_are_400_invalid_request_and_create_nothing() {
    let f = fixture().await;
    let unknown = "0000000000000000000000000000dead";
    let cases = [
        ("missing channel", json!({"queue": f.queue})),
        ("empty channel", json!({"channel": "", "queue": f.queue})),
        ("unknown channel", json!({"channel": unknown})),
        (
            "unknown queue",
            json!({"channel": f.phone, "queue": unknown}),
        ),
        (
            "context_table without context_id",
            json!({"channel": f.phone, "context_table": "incident"}),
        ),
        (
            "context_id without context_table",
            json!({"channel": f.phone, "context_id": unknown}),
        ),
        (
            "channel_metadata_id without its table",
            json!({"channel": f.phone, "channel_metadata_id": unknown}),
        ),
        (
            "channel_metadata_table without its id",
            json!({"channel": f.phone, "channel_metadata_table": "live_group_profile"}),
        ),
        (
            "context is an array",
            json!({"channel": f.phone, "context": [1, 2]}),
        ),
        (
            "context is a number",
            json!({"channel": f.phone, "context": 5}),
        ),
        (
            "channel_metadata is an array",
            json!({"channel": f.phone, "channel_metadata": ["x"]}),
        ),
    ];
    for (what, body) in cases {
        let response = f
            .app
            .as_user(AGENT, Method::POST, CREATE)
            .json(&body)
            .send()
            .await
            .unwrap();
        let detail = assert_error(response, StatusCode::BAD_REQUEST, "Invalid request").await;
        assert!(
            detail.as_str().is_some_and(|d| !d.is_empty()),
            "{what}: the detail says what was wrong: {detail}"
        );
    }
    assert!(fetch_records(&f.app, "interaction", "").await.is_empty());
    assert!(
        fetch_records(&f.app, "interaction_json_blob", "")
            .await
            .is_empty()
    );
    assert!(
        fetch_records(&f.app, "live_group_profile", "")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn the_400_details_name_the_problem() {
    let f = fixture().await;
    let unknown = "0000000000000000000000000000dead";
    let cases = [
        (
            json!({"queue": f.queue}),
            "Mandatory parameter 'channel' is missing".to_owned(),
        ),
        (
            json!({"channel": unknown}),
            format!("Invalid channel: no interaction_connector record with sys_id '{unknown}'"),
        ),
        (
            json!({"channel": f.phone, "queue": unknown}),
            format!("Invalid queue: no awa_queue record with sys_id '{unknown}'"),
        ),
        (
            json!({"channel": f.phone, "context_table": "incident"}),
            "Parameters 'context_table' and 'context_id' must be given together".to_owned(),
        ),
        (
            json!({"channel": f.phone, "context": [1]}),
            "Parameter 'context' must be an object".to_owned(),
        ),
    ];
    for (body, expected) in cases {
        let response = f
            .app
            .as_user(AGENT, Method::POST, CREATE)
            .json(&body)
            .send()
            .await
            .unwrap();
        let detail = assert_error(response, StatusCode::BAD_REQUEST, "Invalid request").await;
        assert_eq!(detail, expected.as_str(), "{body}");
    }
}

#[tokio::test]
async fn without_credentials_create_and_close_are_401() {
    let f = fixture().await;
    for path in [
        CREATE.to_owned(),
        close_path("0123456789abcdef0123456789abcdef"),
    ] {
        let response = f
            .app
            .anonymous(Method::POST, &path)
            .json(&json!({"channel": f.phone}))
            .send()
            .await
            .unwrap();
        assert!(
            response.headers().get(WWW_AUTHENTICATE).is_some(),
            "{path}: WWW-Authenticate on a 401"
        );
        assert_error(response, StatusCode::UNAUTHORIZED, "User Not Authenticated").await;
    }
    // Wrong password too.
    let response = f
        .app
        .as_user((AGENT.0, "wrong"), Method::POST, CREATE)
        .json(&json!({"channel": f.phone}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "User Not Authenticated").await;
    assert!(fetch_records(&f.app, "interaction", "").await.is_empty());
}

#[tokio::test]
async fn a_user_without_interaction_agent_is_403_and_containing_roles_pass() {
    let f = fixture().await;
    f.app
        .user(
            "awa.agent",
            "awa-password",
            &["awa_agent", "awa_integration_user"],
        )
        .await;
    let response = f
        .app
        .as_user(("awa.agent", "awa-password"), Method::POST, CREATE)
        .json(&json!({"channel": f.phone}))
        .send()
        .await
        .unwrap();
    let detail = assert_error(response, StatusCode::FORBIDDEN, "User Not Authorized").await;
    assert_eq!(detail, "Failed API level ACL Validation", "{detail}");
    assert!(fetch_records(&f.app, "interaction", "").await.is_empty());

    // Close needs the role too.
    let created = create(&f, json!({"channel": f.phone})).await;
    let (status, body) = close_as(
        &f.app,
        ("awa.agent", "awa-password"),
        &close_path(&sys_id_of(&created)),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // interaction_admin and awa_manager contain interaction_agent.
    for (name, role) in [
        ("interaction.admin", "interaction_admin"),
        ("manager", "awa_manager"),
        ("director", "awa_admin"),
    ] {
        let id = f.app.user(name, "some-password", &[role]).await;
        let (status, body) = post_as(
            &f.app,
            (name, "some-password"),
            CREATE,
            &json!({"channel": f.phone}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{role}: {body}");
        let stored = fetch_record(&f.app, "interaction", &sys_id_of(&body["result"]))
            .await
            .unwrap();
        assert_eq!(stored["opened_by"], id.as_str(), "{role}");
    }
}

#[tokio::test]
async fn xml_in_and_xml_out() {
    let f = fixture().await;
    let body = format!(
        "<request><channel>{}</channel><queue>{}</queue>\
         <context><customer>Ada</customer><tier>gold</tier></context></request>",
        f.phone, f.queue
    );
    let response = f
        .app
        .as_user(AGENT, Method::POST, CREATE)
        .header(CONTENT_TYPE, "application/xml")
        .header(ACCEPT, "application/xml")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_content_type(&response, "application/xml");
    let text = response.text().await.unwrap();
    let start = text
        .find("<response><result>")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        text[..start].trim().is_empty() || text[..start].trim_start().starts_with("<?xml"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("</result></response>"), "{text}");
    for element in [
        format!("<channel>{}</channel>", f.phone),
        format!("<queue>{}</queue>", f.queue),
        "<state>queued</state>".to_owned(),
        "<contextTable>interaction_json_blob</contextTable>".to_owned(),
        "<channelMetadataTable>live_group_profile</channelMetadataTable>".to_owned(),
        "<customer>Ada</customer>".to_owned(),
        "<tier>gold</tier>".to_owned(),
        "<present>true</present>".to_owned(),
    ] {
        assert!(text.contains(&element), "{element} in {text}");
    }
    // The context is nested elements; channel_metadata shows {"present": true} as elements.
    let context = &text[text.find("<context>").expect("<context>")..];
    let context = &context[..context.find("</context>").expect("</context>")];
    assert!(
        context.contains("<customer>Ada</customer>") && context.contains("<tier>gold</tier>"),
        "{context}"
    );
    let metadata = &text[text.find("<channel_metadata>").expect("<channel_metadata>")..];
    assert!(
        metadata.starts_with("<channel_metadata><present>true</present></channel_metadata>"),
        "{text}"
    );
    for empty in ["assigned_to", "closed_by", "opened_for"] {
        assert!(
            text.contains(&format!("<{empty}></{empty}>")) || text.contains(&format!("<{empty}/>")),
            "empty {empty} in {text}"
        );
    }
    assert!(text.contains("<number>IMS"), "{text}");

    // What was stored from XML is the same as from JSON.
    let interactions = fetch_records(&f.app, "interaction", "").await;
    assert_eq!(interactions.len(), 1);
    let blob = fetch_record(
        &f.app,
        "interaction_json_blob",
        interactions[0]["context_document"].as_str().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        stored_json(&blob["value"]),
        json!({"customer": "Ada", "tier": "gold"})
    );
}

#[tokio::test]
async fn json_in_xml_out_and_xml_in_json_out() {
    let f = fixture().await;
    let response = f
        .app
        .as_user(AGENT, Method::POST, CREATE)
        .header(ACCEPT, "application/xml")
        .json(&json!({"channel": f.phone}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let text = response.text().await.unwrap();
    assert!(text.contains("<response><result>"), "{text}");
    assert!(text.contains("<state>new</state>"), "{text}");

    let response = f
        .app
        .as_user(AGENT, Method::POST, CREATE)
        .header(CONTENT_TYPE, "application/xml")
        .header(ACCEPT, "application/json")
        .body(format!("<request><channel>{}</channel></request>", f.chat))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_interaction_keys(&body["result"]);
    assert_eq!(body["result"]["channel"], f.chat.as_str());
}

// ---------------------------------------------------------------------------------------------
// Closing
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn close_answers_200_with_the_sample_keys_and_closes_the_record() {
    let f = fixture().await;
    let created = create(
        &f,
        json!({"channel": f.phone, "queue": f.queue, "context": {"k": "v"}}),
    )
    .await;
    let id = sys_id_of(&created);
    let (status, body) = close_as(&f.app, AGENT, &close_path(&id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let result = &body["result"];
    assert_interaction_keys(result);
    assert_eq!(result["state"], "closed_complete");
    assert_eq!(result["closed_by"], f.agent.as_str());
    assert_eq!(result["sys_id"], id);
    for same in [
        "channel",
        "queue",
        "number",
        "contextDocument",
        "contextTable",
        "channelMetadataDocument",
        "channelMetadataTable",
        "channel_metadata",
        "assigned_to",
        "opened_for",
    ] {
        assert_eq!(result[same], created[same], "{same}");
    }
    assert_eq!(result["context"], json!({"k": "v"}));

    let stored = fetch_record(&f.app, "interaction", &id).await.unwrap();
    assert_eq!(stored["state"], "closed_complete");
    assert_eq!(stored["active"], "false");
    assert_eq!(stored["closed_by"], f.agent.as_str());
    assert!(is_date_time(&stored["closed_at"]), "{stored}");
    assert!(
        stored["closed_at"].as_str() >= stored["opened_at"].as_str(),
        "{stored}"
    );
}

/// `YYYY-MM-DD HH:MM:SS`, as the platform writes date-times.
fn is_date_time(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        let b = s.as_bytes();
        b.len() == 19
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b' ',
                13 | 16 => *c == b':',
                _ => c.is_ascii_digit(),
            })
    })
}

#[tokio::test]
async fn closing_closes_the_conversation() {
    let f = fixture().await;
    let created = create(&f, json!({"channel": f.chat, "queue": f.queue})).await;
    let id = sys_id_of(&created);
    let (status, body) = close_as(&f.app, AGENT, &close_path(&id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let conversations =
        fetch_records(&f.app, "sys_cs_conversation", &format!("interaction={id}")).await;
    assert_eq!(conversations.len(), 1);
    assert_eq!(conversations[0]["state"], "closed");
}

#[tokio::test]
async fn close_on_versioned_paths() {
    let f = fixture().await;
    for version in ["v1", "v2"] {
        let created = create(&f, json!({"channel": f.phone})).await;
        let id = sys_id_of(&created);
        let (status, body) = close_as(
            &f.app,
            AGENT,
            &format!("/api/now/{version}/interaction/{id}/close"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{version}: {body}");
        assert_interaction_keys(&body["result"]);
        assert_eq!(body["result"]["state"], "closed_complete", "{version}");
    }
}

#[tokio::test]
async fn closing_again_is_200_and_changes_nothing() {
    let f = fixture().await;
    f.app
        .user("other", "other-password", &["interaction_agent"])
        .await;
    let created = create(&f, json!({"channel": f.chat, "queue": f.queue})).await;
    let id = sys_id_of(&created);
    let (status, first) = close_as(&f.app, AGENT, &close_path(&id)).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let before = fetch_record(&f.app, "interaction", &id).await.unwrap();
    let conversation_before =
        fetch_records(&f.app, "sys_cs_conversation", &format!("interaction={id}")).await;

    // Again, by the same agent and by someone else.
    for who in [AGENT, ("other", "other-password")] {
        let (status, again) = close_as(&f.app, who, &close_path(&id)).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(again, first, "a second close answers as the first");
    }
    let after = fetch_record(&f.app, "interaction", &id).await.unwrap();
    assert_eq!(after["closed_by"], f.agent.as_str());
    assert_eq!(after["closed_at"], before["closed_at"]);
    assert_eq!(after["sys_mod_count"], before["sys_mod_count"]);
    assert_eq!(after["sys_updated_on"], before["sys_updated_on"]);
    assert_eq!(after, before);
    let conversation_after =
        fetch_records(&f.app, "sys_cs_conversation", &format!("interaction={id}")).await;
    assert_eq!(conversation_after, conversation_before);
}

#[tokio::test]
async fn closing_an_unknown_interaction_is_404() {
    let f = fixture().await;
    for path in [
        close_path("0123456789abcdef0123456789abcdef"),
        close_path("not-a-sys-id"),
        "/api/now/v1/interaction/0123456789abcdef0123456789abcdef/close".to_owned(),
    ] {
        let response = f
            .app
            .as_user(AGENT, Method::POST, &path)
            .send()
            .await
            .unwrap();
        let detail = assert_error(response, StatusCode::NOT_FOUND, "No Record found").await;
        assert_eq!(
            detail, "Record doesn't exist or ACL restricts the record retrieval",
            "{path}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Numbering under concurrency
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_creates_get_fifty_distinct_numbers() {
    let f = fixture().await;
    let mut handles = Vec::new();
    for _ in 0..50 {
        let request = f
            .app
            .as_user(AGENT, Method::POST, CREATE)
            .json(&json!({"channel": f.chat, "queue": f.queue}));
        handles.push(tokio::spawn(async move {
            json_of(request.send().await.unwrap()).await
        }));
    }
    let mut numbers = BTreeSet::new();
    for handle in handles {
        let (status, body) = handle.await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(is_number(&body["result"]["number"]), "{body}");
        numbers.insert(body["result"]["number"].as_str().unwrap().to_owned());
    }
    assert_eq!(numbers.len(), 50, "{numbers:?}");
    let stored = fetch_records(&f.app, "interaction", "").await;
    assert_eq!(stored.len(), 50);
    let stored_numbers: BTreeSet<String> = stored
        .iter()
        .map(|r| r["number"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(stored_numbers, numbers);
    // Each third-party interaction got exactly one conversation.
    assert_eq!(
        fetch_records(&f.app, "sys_cs_conversation", "").await.len(),
        50
    );
}

// ---------------------------------------------------------------------------------------------
// More of the documented behaviour
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_context_given_as_a_string_holding_an_object_is_an_object() {
    let f = fixture().await;
    let result = create(
        &f,
        json!({"channel": f.phone, "context": "{\"customer\":\"Ada\"}",
               "channel_metadata": "{\"locale\":\"fr\"}"}),
    )
    .await;
    assert_eq!(result["context"], json!({"customer": "Ada"}));
    assert_eq!(result["channel_metadata"], json!({"locale": "fr"}));
    assert_eq!(result["contextTable"], "interaction_json_blob");
    // A string that is not an object is refused.
    let response = f
        .app
        .as_user(AGENT, Method::POST, CREATE)
        .json(&json!({"channel": f.phone, "context": "not json"}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "Invalid request").await;
}

#[tokio::test]
async fn both_forms_of_context_unknown_opened_for_and_malformed_bodies_are_400() {
    let f = fixture().await;
    let unknown = "0000000000000000000000000000dead";
    let cases = [
        (
            json!({"channel": f.phone, "context": {"a": 1}, "context_table": "incident",
                   "context_id": unknown}),
            "Give either 'context' or 'context_table' and 'context_id', not both".to_owned(),
        ),
        (
            json!({"channel": f.phone, "opened_for": unknown}),
            format!("Invalid opened_for: no sys_user record with sys_id '{unknown}'"),
        ),
        (
            json!({"channel": f.phone, "channel_metadata": 7}),
            "Parameter 'channel_metadata' must be an object".to_owned(),
        ),
    ];
    for (body, expected) in cases {
        let response = f
            .app
            .as_user(AGENT, Method::POST, CREATE)
            .json(&body)
            .send()
            .await
            .unwrap();
        let detail = assert_error(response, StatusCode::BAD_REQUEST, "Invalid request").await;
        assert_eq!(detail, expected.as_str(), "{body}");
    }
    // Malformed JSON and XML are 400s that say so, never 500s.
    for (content_type, text) in [
        ("application/json", "{\"channel\": "),
        ("application/xml", "<request><channel>x</request>"),
    ] {
        let response = f
            .app
            .as_user(AGENT, Method::POST, CREATE)
            .header(CONTENT_TYPE, content_type)
            .header(ACCEPT, "application/json")
            .body(text)
            .send()
            .await
            .unwrap();
        let detail = assert_unreadable_request(response).await;
        assert!(
            detail.as_str().is_some_and(|d| !d.is_empty()),
            "{content_type}: {detail}"
        );
    }
    assert!(fetch_records(&f.app, "interaction", "").await.is_empty());
}

#[tokio::test]
async fn type_defaults_to_the_connectors_and_can_be_given() {
    let f = fixture().await;
    let result = create(&f, json!({"channel": f.phone})).await;
    let stored = fetch_record(&f.app, "interaction", &sys_id_of(&result))
        .await
        .unwrap();
    assert_eq!(stored["type"], "phone");
    let result = create(
        &f,
        json!({"channel": f.chat, "type": "messaging", "short_description": "Order 42"}),
    )
    .await;
    let stored = fetch_record(&f.app, "interaction", &sys_id_of(&result))
        .await
        .unwrap();
    assert_eq!(stored["type"], "messaging");
    assert_eq!(stored["short_description"], "Order 42");
}

#[tokio::test]
async fn closing_an_abandoned_interaction_changes_nothing() {
    let f = fixture().await;
    let created = create(&f, json!({"channel": f.phone, "queue": f.queue})).await;
    let id = sys_id_of(&created);
    let response = f
        .app
        .admin(Method::PATCH, &format!("/api/now/table/interaction/{id}"))
        .json(&json!({"state": "closed_abandoned", "active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let before = fetch_record(&f.app, "interaction", &id).await.unwrap();
    let (status, body) = close_as(&f.app, AGENT, &close_path(&id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_interaction_keys(&body["result"]);
    assert_eq!(body["result"]["state"], "closed_abandoned");
    assert_eq!(body["result"]["closed_by"], "");
    assert_eq!(
        fetch_record(&f.app, "interaction", &id).await.unwrap(),
        before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_closes_close_once() {
    let f = fixture().await;
    let mut users = Vec::new();
    for i in 0..8 {
        let name = format!("closer{i}");
        let id = f
            .app
            .user(&name, "closer-password", &["interaction_agent"])
            .await;
        users.push((name, id));
    }
    let created = create(&f, json!({"channel": f.chat, "queue": f.queue})).await;
    let id = sys_id_of(&created);
    let mut handles = Vec::new();
    for (name, _) in &users {
        let request = f
            .app
            .as_user((name, "closer-password"), Method::POST, &close_path(&id));
        handles.push(tokio::spawn(async move {
            json_of(request.send().await.unwrap()).await
        }));
    }
    let mut bodies = Vec::new();
    for handle in handles {
        let (status, body) = handle.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        bodies.push(body);
    }
    let stored = fetch_record(&f.app, "interaction", &id).await.unwrap();
    assert_eq!(stored["state"], "closed_complete");
    assert_eq!(
        stored["sys_mod_count"], "1",
        "closed exactly once: {stored}"
    );
    let closer = stored["closed_by"].as_str().unwrap();
    assert!(users.iter().any(|(_, u)| u == closer), "{stored}");
    for body in &bodies {
        assert_eq!(body["result"]["closed_by"], closer, "{body}");
        assert_eq!(body["result"]["state"], "closed_complete");
    }
}
