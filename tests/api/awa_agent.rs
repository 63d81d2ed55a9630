//! The AWA Agent API: an agent's presence, channel availability and capacities, with every
//! documented answer (200, 400, 401, 403 `User Not Authenticated`, 404 `Record Not Found`), in
//! JSON and XML, under every version prefix; and the AWA tables behind it.

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    INTEGRATION, TestApp, assert_content_type, assert_error, assert_unauthenticated,
    assert_unreadable_request, fetch_records, json_of, sys_id_of,
};

const NOT_FOUND: &str = "Record Not Found";
const UNKNOWN_ID: &str = "0000000000000000000000000000dead";
const AGENT: (&str, &str) = ("agent", "agent-password");

struct Fixture {
    app: TestApp,
    /// A user with awa_agent and awa_external_user.
    agent: String,
    /// A user without awa_agent.
    not_agent: String,
    available: String,
    away: String,
    offline: String,
    /// An inactive presence state.
    retired_state: String,
    chat: String,
    phone: String,
    /// An inactive service channel.
    retired_channel: String,
}

async fn fixture() -> Fixture {
    let app = TestApp::spawn().await;
    app.integration_user().await;
    let agent = app
        .user(AGENT.0, AGENT.1, &["awa_agent", "awa_external_user"])
        .await;
    let not_agent = app
        .user("plain", "plain-password", &["interaction_agent"])
        .await;
    let state = |name: &str, available: bool, order: i64, active: bool| json!({"name": name, "available": available, "order": order, "active": active});
    let mut ids = Vec::new();
    // Inserted out of order: the API sorts by `order`.
    for body in [
        state("Offline", false, 2000, true),
        state("Available", true, 0, true),
        state("Away", false, 1000, true),
        state("Retired", true, 500, false),
    ] {
        ids.push(sys_id_of(&app.insert("awa_presence_state", body).await));
    }
    let channel = |name: &str, kind: &str, max: i64, active: bool| {
        json!({"name": name, "service_channel_type": kind, "max_capacity": max, "active": active,
               "restrict_update": kind == "phone"})
    };
    let mut channels = Vec::new();
    for body in [
        channel("Phone", "phone", 1, true),
        channel("Chat", "chat", 3, true),
        channel("Fax", "fax", 1, false),
    ] {
        channels.push(sys_id_of(&app.insert("awa_service_channel", body).await));
    }
    Fixture {
        app,
        agent,
        not_agent,
        offline: ids[0].clone(),
        available: ids[1].clone(),
        away: ids[2].clone(),
        retired_state: ids[3].clone(),
        phone: channels[0].clone(),
        chat: channels[1].clone(),
        retired_channel: channels[2].clone(),
    }
}

fn agent_path(user: &str) -> String {
    format!("/api/now/awa/agents/{user}")
}

async fn get(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let response = app.as_user(INTEGRATION, Method::GET, path).send().await;
    json_of(response.unwrap()).await
}

fn put(app: &TestApp, path: &str, body: Value) -> reqwest::RequestBuilder {
    app.as_user(INTEGRATION, Method::PUT, path).json(&body)
}

async fn put_json(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    json_of(put(app, path, body).send().await.unwrap()).await
}

fn presence_body(state: &str, channels: Value) -> Value {
    json!({"presence": {"sys_id": state, "channels": channels}})
}

// ---------------------------------------------------------------------------------------------
// Presence
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_agent_goes_available_on_its_channels_and_away_and_back() {
    let f = fixture().await;
    let path = agent_path(&f.agent);
    // Never set: the last unavailable state, without channels.
    let (status, body) = get(&f.app, &path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"result": {"presence": {"name": "Offline", "sys_id": f.offline, "available": false,
               "channels": []}, "sys_id": f.agent}})
    );

    let channels =
        json!([{"sys_id": f.chat, "available": true}, {"sys_id": f.phone, "available": false}]);
    let (status, body) = put_json(&f.app, &path, presence_body(&f.available, channels)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let available = json!({"result": {"presence": {"name": "Available", "sys_id": f.available,
        "available": true, "channels": [
            {"name": "Chat", "available": true, "sys_id": f.chat},
            {"name": "Phone", "available": false, "sys_id": f.phone}]},
        "sys_id": f.agent}});
    assert_eq!(body, available);
    assert_eq!(
        get(&f.app, &path).await,
        (StatusCode::OK, available.clone())
    );
    let stored = fetch_records(&f.app, "awa_agent_presence", &format!("agent={}", f.agent)).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["current_presence_state"], f.available);
    assert_ne!(stored[0]["state_changed_on"], "");

    // Away: no channels, and the channels named are not written.
    let channels = json!([{"sys_id": f.chat, "available": false}]);
    let (status, body) = put_json(&f.app, &path, presence_body(&f.away, channels)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"result": {"presence": {"name": "Away", "sys_id": f.away, "available": false,
               "channels": []}, "sys_id": f.agent}})
    );
    // Back to available without channels: they are as they were.
    let (status, body) =
        put_json(&f.app, &path, json!({"presence": {"sys_id": f.available}})).await;
    assert_eq!((status, body), (StatusCode::OK, available));
    let stored = fetch_records(&f.app, "awa_agent_presence", &format!("agent={}", f.agent)).await;
    assert_eq!(stored.len(), 1, "one presence record per agent: {stored:?}");
    let availability = fetch_records(
        &f.app,
        "awa_agent_channel_availability",
        &format!("agent={}", f.agent),
    )
    .await;
    assert_eq!(availability.len(), 2, "{availability:?}");
}

