//! The External ID Mapping API:
//! `GET|PUT /api/sn_ct_ctr_it_core/external_id_mapping/table/{tableName}/documentId/{documentId}`
//! stores and answers a CCaaS provider's routing id for a record of any table.

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_content_type, assert_error, assert_unauthenticated, fetch_records, json_of,
    text_of,
};

const ADMIN: (&str, &str) = ("ccaas", "ccaas-password");
const TABLE: &str = "sn_ct_ctr_it_core_ccaas_external_id_mapping";
const CASE: &str = "f584a7b23b3d3e10c524c59a04e45a6f";
const PROVIDER: &str = "8b592fb64f140210c0338ef0b1ce0b18";
const OTHER_PROVIDER: &str = "0c592fb64f140210c0338ef0b1ce0b99";

async fn app() -> TestApp {
    let app = TestApp::spawn().await;
    app.user(ADMIN.0, ADMIN.1, &["sn_ct_ctr_it_core.admin"])
        .await;
    app
}

fn path(table: &str, document: &str) -> String {
    format!("/api/sn_ct_ctr_it_core/external_id_mapping/table/{table}/documentId/{document}")
}

async fn put_at(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    json_of(
        app.as_user(ADMIN, Method::PUT, path)
            .header(ACCEPT, "application/json")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn put(app: &TestApp, table: &str, document: &str, body: Value) -> (StatusCode, Value) {
    put_at(app, &path(table, document), body).await
}

async fn get_at(app: &TestApp, path: &str) -> (StatusCode, Value) {
    json_of(
        app.as_user(ADMIN, Method::GET, path)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn success(verb: &str, table: &str, document: &str) -> Value {
    json!({"result": {
        "message": format!("External ID mapping record {verb} for {table} [{document}]"),
        "status": "success",
    }})
}

fn failure(message: &str) -> Value {
    json!({"result": {"error": {"message": message}, "status": "failure"}})
}

fn data(table: &str, document: &str, external_id: &str, provider: &str) -> Value {
    json!({"result": {"data": {
        "document_table": table,
        "document_id": document,
        "external_id": external_id,
        "external_provider": provider,
    }}})
}

async fn records(app: &TestApp) -> Vec<Value> {
    fetch_records(app, TABLE, "").await
}

#[tokio::test]
async fn external_id_the_same_put_twice_inserts_then_updates_one_record() {
    let app = app().await;
    let body = json!({"external_id": "200", "external_provider": PROVIDER});
    let case = "sn_customerservice_case";
    let (status, answer) = put(&app, case, CASE, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer, success("inserted", case, CASE));
    let (status, answer) = put(&app, case, CASE, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // The page's sample answer, letter for letter.
    assert_eq!(
        answer,
        json!({"result": {
            "message": "External ID mapping record updated for sn_customerservice_case [f584a7b23b3d3e10c524c59a04e45a6f]",
            "status": "success"
        }})
    );
    // A new external id updates the same record.
    let (status, _) = put(
        &app,
        case,
        CASE,
        json!({"external_id": "201", "external_provider": PROVIDER}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let stored = records(&app).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["document_table"], case);
    assert_eq!(stored[0]["document_id"], CASE);
    assert_eq!(stored[0]["external_id"], "201");
    assert_eq!(stored[0]["external_provider"], PROVIDER);
    assert_eq!(stored[0]["sys_created_by"], ADMIN.0);

    let (status, answer) = get_at(&app, &path(case, CASE)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, data(case, CASE, "201", PROVIDER));
}

#[tokio::test]
async fn external_id_providers_keep_separate_mappings() {
    let app = app().await;
    let case = "sn_customerservice_case";
    for (provider, id) in [(PROVIDER, "200"), (OTHER_PROVIDER, "900")] {
        let body = json!({"external_id": id, "external_provider": provider});
        let (status, answer) = put(&app, case, CASE, body).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    assert_eq!(records(&app).await.len(), 2);
    for (provider, id) in [(PROVIDER, "200"), (OTHER_PROVIDER, "900")] {
        let at = format!("{}?external_provider={provider}", path(case, CASE));
        let (status, answer) = get_at(&app, &at).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer, data(case, CASE, id, provider));
    }
    // Without a provider: one of the record's mappings.
    let (status, answer) = get_at(&app, &path(case, CASE)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let id = answer["result"]["data"]["external_id"].as_str().unwrap();
    assert!(id == "200" || id == "900", "{answer}");
    // A provider without a mapping for the record is 404.
    let at = format!("{}?external_provider=nobody", path(case, CASE));
    let (status, answer) = get_at(&app, &at).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
}

#[tokio::test]
async fn external_id_any_table_name_and_both_url_forms() {
    let app = app().await;
    let tables = [
        "interaction",
        "sn_customerservice_task",
        "u_custom_table",
        "incident",
    ];
    for (i, table) in tables.iter().enumerate() {
        let at = match i % 2 {
            0 => path(table, CASE),
            _ => format!(
                "/api/sn_ct_ctr_it_core/v1/external_id_mapping/table/{table}/documentId/{CASE}"
            ),
        };
        let body = json!({"external_id": format!("id-{i}"), "external_provider": PROVIDER});
        let (status, answer) = put_at(&app, &at, body).await;
        assert_eq!(status, StatusCode::CREATED, "{table}: {answer}");
        assert_eq!(answer, success("inserted", table, CASE));
    }
    for (i, table) in tables.iter().enumerate() {
        let at = format!(
            "/api/sn_ct_ctr_it_core/v1/external_id_mapping/table/{table}/documentId/{CASE}"
        );
        let (status, answer) = get_at(&app, &at).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer, data(table, CASE, &format!("id-{i}"), PROVIDER));
    }
    assert_eq!(records(&app).await.len(), tables.len());
}

#[tokio::test]
async fn external_id_get_of_a_record_without_mapping_is_404() {
    let app = app().await;
    let (status, answer) = get_at(&app, &path("sn_customerservice_case", CASE)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert_eq!(
        answer,
        failure(&format!(
            "No external ID mapping found for sn_customerservice_case [{CASE}]"
        ))
    );
}

#[tokio::test]
async fn external_id_bad_requests_have_the_documented_messages() {
    let app = app().await;
    let case = "sn_customerservice_case";
    let cases = [
        (
            json!({"external_provider": PROVIDER}),
            "Mandatory field external_id is missing".to_owned(),
        ),
        (
            json!({"external_id": "", "external_provider": PROVIDER}),
            "Mandatory field external_id is missing".into(),
        ),
        (
            json!({"external_id": 200, "external_provider": PROVIDER}),
            "Field external_id must be a string".into(),
        ),
        (
            json!({"external_id": "x".repeat(201), "external_provider": PROVIDER}),
            "Field external_id exceeds the maximum length of 200 characters".into(),
        ),
        (
            json!({"external_id": "200"}),
            "Mandatory field external_provider is missing".into(),
        ),
        (
            json!({"external_id": "200", "external_provider": 7}),
            "Field external_provider must be a string".into(),
        ),
    ];
    for (body, message) in cases {
        let (status, answer) = put(&app, case, CASE, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer, failure(&message), "{body}");
    }
    // 200 characters exactly is accepted.
    let body = json!({"external_id": "x".repeat(200), "external_provider": PROVIDER});
    let (status, answer) = put(&app, case, CASE, body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");

    // An invalid table name, on both methods.
    let bad = path("1bad-name", CASE);
    let body = json!({"external_id": "200", "external_provider": PROVIDER});
    let (status, answer) = put_at(&app, &bad, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer, failure("Invalid table name 1bad-name"));
    let (status, answer) = get_at(&app, &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer, failure("Invalid table name 1bad-name"));

    // A body that is not JSON.
    let response = app
        .as_user(ADMIN, Method::PUT, &path(case, CASE))
        .header(CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, answer) = json_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["result"]["status"], "failure", "{answer}");
    assert_eq!(records(&app).await.len(), 1);
}

#[tokio::test]
async fn external_id_get_answers_xml_and_put_only_json() {
    let app = app().await;
    let case = "sn_customerservice_case";
    let body = json!({"external_id": "200", "external_provider": PROVIDER});
    put(&app, case, CASE, body).await;
    let response = app
        .as_user(ADMIN, Method::GET, &path(case, CASE))
        .header(ACCEPT, "application/xml")
        .send()
        .await
        .unwrap();
    assert_content_type(&response, "application/xml");
    let (status, xml) = text_of(response).await;
    assert_eq!(status, StatusCode::OK, "{xml}");
    for part in [
        "<external_id>200</external_id>",
        &format!("<external_provider>{PROVIDER}</external_provider>"),
        &format!("<document_id>{CASE}</document_id>"),
        "<document_table>sn_customerservice_case</document_table>",
    ] {
        assert!(xml.contains(part), "{part} in {xml}");
    }
    // PUT: an Accept of XML is 406, an XML body 415.
    let response = app
        .as_user(ADMIN, Method::PUT, &path(case, CASE))
        .header(ACCEPT, "application/xml")
        .json(&json!({"external_id": "201", "external_provider": PROVIDER}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::NOT_ACCEPTABLE, "Not Acceptable").await;
    let response = app
        .as_user(ADMIN, Method::PUT, &path(case, CASE))
        .header(CONTENT_TYPE, "application/xml")
        .body("<request><external_id>201</external_id></request>")
        .send()
        .await
        .unwrap();
    assert_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Unsupported Media Type",
    )
    .await;
    let stored = records(&app).await;
    assert_eq!(stored[0]["external_id"], "200");
}

#[tokio::test]
async fn external_id_needs_the_role_and_credentials() {
    let app = app().await;
    app.user(
        "agent",
        "agent-password",
        &["awa_integration_user", "interaction_agent"],
    )
    .await;
    let at = path("sn_customerservice_case", CASE);
    let body = json!({"external_id": "200", "external_provider": PROVIDER});
    for method in [Method::GET, Method::PUT] {
        let response = app
            .as_user(("agent", "agent-password"), method.clone(), &at)
            .json(&body)
            .send()
            .await
            .unwrap();
        let detail = assert_error(response, StatusCode::FORBIDDEN, "User Not Authorized").await;
        assert_eq!(detail, "Failed API level ACL Validation", "{method}");
        let response = app
            .anonymous(method.clone(), &at)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_unauthenticated(response).await;
    }
    assert!(records(&app).await.is_empty());
    // admin passes every role check.
    let response = app
        .admin(Method::PUT, &at)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}
