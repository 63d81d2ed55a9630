//! The Aggregate API (`GET /api/now/stats/{table}`): count, avg, min, max and sum, in groups,
//! with having, ordering and display values, over the same queries and read rights as the
//! Table API. Runs on both backends (the PostgreSQL pass runs the whole suite again).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::helpers::{TestApp, assert_error, assert_unauthenticated, json_of, user_sys_id};

/// Four applications: two of admin's (lifespans 100 and 300), one of an agent's (200), one of
/// nobody's (50).
async fn applications(app: &TestApp) -> String {
    app.user("stats.agent", "stats-agent-password", &["awa_agent"])
        .await;
    let agent = user_sys_id(app, "stats.agent").await;
    for (name, user, lifespan) in [
        ("a1", Some("admin"), 100),
        ("a2", Some("admin"), 300),
        ("b1", Some("stats.agent"), 200),
        ("c1", None, 50),
    ] {
        let mut body = json!({"name": name, "client_id": name, "client_secret": "s", "access_token_lifespan": lifespan});
        if let Some(user) = user {
            body["user"] = json!(user);
        }
        app.insert("oauth_entity", body).await;
    }
    agent
}

async fn stats(app: &TestApp, query: &str) -> (StatusCode, Value) {
    let response = app
        .admin(Method::GET, &format!("/api/now/stats/oauth_entity?{query}"))
        .send()
        .await
        .unwrap();
    json_of(response).await
}

const LIFESPAN: &str = "access_token_lifespan";

#[tokio::test]
async fn count_and_functions_over_the_selected_records() {
    let app = TestApp::spawn().await;
    applications(&app).await;
    let (status, body) = stats(
        &app,
        &format!("sysparm_count=true&sysparm_avg_fields={LIFESPAN}&sysparm_min_fields={LIFESPAN},name&sysparm_max_fields={LIFESPAN}&sysparm_sum_fields={LIFESPAN}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["result"],
        json!({"stats": {
            "count": "4",
            "avg": {LIFESPAN: "162.5000"},
            "min": {LIFESPAN: "50", "name": "a1"},
            "max": {LIFESPAN: "300"},
            "sum": {LIFESPAN: "650"},
        }})
    );
    // The query, and plain field=value pairs, select what is counted.
    let (_, body) = stats(
        &app,
        &format!("sysparm_count=true&sysparm_query={LIFESPAN}>=100"),
    )
    .await;
    assert_eq!(body["result"]["stats"]["count"], "3");
    let (_, body) = stats(&app, "sysparm_count=true&name=a1").await;
    assert_eq!(body["result"]["stats"]["count"], "1");
    let (_, body) = stats(&app, "sysparm_count=true&name=nothing").await;
    assert_eq!(body["result"]["stats"]["count"], "0");
    // Neither a count nor a function: nothing to compute.
    let (_, body) = stats(&app, "").await;
    assert_eq!(body["result"], json!({"stats": {}}));
}

#[tokio::test]
async fn groups_with_having_order_and_display_values() {
    let app = TestApp::spawn().await;
    let agent = applications(&app).await;
    let admin = user_sys_id(&app, "admin").await;
    let group = |value: &str, count: &str, avg: &str| {
        json!({"stats": {"count": count, "avg": {LIFESPAN: avg}},
               "groupby_fields": [{"value": value, "field": "user"}]})
    };
    let base = format!("sysparm_count=true&sysparm_avg_fields={LIFESPAN}&sysparm_group_by=user");
    let (status, body) = stats(&app, &format!("{base}&sysparm_order_by=COUNT^DESC")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Ties (one record each) in the order of their group values, the empty one first.
    assert_eq!(
        body["result"],
        json!([
            group(&admin, "2", "200.0000"),
            group("", "1", "50.0000"),
            group(&agent, "1", "200.0000")
        ])
    );
    let (_, body) = stats(&app, &format!("{base}&sysparm_having=count^user^>^1")).await;
    assert_eq!(body["result"], json!([group(&admin, "2", "200.0000")]));
    let (_, body) = stats(&app, &format!("{base}&sysparm_having=avg^{LIFESPAN}^<^100")).await;
    assert_eq!(body["result"], json!([group("", "1", "50.0000")]));
    let (_, body) = stats(
        &app,
        &format!("{base}&sysparm_order_by=AVG^{LIFESPAN}^DESC,COUNT"),
    )
    .await;
    let order: Vec<&str> = body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["groupby_fields"][0]["value"].as_str().unwrap())
        .collect();
    assert_eq!(order, [agent.as_str(), admin.as_str(), ""]);

    let (_, body) = stats(
        &app,
        &format!("{base}&sysparm_having=count^user^>^1&sysparm_display_value=true"),
    )
    .await;
    assert_eq!(
        body["result"][0]["groupby_fields"],
        json!([{"value": "System Administrator", "field": "user"}])
    );
    let (_, body) = stats(
        &app,
        &format!("{base}&sysparm_having=count^user^>^1&sysparm_display_value=all"),
    )
    .await;
    assert_eq!(
        body["result"][0]["groupby_fields"],
        json!([{"display_value": "System Administrator", "value": admin, "field": "user"}])
    );
}

#[tokio::test]
async fn what_cannot_be_computed_or_read_is_refused() {
    let app = TestApp::spawn().await;
    applications(&app).await;
    for query in [
        "sysparm_avg_fields=name",
        "sysparm_sum_fields=nothing",
        "sysparm_min_fields=client_secret",
        "sysparm_count=true&sysparm_group_by=client_secret",
        "sysparm_count=true&sysparm_group_by=user&sysparm_order_by=name",
        "sysparm_count=true&sysparm_having=count^user^>^many",
        "sysparm_count=true&sysparm_having=median^user^>^1",
        "sysparm_count=true&sysparm_query=nameBOGUSx",
    ] {
        let (status, body) = stats(&app, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
    }
    let unknown = app
        .admin(Method::GET, "/api/now/stats/nope?sysparm_count=true")
        .send()
        .await
        .unwrap();
    assert_error(unknown, StatusCode::BAD_REQUEST, "Invalid table nope").await;
    let agent = ("stats.agent", "stats-agent-password");
    let forbidden = app
        .as_user(
            agent,
            Method::GET,
            "/api/now/stats/oauth_entity?sysparm_count=true",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    let anonymous = app
        .anonymous(
            Method::GET,
            "/api/now/stats/oauth_entity?sysparm_count=true",
        )
        .send()
        .await
        .unwrap();
    assert_unauthenticated(anonymous).await;
    // The versioned path, and XML.
    let xml = app
        .admin(
            Method::GET,
            "/api/now/v1/stats/oauth_entity?sysparm_count=true",
        )
        .header("accept", "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(xml.status(), StatusCode::OK);
    let text = xml.text().await.unwrap();
    assert!(text.contains("<count>4</count>"), "{text}");
}
