//! Content negotiation: the response format from `Accept` (JSON, XML, 406), errors in the
//! negotiated format, and request bodies read by `Content-Type` (JSON, XML, 415, malformed 400s).

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN, TestApp, assert_error, assert_unreadable_request, basic_authorization, content_type,
    header, json_of, raw, sys_id_of, user_sys_id,
};

const JSON_TYPE: &str = "application/json;charset=UTF-8";
const XML_TYPE: &str = "application/xml;charset=UTF-8";
const XML_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;
const ROLES: &str = "/api/now/table/sys_user_role";
const QUEUES: &str = "/api/now/table/awa_queue";

/// GET `path` as admin with `accept`; returns status, Content-Type and body text.
async fn get_with_accept(app: &TestApp, path: &str, accept: &str) -> (StatusCode, String, String) {
    let response = app
        .admin(Method::GET, path)
        .header(ACCEPT, accept)
        .send()
        .await
        .unwrap();
    let ct = content_type(&response);
    (response.status(), ct, response.text().await.unwrap())
}

/// POST `body` to `path` as admin with this Content-Type (none if `None`).
async fn post(app: &TestApp, path: &str, content_type: Option<&str>, body: &str) -> Response {
    let mut request = app.admin(Method::POST, path).body(body.to_owned());
    if let Some(ct) = content_type {
        request = request.header(CONTENT_TYPE, ct);
    }
    request.send().await.unwrap()
}

async fn server_is_healthy(app: &TestApp) {
    let response = app.admin(Method::GET, ROLES).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn no_accept_header_answers_json() {
    let app = TestApp::spawn().await;
    let id = user_sys_id(&app, ADMIN.0).await;
    let auth = basic_authorization(ADMIN);
    let response = raw(
        &app,
        "GET",
        &format!("/api/now/table/sys_user/{id}"),
        &[("Authorization", &auth)],
        Vec::new(),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("content-type"), Some(JSON_TYPE));
    assert_eq!(response.json()["result"]["user_name"], "admin");
}

#[tokio::test]
async fn wildcard_and_json_accept_answer_json() {
    let app = TestApp::spawn().await;
    let id = user_sys_id(&app, ADMIN.0).await;
    let path = format!("/api/now/table/sys_user/{id}");
    for accept in [
        "*/*",
        "application/json",
        "application/*",
        "APPLICATION/JSON",
        "application/json;charset=UTF-8",
        "text/html, application/json;q=0.5",
    ] {
        let (status, ct, text) = get_with_accept(&app, &path, accept).await;
        assert_eq!(status, StatusCode::OK, "{accept}: {text}");
        assert_eq!(ct, JSON_TYPE, "{accept}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["result"]["sys_id"], id.as_str(), "{accept}");
    }
}

#[tokio::test]
async fn xml_accept_answers_xml() {
    let app = TestApp::spawn().await;
    let id = user_sys_id(&app, ADMIN.0).await;
    let path = format!("/api/now/table/sys_user/{id}");
    for accept in ["application/xml", "text/xml"] {
        let (status, ct, text) = get_with_accept(&app, &path, accept).await;
        assert_eq!(status, StatusCode::OK, "{accept}: {text}");
        assert_eq!(ct, XML_TYPE, "{accept}");
        assert!(
            text.starts_with(&format!("{XML_HEAD}<response><result>")),
            "{text}"
        );
        assert!(text.ends_with("</result></response>"), "{text}");
        assert_eq!(text.matches("<result>").count(), 1, "{text}");
        assert!(text.contains(&format!("<sys_id>{id}</sys_id>")), "{text}");
        assert!(text.contains("<user_name>admin</user_name>"), "{text}");
        assert!(text.contains("<active>true</active>"), "{text}");
    }
}

#[tokio::test]
async fn an_xml_list_repeats_result_per_record() {
    let app = TestApp::spawn().await;
    let (status, body) = json_of(app.admin(Method::GET, ROLES).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<String> = body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.len() >= 7, "the built-in roles: {names:?}");

    let (status, ct, text) = get_with_accept(&app, ROLES, "application/xml").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct, XML_TYPE);
    assert!(
        text.starts_with(&format!("{XML_HEAD}<response><result>")),
        "{text}"
    );
    assert!(text.ends_with("</result></response>"), "{text}");
    assert_eq!(text.matches("<result>").count(), names.len(), "{text}");
    assert_eq!(text.matches("</result>").count(), names.len(), "{text}");
    assert!(!text.contains("<result><result>"), "no wrapping: {text}");
    for name in &names {
        assert!(text.contains(&format!("<name>{name}</name>")), "{name}");
    }

    // An empty list is an empty response element.
    let (status, _, text) =
        get_with_accept(&app, "/api/now/table/awa_queue", "application/xml").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text, format!("{XML_HEAD}<response></response>"));
}

