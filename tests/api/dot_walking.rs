//! Dot-walking in `sysparm_query` and `ORDERBY`: a condition or a sort key on a field of the
//! record a reference points at (`user.user_name=x`), through up to three references; a
//! reference sorted by the referenced record's display value. What cannot be read directly
//! (write-only fields) cannot be walked to either.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::helpers::{TestApp, json_of, sys_id_of};

async fn list(app: &TestApp, table: &str, query: &str) -> (StatusCode, Value) {
    let path =
        format!("/api/now/table/{table}?sysparm_query={query}&sysparm_exclude_reference_link=true");
    json_of(app.admin(Method::GET, &path).send().await.unwrap()).await
}

fn field_of(body: &Value, field: &str) -> Vec<String> {
    body["result"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|r| r[field].as_str().unwrap().to_owned())
        .collect()
}

/// Users zoe (name "Ann Zed") and abe (name "Zak Abe"), each granted awa_agent; zoe also
/// awa_manager.
async fn grants(app: &TestApp) -> (String, String) {
    let zoe = sys_id_of(
        &app.insert(
            "sys_user",
            json!({"user_name": "zoe", "first_name": "Ann", "last_name": "Zed"}),
        )
        .await,
    );
    let abe = sys_id_of(
        &app.insert(
            "sys_user",
            json!({"user_name": "abe", "first_name": "Zak", "last_name": "Abe"}),
        )
        .await,
    );
    for (user, role) in [
        ("zoe", "awa_agent"),
        ("abe", "awa_agent"),
        ("zoe", "awa_manager"),
    ] {
        app.insert("sys_user_has_role", json!({"user": user, "role": role}))
            .await;
    }
    (zoe, abe)
}

#[tokio::test]
async fn conditions_walk_through_references() {
    let app = TestApp::spawn().await;
    let (zoe, abe) = grants(&app).await;
    let (status, body) = list(&app, "sys_user_has_role", "user.user_name=zoe").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(field_of(&body, "user"), [zoe.clone(), zoe.clone()]);
    let (_, body) = list(
        &app,
        "sys_user_has_role",
        "user.user_nameSTARTSWITHa^role.name=awa_agent",
    )
    .await;
    assert_eq!(field_of(&body, "user"), [abe.as_str()]);
    let (_, body) = list(
        &app,
        "sys_user_has_role",
        "user.first_name!=Ann^role.name=awa_agent",
    )
    .await;
    assert_eq!(field_of(&body, "user"), [abe]);
    // Through two references: a conversation member's conversation's interaction.
    let channel = sys_id_of(
        &app.insert(
            "interaction_connector",
            json!({"name": "Chat", "type": "chat"}),
        )
        .await,
    );
    let interaction = app
        .insert("interaction", json!({"channel": channel, "type": "chat"}))
        .await;
    let number = interaction["number"].as_str().unwrap().to_owned();
    let conversation = sys_id_of(
        &app.insert(
            "sys_cs_conversation",
            json!({"interaction": sys_id_of(&interaction)}),
        )
        .await,
    );
    app.insert(
        "sys_cs_conversation_member",
        json!({"conversation": conversation, "member": zoe, "member_type": "observer"}),
    )
    .await;
    let (status, body) = list(
        &app,
        "sys_cs_conversation_member",
        &format!("conversation.interaction.number={number}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(field_of(&body, "member"), [zoe]);
    let (_, body) = list(
        &app,
        "sys_cs_conversation_member",
        "conversation.interaction.number=IMS9999999",
    )
    .await;
    assert_eq!(body["result"], json!([]));
}

#[tokio::test]
async fn references_sort_by_display_value_and_walked_fields_sort_too() {
    let app = TestApp::spawn().await;
    grants(&app).await;
    // By display value ("Ann Zed" before "Zak Abe"), not by sys_id or user name.
    let (status, body) = list(&app, "sys_user_has_role", "role.name=awa_agent^ORDERBYuser").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let users = field_of(&body, "user");
    let (_, by_name) = list(&app, "sys_user", "user_nameINzoe,abe^ORDERBYname").await;
    assert_eq!(users, field_of(&by_name, "sys_id"));
    let (_, body) = list(
        &app,
        "sys_user_has_role",
        "role.name=awa_agent^ORDERBYDESCuser.user_name",
    )
    .await;
    let (_, by_user_name) = list(&app, "sys_user", "user_nameINzoe,abe^ORDERBYDESCuser_name").await;
    assert_eq!(field_of(&body, "user"), field_of(&by_user_name, "sys_id"));
}

#[tokio::test]
async fn what_cannot_be_read_or_walked_is_refused() {
    let app = TestApp::spawn().await;
    grants(&app).await;
    for query in [
        "user.user_password=x",
        "user.user_passwordSTARTSWITH$",
        "ORDERBYuser.user_password",
        "user.nope=x",
        "user_name.x=y",
        "role.name.x=y",
        "conversation.interaction.channel.name.x=1",
    ] {
        let table = if query.starts_with("user_name") {
            "sys_user"
        } else if query.starts_with("conversation") {
            "sys_cs_conversation_member"
        } else {
            "sys_user_has_role"
        };
        let (status, body) = list(&app, table, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
    }
}

#[tokio::test]
async fn fields_walk_through_references_and_show_under_the_name_asked() {
    let app = TestApp::spawn().await;
    let (zoe, _) = grants(&app).await;
    let path = "/api/now/table/sys_user_has_role?sysparm_query=user.user_name=zoe^ORDERBYrole.name\
                &sysparm_fields=user.user_name,role.name,user.user_password,user.nope,sys_id";
    let (status, body) = json_of(app.admin(Method::GET, path).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Write-only and unknown fields are left out, as a name that is no field is.
    assert_eq!(
        body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| json!({"user.user_name": r["user.user_name"], "role.name": r["role.name"], "keys": r.as_object().unwrap().len()}))
            .collect::<Vec<_>>(),
        [
            json!({"user.user_name": "zoe", "role.name": "awa_agent", "keys": 3}),
            json!({"user.user_name": "zoe", "role.name": "awa_manager", "keys": 3}),
        ]
    );
    let path = "/api/now/table/sys_user_has_role?sysparm_query=user.user_name=zoe^ORDERBYrole.name\
                &sysparm_fields=user.name&sysparm_display_value=all&sysparm_limit=1";
    let (_, body) = json_of(app.admin(Method::GET, path).send().await.unwrap()).await;
    assert_eq!(
        body["result"],
        json!([{"user.name": {"display_value": "Ann Zed", "value": "Ann Zed"}}])
    );
    // A name that walks through a field that is no reference is left out too.
    let path = "/api/now/table/sys_user?sysparm_query=user_name=zoe&sysparm_fields=sys_id,sys_id.x";
    let (_, body) = json_of(app.admin(Method::GET, path).send().await.unwrap()).await;
    assert_eq!(body["result"], json!([{"sys_id": zoe}]));
}
