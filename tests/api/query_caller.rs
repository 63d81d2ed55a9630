//! Queries that name the caller: `javascript:gs.getUserID()` and its kin, and the `DYNAMIC`
//! "Me" option, each read as the user who sends the query, through the Table API, the Aggregate
//! API, a Batch API item and a `sysparm_tiny` list; and the options and functions switchboard
//! does not read, refused in the platform's envelope.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::helpers::{TestApp, assert_error, json_of, query_encoded};

const ALICE: (&str, &str) = ("alice", "alice-password");
const BOB: (&str, &str) = ("bob", "bob-password");

/// The "Me" option's sys_id, and the one the operators page writes for it.
const ME: &str = "90d1921e5f510100a9ad2572f2b477fe";
const ME_ON_THE_PAGE: &str = "54635e965f510100a9ad2572f2b4774c";

/// The sys_ids of Alice and Bob.
struct Users {
    alice: String,
    bob: String,
}

/// Alice and Bob, agents who may read interactions, and three interactions labelled by
/// `short_description`: `alice` (assigned to Alice, opened by Bob), `bob` (assigned to Bob,
/// opened by Alice) and `nobody` (unassigned, opened by Alice).
async fn assignments(app: &TestApp) -> Users {
    let alice = app.user(ALICE.0, ALICE.1, &["interaction_agent"]).await;
    let bob = app.user(BOB.0, BOB.1, &["interaction_agent"]).await;
    for (label, assigned, opener) in [
        ("alice", alice.as_str(), bob.as_str()),
        ("bob", &bob, &alice),
        ("nobody", "", &alice),
    ] {
        app.insert(
            "interaction",
            json!({"short_description": label, "assigned_to": assigned, "opened_by": opener}),
        )
        .await;
    }
    Users { alice, bob }
}

/// The sorted labels of the interactions `query` selects for `who`.
async fn labels_as(app: &TestApp, who: (&str, &str), query: &str) -> Vec<String> {
    let path = format!(
        "/api/now/table/interaction?sysparm_fields=short_description&sysparm_query={}",
        query_encoded(query)
    );
    let response = app.as_user(who, Method::GET, &path).send().await.unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    labels(&body)
}

fn labels(body: &Value) -> Vec<String> {
    let mut labels: Vec<String> = body["result"]
        .as_array()
        .unwrap_or_else(|| panic!("no result: {body}"))
        .iter()
        .map(|r| r["short_description"].as_str().unwrap().to_owned())
        .collect();
    labels.sort();
    labels
}

/// Asserts that each query selects, for Alice and for Bob, the labels given.
async fn assert_selects_for_each(app: &TestApp, cases: &[(&str, &[&str], &[&str])]) {
    for (query, for_alice, for_bob) in cases {
        assert_eq!(
            labels_as(app, ALICE, query).await,
            *for_alice,
            "alice: {query}"
        );
        assert_eq!(labels_as(app, BOB, query).await, *for_bob, "bob: {query}");
    }
}

