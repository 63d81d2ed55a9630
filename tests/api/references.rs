//! Reference fields: how they render in every `sysparm_display_value` /
//! `sysparm_exclude_reference_link` mode (JSON and XML), and how a write may name the referenced
//! record (sys_id, display value, or the object a read returned).

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::helpers::{ADMIN, TestApp, assert_error, json_of, sys_id_of};

// ---------------------------------------------------------------------------------------------
// Local helpers
// ---------------------------------------------------------------------------------------------

/// GETs one record as admin with the given query string; returns its `result`.
async fn read(app: &TestApp, table: &str, sys_id: &str, params: &str) -> Value {
    let path = format!("/api/now/table/{table}/{sys_id}?{params}");
    let (status, body) = json_of(app.admin(Method::GET, &path).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body["result"].clone()
}

/// POSTs a record as admin; returns the status and body.
async fn post(app: &TestApp, table: &str, body: Value) -> (StatusCode, Value) {
    let response = app
        .admin(Method::POST, &format!("/api/now/table/{table}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    json_of(response).await
}

/// The `link` a reference to `table`/`sys_id` carries.
fn link(app: &TestApp, table: &str, sys_id: &str) -> String {
    app.url(&format!("/api/now/table/{table}/{sys_id}"))
}

/// The sys_ids of a user "Ada Lovelace" (user_name `ada`), of the role `interaction_agent`, and
/// of the grant of that role to that user.
struct Grant {
    user: String,
    role: String,
    grant: String,
}

/// Creates the user and the grant of [`Grant`].
async fn grant(app: &TestApp) -> Grant {
    let user = app
        .insert(
            "sys_user",
            json!({"user_name": "ada", "first_name": "Ada", "last_name": "Lovelace"}),
        )
        .await;
    let grant = app
        .insert(
            "sys_user_has_role",
            json!({"user": sys_id_of(&user), "role": "interaction_agent"}),
        )
        .await;
    let role = grant["role"]["value"].as_str().unwrap().to_owned();
    Grant {
        user: sys_id_of(&user),
        role,
        grant: sys_id_of(&grant),
    }
}

/// The sys_id of the role with this name.
async fn role_id(app: &TestApp, name: &str) -> String {
    let path = format!("/api/now/table/sys_user_role?sysparm_query=name={name}");
    let (status, body) = json_of(app.admin(Method::GET, &path).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let roles = body["result"].as_array().unwrap();
    assert_eq!(roles.len(), 1, "{body}");
    sys_id_of(&roles[0])
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_reference_reads_as_link_and_value_by_default() {
    let app = TestApp::spawn().await;
    let g = grant(&app).await;
    assert_eq!(g.role, role_id(&app, "interaction_agent").await);
    for params in [
        "",
        "sysparm_display_value=false",
        "sysparm_exclude_reference_link=false",
    ] {
        let record = read(&app, "sys_user_has_role", &g.grant, params).await;
        assert_eq!(
            record["user"],
            json!({"link": link(&app, "sys_user", &g.user), "value": g.user}),
            "{params}"
        );
        assert_eq!(
            record["role"],
            json!({"link": link(&app, "sys_user_role", &g.role), "value": g.role}),
            "{params}"
        );
        assert_eq!(record["sys_mod_count"], "0");
    }
    // The link leads to the referenced record.
    let record = read(&app, "sys_user_has_role", &g.grant, "").await;
    let target = record["user"]["link"].as_str().unwrap();
    let (status, body) = json_of(
        app.client
            .get(target)
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"]["user_name"], "ada");
}

#[tokio::test]
async fn exclude_reference_link_gives_the_plain_sys_id() {
    let app = TestApp::spawn().await;
    let g = grant(&app).await;
    let record = read(
        &app,
        "sys_user_has_role",
        &g.grant,
        "sysparm_exclude_reference_link=true",
    )
    .await;
    assert_eq!(record["user"], g.user.as_str());
    assert_eq!(record["role"], g.role.as_str());
}

#[tokio::test]
async fn display_value_true_gives_the_display_value_and_link() {
    let app = TestApp::spawn().await;
    let g = grant(&app).await;
    let record = read(
        &app,
        "sys_user_has_role",
        &g.grant,
        "sysparm_display_value=true",
    )
    .await;
    assert_eq!(
        record["user"],
        json!({"display_value": "Ada Lovelace", "link": link(&app, "sys_user", &g.user)})
    );
    assert_eq!(
        record["role"],
        json!({"display_value": "interaction_agent", "link": link(&app, "sys_user_role", &g.role)})
    );
    // Other fields stay plain strings.
    assert_eq!(record["sys_mod_count"], "0");
    assert_eq!(record["sys_id"], g.grant.as_str());
}

#[tokio::test]
async fn display_value_true_without_links_gives_the_display_string() {
    let app = TestApp::spawn().await;
    let g = grant(&app).await;
    let record = read(
        &app,
        "sys_user_has_role",
        &g.grant,
        "sysparm_display_value=true&sysparm_exclude_reference_link=true",
    )
    .await;
    assert_eq!(record["user"], "Ada Lovelace");
    assert_eq!(record["role"], "interaction_agent");
}

#[tokio::test]
async fn display_value_all_gives_both_for_every_field() {
    let app = TestApp::spawn().await;
    let g = grant(&app).await;
    let record = read(
        &app,
        "sys_user_has_role",
        &g.grant,
        "sysparm_display_value=all",
    )
    .await;
    assert_eq!(
        record["user"],
        json!({"display_value": "Ada Lovelace", "value": g.user, "link": link(&app, "sys_user", &g.user)})
    );
    assert_eq!(
        record["role"],
        json!({"display_value": "interaction_agent", "value": g.role, "link": link(&app, "sys_user_role", &g.role)})
    );
    assert_eq!(
        record["sys_mod_count"],
        json!({"display_value": "0", "value": "0"})
    );
    assert_eq!(
        record["sys_id"],
        json!({"display_value": g.grant, "value": g.grant})
    );
    for (name, value) in record.as_object().unwrap() {
        assert!(value.is_object(), "{name}: {value}");
    }

    let record = read(
        &app,
        "sys_user_has_role",
        &g.grant,
        "sysparm_display_value=all&sysparm_exclude_reference_link=true",
    )
    .await;
    assert_eq!(
        record["user"],
        json!({"display_value": "Ada Lovelace", "value": g.user})
    );
}

#[tokio::test]
async fn a_user_without_a_name_displays_as_its_user_name() {
    let app = TestApp::spawn().await;
    let user = app
        .insert("sys_user", json!({"user_name": "nameless"}))
        .await;
    assert_eq!(user["name"], "");
    let grant = app
        .insert(
            "sys_user_has_role",
            json!({"user": sys_id_of(&user), "role": "awa_agent"}),
        )
        .await;
    let record = read(
        &app,
        "sys_user_has_role",
        &sys_id_of(&grant),
        "sysparm_display_value=true&sysparm_exclude_reference_link=true",
    )
    .await;
    assert_eq!(record["user"], "nameless");
    assert_eq!(record["role"], "awa_agent");
}

#[tokio::test]
async fn display_values_follow_each_target_tables_display_field() {
    let app = TestApp::spawn().await;
    let queue = app.insert("awa_queue", json!({"name": "Support"})).await;
    let channel = app
        .insert("interaction_connector", json!({"name": "Web chat"}))
        .await;
    let interaction = app
        .insert(
            "interaction",
            json!({"queue": sys_id_of(&queue), "channel": sys_id_of(&channel)}),
        )
        .await;
    let conversation = app
        .insert(
            "sys_cs_conversation",
            json!({"interaction": sys_id_of(&interaction)}),
        )
        .await;
    let params = "sysparm_display_value=true&sysparm_exclude_reference_link=true";
    let shown = read(&app, "interaction", &sys_id_of(&interaction), params).await;
    assert_eq!(shown["queue"], "Support");
    assert_eq!(shown["channel"], "Web chat");
    let shown = read(
        &app,
        "sys_cs_conversation",
        &sys_id_of(&conversation),
        params,
    )
    .await;
    assert_eq!(shown["interaction"], "IMS0000001");
}

#[tokio::test]
async fn each_listed_record_shows_its_own_display_values() {
    let app = TestApp::spawn().await;
    for (user_name, first) in [("u1", "One"), ("u2", "Two"), ("u3", "Three")] {
        let user = app
            .insert(
                "sys_user",
                json!({"user_name": user_name, "first_name": first}),
            )
            .await;
        app.insert(
            "interaction",
            json!({"short_description": user_name, "assigned_to": sys_id_of(&user)}),
        )
        .await;
    }
    app.insert("interaction", json!({"short_description": "u4"}))
        .await;
    let path = "/api/now/table/interaction?sysparm_display_value=true&sysparm_exclude_reference_link=true\
                &sysparm_fields=short_description,assigned_to&sysparm_query=ORDERBYshort_description";
    let (status, body) = json_of(app.admin(Method::GET, path).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["result"],
        json!([
            {"short_description": "u1", "assigned_to": "One"},
            {"short_description": "u2", "assigned_to": "Two"},
            {"short_description": "u3", "assigned_to": "Three"},
            {"short_description": "u4", "assigned_to": ""},
        ])
    );
}

#[tokio::test]
async fn an_empty_reference_reads_as_an_empty_string_in_every_mode() {
    let app = TestApp::spawn().await;
    let interaction = app
        .insert("interaction", json!({"short_description": "alone"}))
        .await;
    assert_eq!(interaction["queue"], "");
    let id = sys_id_of(&interaction);
    for params in [
        "",
        "sysparm_exclude_reference_link=true",
        "sysparm_display_value=true",
        "sysparm_display_value=true&sysparm_exclude_reference_link=true",
    ] {
        let record = read(&app, "interaction", &id, params).await;
        for field in ["queue", "channel", "assigned_to", "closed_by"] {
            assert_eq!(record[field], "", "{params}: {field}");
        }
    }
    for params in [
        "sysparm_display_value=all",
        "sysparm_display_value=all&sysparm_exclude_reference_link=true",
    ] {
        let record = read(&app, "interaction", &id, params).await;
        for field in ["queue", "channel", "assigned_to", "closed_by"] {
            assert_eq!(
                record[field],
                json!({"display_value": "", "value": ""}),
                "{params}: {field}"
            );
        }
    }
}

#[tokio::test]
async fn links_use_the_address_the_client_used() {
    let app = TestApp::spawn().await;
    let g = grant(&app).await;
    let response = app
        .admin(
            Method::GET,
            &format!("/api/now/table/sys_user_has_role/{}", g.grant),
        )
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK);
    let host = app.base.trim_start_matches("http://");
    assert_eq!(
        body["result"]["user"]["link"],
        format!("https://{host}/api/now/table/sys_user/{}", g.user)
    );
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_reference_may_be_given_as_a_sys_id() {
    let app = TestApp::spawn().await;
    let queue = app.insert("awa_queue", json!({"name": "Support"})).await;
    let interaction = app
        .insert("interaction", json!({"queue": sys_id_of(&queue)}))
        .await;
    assert_eq!(
        interaction["queue"],
        json!({"link": link(&app, "awa_queue", &sys_id_of(&queue)), "value": sys_id_of(&queue)})
    );
}

#[tokio::test]
async fn a_reference_may_be_given_as_a_display_value() {
    let app = TestApp::spawn().await;
    let user = app
        .insert(
            "sys_user",
            json!({"user_name": "ada", "first_name": "Ada", "last_name": "Lovelace"}),
        )
        .await;
    let user_id = sys_id_of(&user);
    // By user_name (the fallback display field) and role name: a role grant.
    let grant = app
        .insert(
            "sys_user_has_role",
            json!({"user": "ada", "role": "interaction_agent"}),
        )
        .await;
    assert_eq!(grant["user"]["value"], user_id.as_str());
    assert_eq!(
        grant["role"]["value"],
        role_id(&app, "interaction_agent").await.as_str()
    );
    let roles = read(&app, "sys_user", &user_id, "sysparm_fields=roles").await;
    assert_eq!(roles, json!({"roles": "interaction_agent"}));

    // By name.
    let grant = app
        .insert(
            "sys_user_has_role",
            json!({"user": "Ada Lovelace", "role": "awa_agent"}),
        )
        .await;
    assert_eq!(grant["user"]["value"], user_id.as_str());

    // On update too.
    app.insert("awa_queue", json!({"name": "Support"})).await;
    let interaction = app.insert("interaction", json!({})).await;
    let response = app
        .admin(
            Method::PATCH,
            &format!("/api/now/table/interaction/{}", sys_id_of(&interaction)),
        )
        .json(&json!({"queue": "Support", "assigned_to": "ada"}))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["assigned_to"]["value"], user_id.as_str());
    let shown = read(
        &app,
        "interaction",
        &sys_id_of(&interaction),
        "sysparm_display_value=true&sysparm_exclude_reference_link=true&sysparm_fields=queue",
    )
    .await;
    assert_eq!(shown, json!({"queue": "Support"}));
}

#[tokio::test]
async fn a_reference_may_be_given_as_the_object_a_read_returned() {
    let app = TestApp::spawn().await;
    let queue = app.insert("awa_queue", json!({"name": "Support"})).await;
    let first = app
        .insert("interaction", json!({"queue": sys_id_of(&queue)}))
        .await;
    let read_back = read(&app, "interaction", &sys_id_of(&first), "").await;
    let reference = read_back["queue"].clone();
    assert!(reference.is_object(), "{reference}");

    let second = app.insert("interaction", json!({"queue": reference})).await;
    assert_eq!(second["queue"], reference);

    // The object of an `all` read carries the value as well as the display value.
    let g = grant(&app).await;
    let shown = read(
        &app,
        "sys_user_has_role",
        &g.grant,
        "sysparm_display_value=all",
    )
    .await;
    let (status, body) = post(
        &app,
        "external_agent_mapping",
        json!({"user": shown["user"], "external_agent_id": "x1"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["user"]["value"], g.user.as_str());
}

#[tokio::test]
async fn writing_back_a_display_read_keeps_the_reference() {
    let app = TestApp::spawn().await;
    let queue = app.insert("awa_queue", json!({"name": "Support"})).await;
    let interaction = app
        .insert(
            "interaction",
            json!({"queue": sys_id_of(&queue), "short_description": "before"}),
        )
        .await;
    let path = format!("/api/now/table/interaction/{}", sys_id_of(&interaction));
    // A client reads with display values, edits one field and sends the record back: the
    // reference object it read ({"display_value", "link"}) names the same queue, by display
    // value (and by link), and must not empty the field.
    let shown = read(
        &app,
        "interaction",
        &sys_id_of(&interaction),
        "sysparm_display_value=true&sysparm_fields=queue,short_description",
    )
    .await;
    assert_eq!(shown["queue"]["display_value"], "Support");
    let mut edited = shown.clone();
    edited["short_description"] = json!("after");
    let response = app
        .admin(Method::PATCH, &path)
        .json(&edited)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["short_description"], "after");
    let stored = read(&app, "interaction", &sys_id_of(&interaction), "").await;
    assert_eq!(stored["queue"], interaction["queue"], "the queue was lost");
}

#[tokio::test]
async fn an_empty_reference_clears_the_field() {
    let app = TestApp::spawn().await;
    let queue = app.insert("awa_queue", json!({"name": "Support"})).await;
    let interaction = app
        .insert("interaction", json!({"queue": sys_id_of(&queue)}))
        .await;
    let path = format!("/api/now/table/interaction/{}", sys_id_of(&interaction));
    for empty in [json!(""), json!(null)] {
        let response = app
            .admin(Method::PATCH, &path)
            .json(&json!({"queue": sys_id_of(&queue)}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let response = app
            .admin(Method::PATCH, &path)
            .json(&json!({"queue": empty}))
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["result"]["queue"], "", "{empty}");
    }
}

#[tokio::test]
async fn an_unknown_reference_is_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Support"})).await);
    for (table, body, field) in [
        ("interaction", json!({"queue": "No such queue"}), "queue"),
        (
            "interaction",
            json!({"queue": "0123456789abcdef0123456789abcdef"}),
            "queue",
        ),
        ("interaction", json!({"queue": {"value": "nope"}}), "queue"),
        (
            "interaction",
            json!({"assigned_to": "ghost"}),
            "assigned_to",
        ),
        (
            "sys_user_has_role",
            json!({"user": "admin", "role": "wizard"}),
            "role",
        ),
        // A record of another table, by display value or by sys_id.
        ("interaction", json!({"channel": "Support"}), "channel"),
        ("interaction", json!({"channel": queue}), "channel"),
    ] {
        let response = app
            .admin(Method::POST, &format!("/api/now/table/{table}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let detail = assert_error(response, StatusCode::BAD_REQUEST, "Operation Failed").await;
        let detail = detail.as_str().unwrap_or_default();
        assert!(detail.contains(&format!("'{field}'")), "{body}: {detail}");
    }
    // Nothing was written.
    let (_, body) = json_of(
        app.admin(Method::GET, "/api/now/table/interaction")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body, json!({"result": []}));

    // On update: refused, and the record is unchanged.
    let interaction = app.insert("interaction", json!({})).await;
    let response = app
        .admin(
            Method::PATCH,
            &format!("/api/now/table/interaction/{}", sys_id_of(&interaction)),
        )
        .json(&json!({"queue": "Elsewhere", "short_description": "changed"}))
        .send()
        .await
        .unwrap();
    let detail = assert_error(response, StatusCode::BAD_REQUEST, "Operation Failed").await;
    assert!(detail.as_str().unwrap().contains("'queue'"), "{detail}");
    assert_eq!(
        read(&app, "interaction", &sys_id_of(&interaction), "").await,
        interaction
    );
}

#[tokio::test]
async fn an_ambiguous_display_value_is_400() {
    let app = TestApp::spawn().await;
    for user_name in ["same1", "same2"] {
        app.insert(
            "sys_user",
            json!({"user_name": user_name, "first_name": "Same", "last_name": "Name"}),
        )
        .await;
    }
    let (status, body) = post(
        &app,
        "sys_user_has_role",
        json!({"user": "Same Name", "role": "awa_agent"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["message"], "Operation Failed");
    let detail = body["error"]["detail"].as_str().unwrap();
    assert!(detail.contains("'user'"), "{detail}");
    assert!(detail.contains("Same Name"), "{detail}");

    // Each is still reachable by its unique user_name.
    let (status, body) = post(
        &app,
        "sys_user_has_role",
        json!({"user": "same2", "role": "awa_agent"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let path = "/api/now/table/sys_user?sysparm_query=user_name=same2&sysparm_fields=roles";
    let (_, body) = json_of(app.admin(Method::GET, path).send().await.unwrap()).await;
    assert_eq!(body["result"], json!([{"roles": "awa_agent"}]));
}

// ---------------------------------------------------------------------------------------------
// XML
// ---------------------------------------------------------------------------------------------

/// GETs a record as XML; returns the body text.
async fn read_xml(app: &TestApp, table: &str, sys_id: &str, params: &str) -> String {
    let response = app
        .admin(
            Method::GET,
            &format!("/api/now/table/{table}/{sys_id}?{params}"),
        )
        .header(ACCEPT, "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/xml"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

#[tokio::test]
async fn xml_renders_references_as_nested_elements() {
    let app = TestApp::spawn().await;
    let g = grant(&app).await;
    let user_link = link(&app, "sys_user", &g.user);
    let role_link = link(&app, "sys_user_role", &g.role);

    let xml = read_xml(&app, "sys_user_has_role", &g.grant, "").await;
    assert!(
        xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><response><result>"#),
        "{xml}"
    );
    let user = format!(
        "<user><link>{user_link}</link><value>{}</value></user>",
        g.user
    );
    let role = format!(
        "<role><link>{role_link}</link><value>{}</value></role>",
        g.role
    );
    assert!(xml.contains(&user), "{xml}");
    assert!(xml.contains(&role), "{xml}");
    assert!(xml.contains("<sys_mod_count>0</sys_mod_count>"), "{xml}");

    let xml = read_xml(
        &app,
        "sys_user_has_role",
        &g.grant,
        "sysparm_exclude_reference_link=true",
    )
    .await;
    assert!(xml.contains(&format!("<user>{}</user>", g.user)), "{xml}");

    let xml = read_xml(
        &app,
        "sys_user_has_role",
        &g.grant,
        "sysparm_display_value=true",
    )
    .await;
    let shown =
        format!("<user><display_value>Ada Lovelace</display_value><link>{user_link}</link></user>");
    assert!(xml.contains(&shown), "{xml}");

    let xml = read_xml(
        &app,
        "sys_user_has_role",
        &g.grant,
        "sysparm_display_value=all",
    )
    .await;
    let both = format!(
        "<user><display_value>Ada Lovelace</display_value><link>{user_link}</link><value>{}</value></user>",
        g.user
    );
    assert!(xml.contains(&both), "{xml}");
}

#[tokio::test]
async fn xml_renders_an_empty_reference_as_an_empty_element() {
    let app = TestApp::spawn().await;
    let interaction = app.insert("interaction", json!({})).await;
    let xml = read_xml(&app, "interaction", &sys_id_of(&interaction), "").await;
    assert!(
        xml.contains("<queue></queue>") || xml.contains("<queue/>"),
        "{xml}"
    );
    assert!(!xml.contains("<queue><link>"), "{xml}");
}

#[tokio::test]
async fn an_xml_body_may_name_references_by_display_value() {
    let app = TestApp::spawn().await;
    let user = app
        .insert("sys_user", json!({"user_name": "ada", "first_name": "Ada"}))
        .await;
    let response = app
        .admin(Method::POST, "/api/now/table/sys_user_has_role")
        .header(CONTENT_TYPE, "application/xml")
        .header(ACCEPT, "application/json")
        .body("<request><user>ada</user><role>awa_manager</role></request>")
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["user"]["value"], sys_id_of(&user).as_str());
    let roles = read(&app, "sys_user", &sys_id_of(&user), "sysparm_fields=roles").await;
    assert_eq!(roles, json!({"roles": "awa_manager,interaction_agent"}));
}
