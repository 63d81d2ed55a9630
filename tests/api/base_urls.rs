//! Every URL switchboard builds (the `Link` paging header, reference links, `Location`) names
//! the address the client used, however it came: HTTP/1.1 (`Host`), HTTP/2 without TLS
//! (prior-knowledge h2c, where the authority is in the request and there is no `Host`), and,
//! in `tls.rs`, HTTP/2 over TLS; or the operator's `--public-url` when one is given.

use reqwest::{Method, StatusCode, Version};
use serde_json::{Value, json};

use super::helpers::{ADMIN, TestApp, client, client_builder, json_of};

/// The three URLs a client gets from the Table API: a page's `Link` header (first, next...),
/// a reference's `link`, and a new record's `Location` (of a grant of `role` to admin). Asserts
/// each starts with `base`, and that the answers came over `version`.
pub async fn assert_urls_start_with(
    http: &reqwest::Client,
    url: impl Fn(&str) -> String,
    base: &str,
    version: Version,
    role: &str,
) {
    let page = http
        .get(url("/api/now/table/sys_user_role?sysparm_limit=1"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await
        .unwrap();
    assert_eq!(page.version(), version);
    assert_eq!(page.status(), StatusCode::OK);
    let links = page.headers()["link"].to_str().unwrap().to_owned();
    for link in links.split(',') {
        assert!(
            link.starts_with(&format!("<{base}/api/now/table/sys_user_role?")),
            "{link} (base {base})"
        );
    }
    let created = http
        .request(Method::POST, url("/api/now/table/sys_user_has_role"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .json(&json!({"user": "admin", "role": role}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{base}/api/now/table/sys_user_has_role/")),
        "{location} (base {base})"
    );
    let (_, body): (_, Value) = json_of(created).await;
    let link = body["result"]["user"]["link"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{base}/api/now/table/sys_user/")),
        "{link} (base {base})"
    );
}

#[tokio::test]
async fn urls_name_the_host_and_port_of_an_http1_request() {
    let app = TestApp::spawn().await;
    assert_urls_start_with(
        &client(),
        |p| app.url(p),
        &app.base,
        Version::HTTP_11,
        "awa_manager",
    )
    .await;
}

#[tokio::test]
async fn urls_name_the_authority_of_an_h2c_request_which_has_no_host_header() {
    let app = TestApp::spawn().await;
    let h2c = client_builder().http2_prior_knowledge().build().unwrap();
    assert_urls_start_with(
        &h2c,
        |p| app.url(p),
        &app.base,
        Version::HTTP_2,
        "awa_manager",
    )
    .await;
}

#[tokio::test]
async fn a_public_url_is_the_base_of_every_url_whatever_the_request_says() {
    let public = "https://switchboard.example.com/servicenow";
    let app = TestApp::spawn_with(|config| {
        config.public_url = Some(format!("{public}/").parse().unwrap());
    })
    .await;
    assert_urls_start_with(
        &client(),
        |p| app.url(p),
        public,
        Version::HTTP_11,
        "awa_manager",
    )
    .await;
    let h2c = client_builder().http2_prior_knowledge().build().unwrap();
    assert_urls_start_with(&h2c, |p| app.url(p), public, Version::HTTP_2, "awa_agent").await;
}