#[tokio::test]
async fn caller_functions_on_a_reference_to_users_select_the_callers_records() {
    let app = TestApp::spawn().await;
    assignments(&app).await;
    for function in [
        "gs.getUserID()",
        "gs.getUser().getID()",
        "gs.getUserName()",
        "gs.getUser().getName()",
    ] {
        let query = format!("assigned_to=javascript:{function}");
        assert_selects_for_each(&app, &[(&query, &["alice"], &["bob"])]).await;
    }
    assert_selects_for_each(
        &app,
        &[
            (
                "opened_by=javascript:gs.getUserID()",
                &["bob", "nobody"],
                &["alice"],
            ),
            // Walked: the assignee's user name is the caller's.
            (
                "assigned_to.user_name=javascript:gs.getUserName()",
                &["alice"],
                &["bob"],
            ),
            (
                "assigned_to=javascript:gs.getUserID()^ORassigned_toISEMPTY",
                &["alice", "nobody"],
                &["bob", "nobody"],
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn negations_of_a_caller_value_keep_the_others_and_the_empty() {
    let app = TestApp::spawn().await;
    let users = assignments(&app).await;
    let either = format!("assigned_toINjavascript:gs.getUserID(),{}", users.alice);
    assert_selects_for_each(
        &app,
        &[
            (
                "assigned_to!=javascript:gs.getUserID()",
                &["bob", "nobody"],
                &["alice", "nobody"],
            ),
            (
                "assigned_to!=javascript:gs.getUser().getName()",
                &["bob", "nobody"],
                &["alice", "nobody"],
            ),
            (
                "assigned_toNOT INjavascript:gs.getUserID()",
                &["bob", "nobody"],
                &["alice", "nobody"],
            ),
            (&either, &["alice"], &["alice", "bob"]),
            // Neither opened by the caller nor assigned to them.
            (
                "opened_by!=javascript:gs.getUserID()^assigned_to!=javascript:gs.getUserID()",
                &[],
                &["nobody"],
            ),
        ],
    )
    .await;
    assert_ne!(users.alice, users.bob);
}

#[tokio::test]
async fn dynamic_me_selects_the_callers_records() {
    let app = TestApp::spawn().await;
    assignments(&app).await;
    for id in [ME, ME_ON_THE_PAGE] {
        let mine = format!("assigned_toDYNAMIC{id}");
        let opened = format!("opened_byDYNAMIC{id}");
        let mine_or_nobodys = format!("assigned_toDYNAMIC{id}^NQassigned_toISEMPTY");
        assert_selects_for_each(
            &app,
            &[
                (&mine, &["alice"], &["bob"]),
                (&opened, &["bob", "nobody"], &["alice"]),
                (&mine_or_nobodys, &["alice", "nobody"], &["bob", "nobody"]),
            ],
        )
        .await;
    }
}

#[tokio::test]
async fn caller_functions_on_text_fields_compare_the_text() {
    let app = TestApp::spawn().await;
    assignments(&app).await;
    // How clients find their own user record.
    for (query, field) in [
        ("sys_id=javascript:gs.getUserID()", "user_name"),
        ("user_name=javascript:gs.getUserName()", "user_name"),
        ("user_name=javascript:gs.getUser().getName()", "user_name"),
    ] {
        for who in [ALICE, BOB] {
            let path = format!(
                "/api/now/table/sys_user?sysparm_fields={field}&sysparm_query={}",
                query_encoded(query)
            );
            let response = app.as_user(who, Method::GET, &path).send().await.unwrap();
            let (status, body) = json_of(response).await;
            assert_eq!(status, StatusCode::OK, "{query}: {body}");
            assert_eq!(
                body["result"],
                json!([{field: who.0}]),
                "{}: {query}",
                who.0
            );
        }
    }
}

/// `GET /api/now/stats/interaction?sysparm_count=true&sysparm_query=…` as `who`: the count.
async fn count_as(app: &TestApp, who: (&str, &str), query: &str) -> String {
    let path = format!(
        "/api/now/stats/interaction?sysparm_count=true&sysparm_query={}",
        query_encoded(query)
    );
    let response = app.as_user(who, Method::GET, &path).send().await.unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body["result"]["stats"]["count"]
        .as_str()
        .unwrap_or_else(|| panic!("{query}: {body}"))
        .to_owned()
}

#[tokio::test]
async fn the_aggregate_api_counts_the_callers_records() {
    let app = TestApp::spawn().await;
    assignments(&app).await;
    for (query, alice, bob) in [
        ("assigned_to=javascript:gs.getUserID()", "1", "1"),
        (&format!("assigned_toDYNAMIC{ME}"), "1", "1"),
        (&format!("assigned_toDYNAMIC{ME_ON_THE_PAGE}"), "1", "1"),
        ("assigned_to!=javascript:gs.getUserName()", "2", "2"),
        ("opened_by=javascript:gs.getUser().getID()", "2", "1"),
        (
            &format!("opened_byDYNAMIC{ME}^assigned_toISNOTEMPTY"),
            "1",
            "1",
        ),
    ] {
        assert_eq!(count_as(&app, ALICE, query).await, alice, "alice: {query}");
        assert_eq!(count_as(&app, BOB, query).await, bob, "bob: {query}");
    }
    // Grouped: the caller's group alone.
    let path = format!(
        "/api/now/stats/interaction?sysparm_count=true&sysparm_group_by=short_description&sysparm_query={}",
        query_encoded(&format!("assigned_toDYNAMIC{ME}"))
    );
    let response = app.as_user(BOB, Method::GET, &path).send().await.unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["result"],
        json!([{"stats": {"count": "1"}, "groupby_fields": [{"field": "short_description", "value": "bob"}]}])
    );
}

#[tokio::test]
async fn a_batch_item_and_a_tiny_url_are_read_as_their_caller() {
    let app = TestApp::spawn().await;
    assignments(&app).await;
    let url = format!(
        "/api/now/table/interaction?sysparm_fields=short_description&sysparm_query={}",
        query_encoded(&format!("assigned_toDYNAMIC{ME}"))
    );
    for (who, expected) in [(ALICE, "alice"), (BOB, "bob")] {
        let batch = json!({"rest_requests": [{"id": "mine", "method": "GET", "url": url,
            "headers": [{"name": "Accept", "value": "application/json"}]}]});
        let response = app
            .as_user(who, Method::POST, "/api/now/v1/batch")
            .json(&batch)
            .send()
            .await
            .unwrap();
        let (status, answer) = json_of(response).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let item = &answer["serviced_requests"][0];
        assert_eq!(item["status_code"], 200, "{answer}");
        let body = STANDARD.decode(item["body"].as_str().unwrap()).unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(labels(&body), [expected], "{}", who.0);
    }

    // One tiny URL, shortened by admin: each reader's own records.
    let query = query_encoded("assigned_to=javascript:gs.getUserID()");
    let response = app
        .admin(Method::POST, "/api/now/tinyurl")
        .json(
            &json!({"url": app.url(&format!("/api/now/table/interaction?sysparm_query={query}"))}),
        )
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, tiny) = body["result"]
        .as_str()
        .unwrap()
        .split_once("?sysparm_tiny=")
        .unwrap();
    for (who, expected) in [(ALICE, "alice"), (BOB, "bob")] {
        let path = format!(
            "/api/now/table/interaction?sysparm_tiny={tiny}&sysparm_fields=short_description"
        );
        let response = app.as_user(who, Method::GET, &path).send().await.unwrap();
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(labels(&body), [expected], "{}", who.0);
    }
}

/// Asserts `400 Invalid query` in the platform's envelope for `query`, through the Table API
/// and the Aggregate API; returns the detail.
async fn refused_as(app: &TestApp, who: (&str, &str), query: &str) -> String {
    let mut details = Vec::new();
    for path in [
        "/api/now/table/interaction?sysparm_query=",
        "/api/now/stats/interaction?sysparm_count=true&sysparm_query=",
    ] {
        let path = format!("{path}{}", query_encoded(query));
        let response = app.as_user(who, Method::GET, &path).send().await.unwrap();
        let detail = assert_error(response, StatusCode::BAD_REQUEST, "Invalid query").await;
        details.push(detail.as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(details[0], details[1], "{query}");
    details.remove(0)
}

#[tokio::test]
async fn options_and_functions_switchboard_does_not_read_are_400() {
    let app = TestApp::spawn().await;
    assignments(&app).await;
    for (query, words) in [
        // One of My Groups, One of My Assignments, and no option at all.
        (
            "assigned_toDYNAMICd6435e965f510100a9ad2572f2b47744",
            "names a dynamic filter option switchboard lacks (it has only Me)",
        ),
        (
            "assigned_toDYNAMIC0f63961e5f510100a9ad2572f2b47745",
            "option switchboard lacks",
        ),
        ("assigned_toDYNAMICMe", "option switchboard lacks"),
        // "Me" is a user: not a queue, nor text.
        (
            &format!("queueDYNAMIC{ME}"),
            "DYNAMIC Me needs a reference to sys_user (field 'queue')",
        ),
        (
            &format!("short_descriptionDYNAMIC{ME}"),
            "needs a reference to sys_user",
        ),
        (
            "queue=javascript:gs.getUserID()",
            "gs.getUserID() is the caller's sys_id, for a text field or a reference to sys_user",
        ),
        (
            "assigned_to=javascript:gs.getUserDisplayName()",
            "'javascript:gs.getUserDisplayName()' is not a function switchboard reads",
        ),
        (
            "assigned_toLIKEjavascript:gs.getUserName()",
            "switchboard runs no script",
        ),
    ] {
        let detail = refused_as(&app, ALICE, query).await;
        assert!(detail.contains(words), "{query}: {detail}");
        assert!(detail.chars().count() < 160, "{detail}");
    }
}
