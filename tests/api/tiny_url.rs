//! TinyURL: `POST /api/now/tinyurl` keeps a long URL's query string under a short id, and a
//! Table API list given `sysparm_tiny` reads as if sent with it (Ansible's servicenow.itsm does
//! this for GET URLs over 2,048 characters).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::helpers::{TestApp, assert_error, assert_unauthenticated, json_of, sys_id_of};

const TINY: &str = "/api/now/tinyurl";

/// Shortens `url` as admin; the `sysparm_tiny` id from the answer.
async fn shorten(app: &TestApp, url: &str) -> String {
    let response = app
        .admin(Method::POST, TINY)
        .json(&json!({"url": url}))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let result = body["result"].as_str().unwrap();
    let (page, tiny) = result.split_once("?sysparm_tiny=").unwrap();
    assert_eq!(page, "awa_queue_list.do", "{result}");
    tiny.to_owned()
}

async fn get(app: &TestApp, path_and_query: &str) -> (StatusCode, Value, Option<String>) {
    let response = app.admin(Method::GET, path_and_query).send().await.unwrap();
    let link = response
        .headers()
        .get("link")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = json_of(response).await;
    (status, body, link)
}

#[tokio::test]
async fn a_long_query_reads_the_same_through_its_tiny_url() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(sys_id_of(
            &app.insert("awa_queue", json!({"name": format!("q{n}")}))
                .await,
        ));
    }
    // Three of the five, by sys_id, padded with sys_ids that match nothing (as Ansible's long
    // queries are), and two fields.
    let mut wanted: Vec<String> = ids[..3].to_vec();
    wanted.extend((0..80).map(|n| format!("{n:032x}")));
    let query = format!(
        "sysparm_query=sys_idIN{}^ORDERBYname&sysparm_fields=name,sys_id",
        wanted.join(",")
    );
    let long = format!("/api/now/table/awa_queue?{query}");
    assert!(app.url(&long).len() > 2048);
    let (status, direct, _) = get(&app, &long).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(direct["result"].as_array().unwrap().len(), 3);

    let tiny = shorten(&app, &app.url(&long)).await;
    assert_eq!(
        shorten(&app, &app.url(&long)).await,
        tiny,
        "one query, one tiny URL"
    );
    let (status, through_tiny, _) = get(
        &app,
        &format!("/api/now/table/awa_queue?sysparm_tiny={tiny}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{through_tiny}");
    assert_eq!(through_tiny, direct);

    // The request's own parameters win, and paging links keep the tiny id, not the long query.
    let (status, page, link) = get(
        &app,
        &format!("/api/now/table/awa_queue?sysparm_tiny={tiny}&sysparm_limit=2"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = page["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["q0", "q1"]);
    let link = link.unwrap();
    assert!(
        link.contains(&format!("sysparm_tiny={tiny}")) && !link.contains("sys_idIN"),
        "{link}"
    );
}

#[tokio::test]
async fn an_unknown_tiny_id_or_a_missing_url_is_a_400_and_strangers_get_a_401() {
    let app = TestApp::spawn().await;
    let response = app
        .admin(Method::GET, "/api/now/table/awa_queue?sysparm_tiny=nope")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "Invalid parameter").await;
    for body in [json!({}), json!({"url": 5}), json!({"url": " "})] {
        let response = app
            .admin(Method::POST, TINY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::BAD_REQUEST, "Invalid request").await;
    }
    let response = app
        .anonymous(Method::POST, TINY)
        .json(&json!({"url": "/x?y=1"}))
        .send()
        .await
        .unwrap();
    assert_unauthenticated(response).await;
}