#[tokio::test]
async fn a_channel_without_available_is_unavailable_and_booleans_take_the_platforms_spellings() {
    let f = fixture().await;
    let path = agent_path(&f.agent);
    let channels = json!([{"sys_id": f.chat, "available": "TRUE"}, {"sys_id": f.phone}]);
    let (status, body) = put_json(&f.app, &path, presence_body(&f.available, channels)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let channels = &body["result"]["presence"]["channels"];
    assert_eq!(channels[0]["available"], true, "{body}");
    assert_eq!(channels[1]["available"], false, "{body}");
    let channels =
        json!([{"sys_id": f.chat, "available": 0}, {"sys_id": f.phone, "available": "1"}]);
    let (_, body) = put_json(&f.app, &path, presence_body(&f.available, channels)).await;
    let channels = &body["result"]["presence"]["channels"];
    assert_eq!(channels[0]["available"], false, "{body}");
    assert_eq!(channels[1]["available"], true, "{body}");
}

#[tokio::test]
async fn presence_states_lists_the_active_states_in_order_with_the_agents_channels() {
    let f = fixture().await;
    let channels =
        json!([{"sys_id": f.chat, "available": true}, {"sys_id": f.phone, "available": false}]);
    let (status, _) = put_json(
        &f.app,
        &agent_path(&f.agent),
        presence_body(&f.away, json!([])),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Channels set while available, then away: presence_states shows them under Available.
    put_json(
        &f.app,
        &agent_path(&f.agent),
        presence_body(&f.available, channels),
    )
    .await;
    let (status, body) = get(&f.app, &format!("{}/presence_states", agent_path(&f.agent))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let state = |name: &str, id: &str, order: i64, available: bool, channels: Value| {
        json!({"name": name, "order": order, "show_channels": false, "sys_id": id,
               "available": available, "channels": channels, "disable_inactivity_check": false})
    };
    let channels = json!([
        {"name": "Chat", "available": true, "sys_id": f.chat, "restrict_update": false,
         "service_channel_type": "chat"},
        {"name": "Phone", "available": false, "sys_id": f.phone, "restrict_update": true,
         "service_channel_type": "phone"},
    ]);
    assert_eq!(
        body,
        json!({"result": [
            state("Available", &f.available, 0, true, channels),
            state("Away", &f.away, 1000, false, json!([])),
            state("Offline", &f.offline, 2000, false, json!([])),
        ]})
    );
}

// ---------------------------------------------------------------------------------------------
// Capacities
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn capacities_are_the_channels_defaults_until_set_and_universal_only_once_set() {
    let f = fixture().await;
    let path = format!("{}/capacities", agent_path(&f.agent));
    let (status, body) = get(&f.app, &path).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"result": {"channels": []}}))
    );
    let channels = json!([{"sys_id": f.chat, "available": true}]);
    put_json(
        &f.app,
        &agent_path(&f.agent),
        presence_body(&f.available, channels),
    )
    .await;
    let (status, body) = get(&f.app, &path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"result": {"channels": [
            {"channel_sys_id": f.chat, "current_workload": 0, "max_capacity": 3}]}})
    );

    // The page's sample: a channel and the universal capacity.
    let request = json!({"channels": {(f.chat.clone()): 6}, "universal_capacity": 12});
    let (status, body) = put_json(&f.app, &path, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"result": {"channels": [{"channel_sys_id": f.chat, "max_capacity": 6}],
               "universal_capacity": 12}})
    );
    // A channel the agent has no availability for gets an override too, and is listed.
    let request = json!({"channels": {(f.phone.clone()): "2"}});
    let (status, body) = put_json(&f.app, &path, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"result": {"channels": [{"channel_sys_id": f.phone, "max_capacity": 2}],
               "universal_capacity": 12}})
    );
    let (status, body) = get(&f.app, &path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"result": {"universal_workload": 0, "channels": [
            {"channel_sys_id": f.chat, "current_workload": 0, "max_capacity": 6},
            {"channel_sys_id": f.phone, "current_workload": 0, "max_capacity": 2}],
            "universal_capacity": 12}})
    );

    // Setting again updates the same records.
    let request = json!({"channels": {(f.chat.clone()): 4}, "universal_capacity": 10});
    let (status, _) = put_json(&f.app, &path, request).await;
    assert_eq!(status, StatusCode::OK);
    let records = fetch_records(&f.app, "awa_agent_capacity", &format!("agent={}", f.agent)).await;
    let mut scopes: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r["capacity_for"].as_str().unwrap().to_owned(),
                r["max_capacity"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    scopes.sort();
    let mut expected = vec![
        (f.chat.clone(), "4".to_owned()),
        (f.phone.clone(), "2".to_owned()),
        ("universal".to_owned(), "10".to_owned()),
    ];
    expected.sort();
    assert_eq!(scopes, expected);
}