#[tokio::test]
async fn q_values_choose_the_format() {
    let app = TestApp::spawn().await;
    let cases = [
        ("application/json;q=0.1, application/xml", XML_TYPE),
        ("application/xml;q=0.4, application/json;q=0.9", JSON_TYPE),
        ("application/json;q=0, text/xml", XML_TYPE),
        ("text/html, application/xml;q=0.8, */*;q=0.1", XML_TYPE),
        ("application/xml;q=0.2, */*;q=0.5", JSON_TYPE),
        // On a tie, the first named wins.
        ("application/json, application/xml", JSON_TYPE),
        ("application/xml, application/json", XML_TYPE),
    ];
    for (accept, expected) in cases {
        let (status, ct, text) = get_with_accept(&app, ROLES, accept).await;
        assert_eq!(status, StatusCode::OK, "{accept}: {text}");
        assert_eq!(ct, expected, "{accept}");
        if expected == XML_TYPE {
            assert!(text.starts_with(XML_HEAD), "{accept}: {text}");
        } else {
            serde_json::from_str::<Value>(&text).unwrap();
        }
    }
}

#[tokio::test]
async fn an_accept_naming_no_format_we_speak_is_406_in_json() {
    let app = TestApp::spawn().await;
    for accept in ["text/html", "image/png, text/plain", "application/json;q=0"] {
        let response = app
            .admin(Method::GET, ROLES)
            .header(ACCEPT, accept)
            .send()
            .await
            .unwrap();
        assert_eq!(header(&response, CONTENT_TYPE), Some(JSON_TYPE));
        let detail = assert_error(response, StatusCode::NOT_ACCEPTABLE, "Not Acceptable").await;
        assert!(detail.is_string(), "{detail}");
    }
    // A write refused for its Accept header changes nothing.
    let response = app
        .admin(Method::POST, QUEUES)
        .header(ACCEPT, "text/html")
        .json(&json!({"name": "never"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_ACCEPTABLE);
    let (_, body) = json_of(app.admin(Method::GET, QUEUES).send().await.unwrap()).await;
    assert_eq!(body["result"], json!([]));
}

#[tokio::test]
async fn a_404_is_rendered_in_xml_when_xml_is_accepted() {
    let app = TestApp::spawn().await;
    let (status, ct, text) = get_with_accept(
        &app,
        "/api/now/table/sys_user/0123456789abcdef0123456789abcdef",
        "application/xml",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(ct, XML_TYPE);
    assert_eq!(
        text,
        format!(
            "{XML_HEAD}<response><error><message>No Record found</message>\
             <detail>Record doesn't exist or ACL restricts the record retrieval</detail>\
             </error><status>failure</status></response>"
        )
    );
}

#[tokio::test]
async fn a_401_is_rendered_in_xml_when_xml_is_accepted() {
    let app = TestApp::spawn().await;
    let response = app
        .anonymous(Method::GET, ROLES)
        .header(ACCEPT, "text/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some(r#"BASIC realm="Service-now""#)
    );
    assert_eq!(header(&response, CONTENT_TYPE), Some(XML_TYPE));
    assert_eq!(
        response.text().await.unwrap(),
        format!(
            "{XML_HEAD}<response><error><message>User Not Authenticated</message>\
             <detail>Required to provide Auth information</detail>\
             </error><status>failure</status></response>"
        )
    );
}

#[tokio::test]
async fn a_body_error_is_rendered_in_xml_when_xml_is_accepted() {
    let app = TestApp::spawn().await;
    let response = app
        .admin(Method::POST, QUEUES)
        .header(ACCEPT, "application/xml")
        .header(CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(header(&response, CONTENT_TYPE), Some(XML_TYPE));
    let text = response.text().await.unwrap();
    assert!(
        text.starts_with(&format!(
            "{XML_HEAD}<response><error><message>Exception while reading request</message><detail>"
        )),
        "{text}"
    );
    assert!(
        text.ends_with("</detail></error><status>failure</status></response>"),
        "{text}"
    );
}

/// The fields of a created user that the body decides.
fn user_fields(result: &Value) -> Value {
    json!({
        "first_name": result["first_name"],
        "last_name": result["last_name"],
        "name": result["name"],
        "email": result["email"],
        "active": result["active"],
    })
}

#[tokio::test]
async fn json_and_both_xml_body_forms_create_the_same_record() {
    let app = TestApp::spawn().await;
    let bodies = [
        (
            "application/json",
            r#"{"user_name": "u1", "first_name": "Ada", "last_name": "Lovelace & Co", "email": "ada@example.com", "active": "false"}"#.to_owned(),
        ),
        (
            "application/xml",
            "<request><entry><user_name>u2</user_name><first_name>Ada</first_name>\
             <last_name>Lovelace &amp; Co</last_name><email>ada@example.com</email>\
             <active>false</active></entry></request>"
                .to_owned(),
        ),
        (
            "text/xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<record>\n  <user_name>u3</user_name>\n  \
             <first_name>Ada</first_name>\n  <last_name>Lovelace &amp; Co</last_name>\n  \
             <email>ada@example.com</email>\n  <active>false</active>\n</record>\n"
                .to_owned(),
        ),
    ];
    let mut created = Vec::new();
    for (i, (ct, body)) in bodies.iter().enumerate() {
        let (status, result) =
            json_of(post(&app, "/api/now/table/sys_user", Some(ct), body).await).await;
        assert_eq!(status, StatusCode::CREATED, "{ct}: {result}");
        assert_eq!(result["result"]["user_name"], format!("u{}", i + 1));
        created.push(result["result"].clone());
    }
    let expected = json!({
        "first_name": "Ada",
        "last_name": "Lovelace & Co",
        "name": "Ada Lovelace & Co",
        "email": "ada@example.com",
        "active": "false",
    });
    for record in &created {
        assert_eq!(user_fields(record), expected, "{record}");
    }
    // And as stored, read back.
    for record in &created {
        let id = sys_id_of(record);
        let (_, body) = json_of(
            app.admin(Method::GET, &format!("/api/now/table/sys_user/{id}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(user_fields(&body["result"]), expected);
    }
}

#[tokio::test]
async fn an_xml_body_can_update_a_record() {
    let app = TestApp::spawn().await;
    let queue = app.insert("awa_queue", json!({"name": "before"})).await;
    let id = sys_id_of(&queue);
    let response = app
        .admin(Method::PUT, &format!("{QUEUES}/{id}"))
        .header(CONTENT_TYPE, "application/xml")
        .header(ACCEPT, "application/xml")
        .body("<request><entry><name>after</name></entry></request>")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(text.contains("<name>after</name>"), "{text}");
}

#[tokio::test]
async fn an_unsupported_content_type_is_415() {
    let app = TestApp::spawn().await;
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "text/html; charset=utf-8",
    ] {
        let response = post(&app, QUEUES, Some(ct), r#"{"name": "q"}"#).await;
        assert_error(
            response,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type",
        )
        .await;
    }
    let (_, body) = json_of(app.admin(Method::GET, QUEUES).send().await.unwrap()).await;
    assert_eq!(body["result"], json!([]), "nothing was created");
}

#[tokio::test]
async fn a_body_without_content_type_is_400() {
    let app = TestApp::spawn().await;
    let response = post(&app, QUEUES, None, r#"{"name": "q"}"#).await;
    let detail = assert_unreadable_request(response).await;
    assert!(
        detail.as_str().unwrap().contains("Content-Type"),
        "{detail}"
    );
    let (_, body) = json_of(app.admin(Method::GET, QUEUES).send().await.unwrap()).await;
    assert_eq!(body["result"], json!([]), "nothing was created");
}

#[tokio::test]
async fn an_empty_body_without_content_type_creates_a_record_with_defaults() {
    let app = TestApp::spawn().await;
    let (status, body) = json_of(post(&app, QUEUES, None, "").await).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["active"], "true");
    assert_eq!(body["result"]["name"], "");
    let id = sys_id_of(&body["result"]);
    let response = app
        .admin(Method::GET, &format!("{QUEUES}/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Whitespace alone counts as empty too.
    let (status, body) = json_of(post(&app, QUEUES, None, " \r\n\t").await).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn malformed_json_is_400_saying_json() {
    let app = TestApp::spawn().await;
    for body in [
        r#"{"name": "q""#,
        r#"{"name": q}"#,
        "{'name': 'q'}",
        r#"{"name": "q"} trailing"#,
    ] {
        let response = post(&app, QUEUES, Some("application/json"), body).await;
        let detail = assert_unreadable_request(response).await;
        assert!(
            detail.as_str().unwrap().contains("JSON"),
            "{body}: {detail}"
        );
    }
}

#[tokio::test]
async fn malformed_xml_is_400_saying_xml() {
    let app = TestApp::spawn().await;
    for body in [
        "<request><entry><name>q</entry></request>",
        "<request><name>q</name>",
        "<request><name>a & b</name></request>",
        "<a/><b/>",
        "not xml at all",
        "<r><x>&undefined;</x></r>",
    ] {
        let response = post(&app, QUEUES, Some("application/xml"), body).await;
        let detail = assert_unreadable_request(response).await;
        assert!(detail.as_str().unwrap().contains("XML"), "{body}: {detail}");
    }
    server_is_healthy(&app).await;
}

#[tokio::test]
async fn xml_with_a_doctype_is_refused_and_the_server_stays_healthy() {
    let app = TestApp::spawn().await;
    let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<request><entry><name>&lol9;</name></entry></request>"#;
    let response = post(&app, QUEUES, Some("application/xml"), laughs).await;
    let detail = assert_unreadable_request(response).await;
    let detail = detail.as_str().unwrap();
    assert!(detail.contains("XML"), "{detail}");
    assert!(detail.contains("DOCTYPE"), "{detail}");
    // External entities are refused the same way.
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r><name>&x;</name></r>"#;
    let response = post(&app, QUEUES, Some("application/xml"), xxe).await;
    assert_unreadable_request(response).await;
    server_is_healthy(&app).await;
    let (_, body) = json_of(app.admin(Method::GET, QUEUES).send().await.unwrap()).await;
    assert_eq!(body["result"], json!([]), "nothing was created");
}

#[tokio::test]
async fn deeply_nested_xml_is_400() {
    let app = TestApp::spawn().await;
    let body = format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000));
    let response = post(&app, QUEUES, Some("application/xml"), &body).await;
    let detail = assert_unreadable_request(response).await;
    assert!(detail.as_str().unwrap().contains("XML"), "{detail}");
    server_is_healthy(&app).await;
}

#[tokio::test]
async fn deeply_nested_json_is_400_not_a_crash() {
    let app = TestApp::spawn().await;
    for body in [
        "[".repeat(10_000),
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
        format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000)),
    ] {
        let response = post(&app, QUEUES, Some("application/json"), &body).await;
        let detail = assert_unreadable_request(response).await;
        assert!(detail.as_str().unwrap().contains("JSON"), "{detail}");
    }
    server_is_healthy(&app).await;
}

#[tokio::test]
async fn a_json_body_that_is_not_an_object_is_400() {
    let app = TestApp::spawn().await;
    for body in [r#"[{"name": "q"}]"#, r#""name""#, "42", "true"] {
        let response = post(&app, QUEUES, Some("application/json"), body).await;
        assert_unreadable_request(response).await;
    }
    let (_, body) = json_of(app.admin(Method::GET, QUEUES).send().await.unwrap()).await;
    assert_eq!(body["result"], json!([]), "nothing was created");
}

#[tokio::test]
async fn a_charset_parameter_on_content_type_is_accepted() {
    let app = TestApp::spawn().await;
    let cases = [
        ("application/json; charset=utf-8", r#"{"name": "j1"}"#),
        ("application/json;charset=UTF-8", r#"{"name": "j2"}"#),
        (
            "application/xml; charset=UTF-8",
            "<request><entry><name>x1</name></entry></request>",
        ),
        ("text/xml;charset=utf-8", "<record><name>x2</name></record>"),
    ];
    for (ct, body) in cases {
        let (status, result) = json_of(post(&app, QUEUES, Some(ct), body).await).await;
        assert_eq!(status, StatusCode::CREATED, "{ct}: {result}");
    }
    let (_, body) = json_of(
        app.admin(Method::GET, &format!("{QUEUES}?sysparm_query=ORDERBYname"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let names: Vec<&str> = body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["j1", "j2", "x1", "x2"]);
}

#[tokio::test]
async fn a_created_record_is_answered_in_xml_when_xml_is_accepted() {
    let app = TestApp::spawn().await;
    let response = app
        .admin(Method::POST, QUEUES)
        .header(ACCEPT, "application/xml")
        .json(&json!({"name": "xml answer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(header(&response, CONTENT_TYPE), Some(XML_TYPE));
    let text = response.text().await.unwrap();
    assert!(
        text.starts_with(&format!("{XML_HEAD}<response><result>")),
        "{text}"
    );
    assert!(text.contains("<name>xml answer</name>"), "{text}");
}