#[tokio::test]
async fn one_universal_capacity_per_agent_whatever_the_write_path() {
    let f = fixture().await;
    f.app
        .insert(
            "awa_agent_capacity",
            json!({"agent": f.agent, "max_capacity": 5}),
        )
        .await;
    let response = f
        .app
        .admin(Method::POST, "/api/now/table/awa_agent_capacity")
        .json(&json!({"agent": f.agent, "max_capacity": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let path = format!("{}/capacities", agent_path(&f.agent));
    let (_, body) = get(&f.app, &path).await;
    assert_eq!(body["result"]["universal_capacity"], 5, "{body}");
    assert_eq!(body["result"]["universal_workload"], 0, "{body}");
}

// ---------------------------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------------------------

/// Every route, with a body for the PUTs.
fn routes(f: &Fixture, user: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, agent_path(user), None),
        (
            Method::PUT,
            agent_path(user),
            Some(presence_body(&f.available, json!([]))),
        ),
        (
            Method::GET,
            format!("{}/presence_states", agent_path(user)),
            None,
        ),
        (
            Method::GET,
            format!("{}/capacities", agent_path(user)),
            None,
        ),
        (
            Method::PUT,
            format!("{}/capacities", agent_path(user)),
            Some(json!({"universal_capacity": 3})),
        ),
    ]
}

#[tokio::test]
async fn without_credentials_401_and_without_the_role_403_user_not_authenticated() {
    let f = fixture().await;
    for (method, path, body) in routes(&f, &f.agent) {
        let mut request = f.app.anonymous(method.clone(), &path);
        if let Some(body) = &body {
            request = request.json(body);
        }
        assert_unauthenticated(request.send().await.unwrap()).await;
        // An agent, even: the API is the integration's.
        let mut request = f.app.as_user(AGENT, method, &path);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let detail = assert_error(
            request.send().await.unwrap(),
            StatusCode::FORBIDDEN,
            "User Not Authenticated",
        )
        .await;
        assert_eq!(
            detail, "The user does not have the awa_integration_user role",
            "{path}"
        );
    }
    let stored = fetch_records(&f.app, "awa_agent_capacity", "").await;
    assert!(stored.is_empty(), "{stored:?}");
}

#[tokio::test]
async fn an_unknown_user_or_one_without_awa_agent_is_record_not_found() {
    let f = fixture().await;
    for user in [UNKNOWN_ID, f.not_agent.as_str()] {
        for (method, path, body) in routes(&f, user) {
            let mut request = f.app.as_user(INTEGRATION, method, &path);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let detail = assert_error(
                request.send().await.unwrap(),
                StatusCode::NOT_FOUND,
                NOT_FOUND,
            )
            .await;
            assert!(detail.as_str().unwrap().contains(user), "{detail}");
        }
    }
    let detail = assert_error(
        f.app
            .as_user(INTEGRATION, Method::GET, &agent_path(&f.not_agent))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        NOT_FOUND,
    )
    .await;
    assert!(detail.as_str().unwrap().contains("awa_agent"), "{detail}");
    for table in ["awa_agent_presence", "awa_agent_capacity"] {
        assert!(fetch_records(&f.app, table, "").await.is_empty(), "{table}");
    }
}

#[tokio::test]
async fn an_unknown_or_inactive_presence_state_or_channel_is_record_not_found_and_writes_nothing() {
    let f = fixture().await;
    let path = agent_path(&f.agent);
    let chat_on = json!({"sys_id": f.chat, "available": true});
    let cases = [
        (presence_body(UNKNOWN_ID, json!([])), UNKNOWN_ID),
        (presence_body(&f.retired_state, json!([])), &f.retired_state),
        (
            presence_body(
                &f.available,
                json!([chat_on, {"sys_id": UNKNOWN_ID, "available": true}]),
            ),
            UNKNOWN_ID,
        ),
        (
            presence_body(
                &f.available,
                json!([{"sys_id": f.retired_channel, "available": true}]),
            ),
            &f.retired_channel,
        ),
    ];
    for (body, missing) in cases {
        let response = put(&f.app, &path, body).send().await.unwrap();
        let detail = assert_error(response, StatusCode::NOT_FOUND, NOT_FOUND).await;
        assert!(detail.as_str().unwrap().contains(missing), "{detail}");
    }
    // An unknown channel with an unavailable state is not looked at: it is not written.
    let body = presence_body(&f.away, json!([{"sys_id": UNKNOWN_ID, "available": true}]));
    assert_eq!(put_json(&f.app, &path, body).await.0, StatusCode::OK);
    let availability = fetch_records(&f.app, "awa_agent_channel_availability", "").await;
    assert!(availability.is_empty(), "{availability:?}");

    let capacities = format!("{path}/capacities");
    for channel in [UNKNOWN_ID, f.retired_channel.as_str()] {
        let body = json!({"channels": {(f.chat.clone()): 2, (channel.to_owned()): 2},
                          "universal_capacity": 4});
        let response = put(&f.app, &capacities, body).send().await.unwrap();
        let detail = assert_error(response, StatusCode::NOT_FOUND, NOT_FOUND).await;
        assert!(detail.as_str().unwrap().contains(channel), "{detail}");
    }
    assert!(
        fetch_records(&f.app, "awa_agent_capacity", "")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn bodies_the_pages_types_do_not_fit_are_400() {
    let f = fixture().await;
    let path = agent_path(&f.agent);
    for body in [
        json!({}),
        json!({"presence": {}}),
        json!({"presence": {"sys_id": ""}}),
        json!({"presence": {"sys_id": f.available, "channels": [{"available": true}]}}),
        json!({"presence": {"sys_id": f.available, "channels": [{"sys_id": f.chat, "available": "maybe"}]}}),
        json!({"presence": {"sys_id": f.available, "channels": "chat"}}),
    ] {
        let response = put(&f.app, &path, body.clone()).send().await.unwrap();
        assert_error(response, StatusCode::BAD_REQUEST, "Bad Request").await;
    }
    let capacities = format!("{path}/capacities");
    for body in [
        json!({}),
        json!({"channels": {}}),
        json!({"channels": {(f.chat.clone()): -1}}),
        json!({"channels": [f.chat]}),
        json!({"universal_capacity": "lots"}),
        json!({"universal_capacity": 1.5}),
    ] {
        let response = put(&f.app, &capacities, body.clone()).send().await.unwrap();
        let detail = assert_error(response, StatusCode::BAD_REQUEST, "Bad Request").await;
        assert!(detail.is_string(), "{body}: {detail}");
    }
    for target in [&path, &capacities] {
        let response = f
            .app
            .as_user(INTEGRATION, Method::PUT, target)
            .header(CONTENT_TYPE, "application/json")
            .body("[1, 2]")
            .send()
            .await
            .unwrap();
        assert_unreadable_request(response).await;
    }
    assert!(
        fetch_records(&f.app, "awa_agent_presence", "")
            .await
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------
// Formats, paths, tables
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn xml_in_and_xml_out() {
    let f = fixture().await;
    let path = agent_path(&f.agent);
    let response = f
        .app
        .as_user(INTEGRATION, Method::PUT, &path)
        .header(CONTENT_TYPE, "application/xml")
        .header(ACCEPT, "application/xml")
        .body(format!(
            "<request><presence><sys_id>{}</sys_id><channels><sys_id>{}</sys_id>\
             <available>true</available></channels></presence></request>",
            f.available, f.chat
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_content_type(&response, "application/xml");
    let text = response.text().await.unwrap();
    // Elements in key order, as every JSON object is rendered.
    for element in [
        "<response><result><presence><available>true</available>".to_owned(),
        format!(
            "<channels><available>true</available><name>Chat</name><sys_id>{}</sys_id></channels>",
            f.chat
        ),
        format!(
            "<name>Available</name><sys_id>{}</sys_id></presence>",
            f.available
        ),
        format!(
            "</presence><sys_id>{}</sys_id></result></response>",
            f.agent
        ),
    ] {
        assert!(text.contains(&element), "{element} in {text}");
    }

    let response = f
        .app
        .as_user(INTEGRATION, Method::PUT, &format!("{path}/capacities"))
        .header(CONTENT_TYPE, "application/xml")
        .header(ACCEPT, "application/xml")
        .body("<request><universal_capacity>7</universal_capacity></request>")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(
        text.contains("<universal_capacity>7</universal_capacity>"),
        "{text}"
    );

    let response = f
        .app
        .as_user(INTEGRATION, Method::GET, &agent_path(UNKNOWN_ID))
        .header(ACCEPT, "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let text = response.text().await.unwrap();
    assert!(
        text.contains(&format!("<message>{NOT_FOUND}</message>")),
        "{text}"
    );
    assert!(text.contains("<status>failure</status>"), "{text}");
}

#[tokio::test]
async fn versioned_paths_work() {
    let f = fixture().await;
    for prefix in ["/api/now/v1", "/api/now/v2"] {
        let path = format!("{prefix}/awa/agents/{}", f.agent);
        let (status, body) = put_json(&f.app, &path, presence_body(&f.available, json!([]))).await;
        assert_eq!(status, StatusCode::OK, "{prefix}: {body}");
        assert_eq!(body["result"]["presence"]["name"], "Available");
        for tail in ["", "/presence_states", "/capacities"] {
            let (status, body) = get(&f.app, &format!("{path}{tail}")).await;
            assert_eq!(status, StatusCode::OK, "{prefix}{tail}: {body}");
        }
    }
}

#[tokio::test]
async fn the_awa_tables_are_read_by_awa_roles_only() {
    let f = fixture().await;
    for table in [
        "awa_service_channel",
        "awa_presence_state",
        "awa_agent_presence",
        "awa_agent_channel_availability",
        "awa_agent_capacity",
    ] {
        let path = format!("/api/now/table/{table}");
        assert_eq!(
            f.app.status_as(AGENT, &path).await,
            StatusCode::OK,
            "{table}"
        );
        assert_eq!(
            f.app.status_as(INTEGRATION, &path).await,
            StatusCode::OK,
            "{table}"
        );
        // Service channels are read by the contact-center roles too (work items refer to
        // them): the plain user holds interaction_agent.
        let plain = match table {
            "awa_service_channel" => StatusCode::OK,
            _ => StatusCode::FORBIDDEN,
        };
        assert_eq!(
            f.app.status_as(("plain", "plain-password"), &path).await,
            plain,
            "{table}"
        );
    }
}

#[tokio::test]
async fn concurrent_first_puts_of_one_agent_make_one_record_of_each() {
    let f = fixture().await;
    let path = agent_path(&f.agent);
    let capacities = format!("{path}/capacities");
    // Every request names the chat channel as available: an Available one writes it.
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..8 {
        let state = if i % 2 == 0 { &f.available } else { &f.away };
        let body = presence_body(state, json!([{"sys_id": f.chat, "available": true}]));
        let request = put(&f.app, &path, body);
        requests.spawn(async move { json_of(request.send().await.unwrap()).await });
        let body = json!({"channels": {(f.chat.clone()): i}, "universal_capacity": i});
        let request = put(&f.app, &capacities, body);
        requests.spawn(async move { json_of(request.send().await.unwrap()).await });
    }
    for (status, body) in requests.join_all().await {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let agent = format!("agent={}", f.agent);
    let presence = fetch_records(&f.app, "awa_agent_presence", &agent).await;
    assert_eq!(presence.len(), 1, "{presence:?}");
    let availability = fetch_records(&f.app, "awa_agent_channel_availability", &agent).await;
    assert_eq!(availability.len(), 1, "{availability:?}");
    let records = fetch_records(&f.app, "awa_agent_capacity", &agent).await;
    assert_eq!(records.len(), 2, "{records:?}");
}
