//! The Conversation Member API: dropping an agent from a third-party interaction's conversation and
//! making an observer or private fulfiller a public fulfiller, with the documented failures in
//! their documented order.

use reqwest::header::{ACCEPT, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    INTEGRATION, TestApp, assert_content_type, assert_error, assert_unreadable_request,
    chat_connector, fetch_record, fetch_records, json_of, open_interaction, phone_connector,
    sys_id_of,
};

const DROPPED: &str = "Request to drop agent processed successfully.";
const UPDATED: &str = "Request to update agent member type processed successfully.";
const INSUFFICIENT_INPUT: &str = "Invalid request. Insufficient input";
const BAD_MEMBER_TYPE: &str = "Invalid request. Member type must be one of [public_fulfiller]";
const NOT_THIRD_PARTY: &str = "Provided interaction is not a third party interaction";
const NO_CONVERSATION: &str = "Conversation for corresponding interaction could not be found";
const NOT_A_MEMBER: &str = "Invalid request. User is not a member of the interaction provided";
const ALREADY_PUBLIC: &str =
    "Invalid request. User is already a public fulfiller in the interaction provided";

const UNKNOWN_ID: &str = "0000000000000000000000000000dead";

/// A third-party interaction with a conversation and members, plus a plain interaction.
struct Fixture {
    app: TestApp,
    /// The third-party interaction.
    interaction: String,
    conversation: String,
    /// A public fulfiller (and a second one).
    agent: String,
    agent2: String,
    /// An observer holding awa_manager.
    supervisor: String,
    /// A private fulfiller.
    private: String,
    /// A user who is in no conversation.
    outsider: String,
    /// Member record sys_ids, by user.
    agent_member: String,
    supervisor_member: String,
    private_member: String,
    /// A non-third-party interaction in which `agent` is (per the Table API) a member.
    plain_interaction: String,
    third_party: String,
}

async fn conversation_of(app: &TestApp, interaction: &str) -> Option<String> {
    fetch_records(
        app,
        "sys_cs_conversation",
        &format!("interaction={interaction}"),
    )
    .await
    .first()
    .map(sys_id_of)
}

async fn add_member(app: &TestApp, conversation: &str, user: &str, member_type: &str) -> String {
    sys_id_of(
        &app.insert(
            "sys_cs_conversation_member",
            json!({"conversation": conversation, "member": user, "member_type": member_type}),
        )
        .await,
    )
}

async fn fixture() -> Fixture {
    let app = TestApp::spawn().await;
    app.integration_user().await;
    let third_party = chat_connector(&app).await;
    let plain = phone_connector(&app).await;
    let agent = app
        .user("agent", "agent-password", &["interaction_agent"])
        .await;
    let agent2 = app
        .user("agent2", "agent2-password", &["interaction_agent"])
        .await;
    let supervisor = app
        .user("supervisor", "supervisor-password", &["awa_manager"])
        .await;
    let private = app
        .user("private", "private-password", &["interaction_agent"])
        .await;
    let outsider = app
        .user("outsider", "outsider-password", &["interaction_agent"])
        .await;

    let interaction = open_interaction(&app, INTEGRATION, &third_party).await;
    let conversation = conversation_of(&app, &interaction)
        .await
        .expect("a third-party interaction has a conversation");
    let agent_member = add_member(&app, &conversation, &agent, "public_fulfiller").await;
    add_member(&app, &conversation, &agent2, "public_fulfiller").await;
    let supervisor_member = add_member(&app, &conversation, &supervisor, "observer").await;
    let private_member = add_member(&app, &conversation, &private, "private_fulfiller").await;

    // A plain interaction, given a conversation with the agent through the Table API, so only the
    // third-party check can refuse it.
    let plain_interaction = open_interaction(&app, INTEGRATION, &plain).await;
    assert!(conversation_of(&app, &plain_interaction).await.is_none());
    let plain_conversation = sys_id_of(
        &app.insert(
            "sys_cs_conversation",
            json!({"interaction": plain_interaction, "state": "open"}),
        )
        .await,
    );
    add_member(&app, &plain_conversation, &agent, "public_fulfiller").await;

    Fixture {
        app,
        interaction,
        conversation,
        agent,
        agent2,
        supervisor,
        private,
        outsider,
        agent_member,
        supervisor_member,
        private_member,
        plain_interaction,
        third_party,
    }
}

fn path(user: &str, action: &str) -> String {
    format!("/api/now/conversation/member/{user}/{action}")
}

fn request(app: &TestApp, method: Method, user: &str, action: &str) -> RequestBuilder {
    app.as_user(INTEGRATION, method, &path(user, action))
        .header(ACCEPT, "application/json")
}

/// A Conversation Member API `action` on `user` as the integration user; status and body.
async fn member_action(
    app: &TestApp,
    method: Method,
    user: &str,
    action: &str,
    body: Value,
) -> (StatusCode, Value) {
    json_of(
        request(app, method, user, action)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn success(active: bool, member_type: &str, interaction: &str, message: &str) -> Value {
    json!({"result": {
        "conversation_member": {
            "active": active,
            "memberType": member_type,
            "conversation_id": interaction,
        },
        "success": true,
        "message": message,
    }})
}

fn refused(message: &str) -> Value {
    json!({"result": {"success": false, "message": message}})
}

async fn assert_refused(
    app: &TestApp,
    user: &str,
    action: &str,
    body: Value,
    status: StatusCode,
    message: &str,
) {
    for method in [Method::PUT, Method::POST] {
        let (got, response) = member_action(app, method.clone(), user, action, body.clone()).await;
        assert_eq!(
            (got, &response),
            (status, &refused(message)),
            "{method} {action} of {user} with {body}"
        );
    }
}

/// Asserts both actions on `user` in `interaction`, a drop and an update to public fulfiller,
/// are refused with this status and message.
async fn assert_both_refused(
    app: &TestApp,
    user: &str,
    interaction: &str,
    status: StatusCode,
    message: &str,
) {
    let drop = json!({"interaction_id": interaction});
    assert_refused(app, user, "drop", drop, status, message).await;
    let update = json!({"interaction_id": interaction, "member_type": "public_fulfiller"});
    assert_refused(app, user, "update", update, status, message).await;
}

async fn member(app: &TestApp, member_id: &str) -> Value {
    fetch_record(app, "sys_cs_conversation_member", member_id)
        .await
        .expect("member record")
}

// ---------------------------------------------------------------------------------------------
// Drop
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn drop_with_put_answers_the_documented_body_and_deactivates_the_member() {
    let f = fixture().await;
    let (status, body) = member_action(
        &f.app,
        Method::PUT,
        &f.agent,
        "drop",
        json!({"interaction_id": f.interaction}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        success(false, "public_fulfiller", &f.interaction, DROPPED)
    );
    let record = member(&f.app, &f.agent_member).await;
    assert_eq!(record["active"], "false");
    assert_eq!(record["member_type"], "public_fulfiller");
    assert_eq!(record["conversation"], f.conversation.as_str());
    // Nobody else was touched.
    for other in [&f.supervisor_member, &f.private_member] {
        assert_eq!(member(&f.app, other).await["active"], "true");
    }
    let actives = fetch_records(
        &f.app,
        "sys_cs_conversation_member",
        &format!("conversation={}&active=true", f.conversation),
    )
    .await;
    assert_eq!(actives.len(), 3, "{actives:?}");
}

#[tokio::test]
async fn drop_with_post_answers_the_documented_body() {
    let f = fixture().await;
    let (status, body) = member_action(
        &f.app,
        Method::POST,
        &f.agent2,
        "drop",
        json!({"interaction_id": f.interaction}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        success(false, "public_fulfiller", &f.interaction, DROPPED)
    );
    let members = fetch_records(
        &f.app,
        "sys_cs_conversation_member",
        &format!("member={}", f.agent2),
    )
    .await;
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["active"], "false");
}

#[tokio::test]
async fn drop_reports_the_members_type() {
    let f = fixture().await;
    let (status, body) = member_action(
        &f.app,
        Method::PUT,
        &f.supervisor,
        "drop",
        json!({"interaction_id": f.interaction}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, success(false, "observer", &f.interaction, DROPPED));
    let (status, body) = member_action(
        &f.app,
        Method::PUT,
        &f.private,
        "drop",
        json!({"interaction_id": f.interaction}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        success(false, "private_fulfiller", &f.interaction, DROPPED)
    );
}

#[tokio::test]
async fn dropping_twice_is_not_a_member() {
    let f = fixture().await;
    let (status, _) = member_action(
        &f.app,
        Method::PUT,
        &f.agent,
        "drop",
        json!({"interaction_id": f.interaction}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let before = member(&f.app, &f.agent_member).await;
    assert_refused(
        &f.app,
        &f.agent,
        "drop",
        json!({"interaction_id": f.interaction}),
        StatusCode::BAD_REQUEST,
        NOT_A_MEMBER,
    )
    .await;
    // A dropped member cannot be updated either.
    assert_refused(
        &f.app,
        &f.agent,
        "update",
        json!({"interaction_id": f.interaction, "member_type": "public_fulfiller"}),
        StatusCode::BAD_REQUEST,
        NOT_A_MEMBER,
    )
    .await;
    assert_eq!(member(&f.app, &f.agent_member).await, before);
}

// ---------------------------------------------------------------------------------------------
// Update
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn update_makes_an_observer_a_public_fulfiller() {
    let f = fixture().await;
    let (status, body) = member_action(
        &f.app,
        Method::PUT,
        &f.supervisor,
        "update",
        json!({"interaction_id": f.interaction, "member_type": "public_fulfiller"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        success(true, "public_fulfiller", &f.interaction, UPDATED)
    );
    let record = member(&f.app, &f.supervisor_member).await;
    assert_eq!(record["member_type"], "public_fulfiller");
    assert_eq!(record["active"], "true");
    assert_eq!(record["member"], f.supervisor.as_str());
}

#[tokio::test]
async fn update_makes_a_private_fulfiller_a_public_fulfiller() {
    let f = fixture().await;
    let (status, body) = member_action(
        &f.app,
        Method::POST,
        &f.private,
        "update",
        json!({"interaction_id": f.interaction, "member_type": "public_fulfiller"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        success(true, "public_fulfiller", &f.interaction, UPDATED)
    );
    let record = member(&f.app, &f.private_member).await;
    assert_eq!(record["member_type"], "public_fulfiller");
    assert_eq!(record["active"], "true");
}

#[tokio::test]
async fn updating_a_public_fulfiller_is_500_with_the_result_shape() {
    let f = fixture().await;
    let before = member(&f.app, &f.agent_member).await;
    assert_refused(
        &f.app,
        &f.agent,
        "update",
        json!({"interaction_id": f.interaction, "member_type": "public_fulfiller"}),
        StatusCode::INTERNAL_SERVER_ERROR,
        ALREADY_PUBLIC,
    )
    .await;
    assert_eq!(member(&f.app, &f.agent_member).await, before);
    // A supervisor once updated is public too: a second update is the same 500.
    let body = json!({"interaction_id": f.interaction, "member_type": "public_fulfiller"});
    let (status, _) =
        member_action(&f.app, Method::PUT, &f.supervisor, "update", body.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_refused(
        &f.app,
        &f.supervisor,
        "update",
        body,
        StatusCode::INTERNAL_SERVER_ERROR,
        ALREADY_PUBLIC,
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Documented failures
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn missing_input_is_insufficient() {
    let f = fixture().await;
    for body in [
        json!({}),
        json!({"interaction_id": ""}),
        json!({"interaction_id": null}),
        json!({"member_type": "public_fulfiller"}),
    ] {
        for action in ["drop", "update"] {
            assert_refused(
                &f.app,
                &f.agent,
                action,
                body.clone(),
                StatusCode::BAD_REQUEST,
                INSUFFICIENT_INPUT,
            )
            .await;
        }
    }
    // Update also needs member_type.
    for body in [
        json!({"interaction_id": f.interaction}),
        json!({"interaction_id": f.interaction, "member_type": ""}),
    ] {
        assert_refused(
            &f.app,
            &f.supervisor,
            "update",
            body,
            StatusCode::BAD_REQUEST,
            INSUFFICIENT_INPUT,
        )
        .await;
    }
    // No body at all.
    for action in ["drop", "update"] {
        let (status, body) = json_of(
            request(&f.app, Method::PUT, &f.agent, action)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status, body),
            (StatusCode::BAD_REQUEST, refused(INSUFFICIENT_INPUT)),
            "{action} without a body"
        );
    }
    assert_eq!(
        member(&f.app, &f.supervisor_member).await["member_type"],
        "observer"
    );
    assert_eq!(member(&f.app, &f.agent_member).await["active"], "true");
}

#[tokio::test]
async fn a_member_type_other_than_public_fulfiller_is_refused() {
    let f = fixture().await;
    for member_type in ["observer", "private_fulfiller", "PUBLIC_FULFILLER", "admin"] {
        assert_refused(
            &f.app,
            &f.supervisor,
            "update",
            json!({"interaction_id": f.interaction, "member_type": member_type}),
            StatusCode::BAD_REQUEST,
            BAD_MEMBER_TYPE,
        )
        .await;
    }
    assert_eq!(
        member(&f.app, &f.supervisor_member).await["member_type"],
        "observer"
    );
}

#[tokio::test]
async fn a_plain_interaction_is_not_third_party() {
    let f = fixture().await;
    assert_both_refused(
        &f.app,
        &f.agent,
        &f.plain_interaction,
        StatusCode::BAD_REQUEST,
        NOT_THIRD_PARTY,
    )
    .await;
    // The agent's member record in the plain conversation is untouched.
    let records = fetch_records(
        &f.app,
        "sys_cs_conversation_member",
        &format!("member={}&active=true", f.agent),
    )
    .await;
    assert_eq!(records.len(), 2, "{records:?}");
}

#[tokio::test]
async fn an_unknown_interaction_has_no_conversation() {
    let f = fixture().await;
    assert_refused(
        &f.app,
        &f.agent,
        "drop",
        json!({"interaction_id": UNKNOWN_ID}),
        StatusCode::BAD_REQUEST,
        NO_CONVERSATION,
    )
    .await;
    assert_refused(
        &f.app,
        &f.supervisor,
        "update",
        json!({"interaction_id": UNKNOWN_ID, "member_type": "public_fulfiller"}),
        StatusCode::BAD_REQUEST,
        NO_CONVERSATION,
    )
    .await;
}

#[tokio::test]
async fn a_third_party_interaction_whose_conversation_was_deleted_has_none() {
    let f = fixture().await;
    let interaction = open_interaction(&f.app, INTEGRATION, &f.third_party).await;
    let conversation = conversation_of(&f.app, &interaction).await.unwrap();
    add_member(&f.app, &conversation, &f.agent, "public_fulfiller").await;
    let response = f
        .app
        .admin(
            Method::DELETE,
            &format!("/api/now/table/sys_cs_conversation/{conversation}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(conversation_of(&f.app, &interaction).await.is_none());
    assert_both_refused(
        &f.app,
        &f.agent,
        &interaction,
        StatusCode::BAD_REQUEST,
        NO_CONVERSATION,
    )
    .await;
}

#[tokio::test]
async fn a_user_who_is_not_a_member_is_refused() {
    let f = fixture().await;
    for user in [f.outsider.as_str(), UNKNOWN_ID] {
        assert_both_refused(
            &f.app,
            user,
            &f.interaction,
            StatusCode::BAD_REQUEST,
            NOT_A_MEMBER,
        )
        .await;
    }
}

#[tokio::test]
async fn checks_run_in_the_documented_order() {
    let f = fixture().await;
    let cases = [
        // 1 before 2: no interaction_id and a bad member_type.
        (
            f.supervisor.as_str(),
            "update",
            json!({"member_type": "observer"}),
            INSUFFICIENT_INPUT,
        ),
        // 1 before 2: no member_type is insufficient, not a bad type.
        (
            f.outsider.as_str(),
            "update",
            json!({"interaction_id": UNKNOWN_ID}),
            INSUFFICIENT_INPUT,
        ),
        // 2 before 3: a bad member_type on a plain interaction.
        (
            f.agent.as_str(),
            "update",
            json!({"interaction_id": f.plain_interaction, "member_type": "observer"}),
            BAD_MEMBER_TYPE,
        ),
        // 2 before 4: a bad member_type on an unknown interaction.
        (
            f.outsider.as_str(),
            "update",
            json!({"interaction_id": UNKNOWN_ID, "member_type": "observer"}),
            BAD_MEMBER_TYPE,
        ),
        // 3 before 5: a plain interaction and a non-member.
        (
            f.outsider.as_str(),
            "drop",
            json!({"interaction_id": f.plain_interaction}),
            NOT_THIRD_PARTY,
        ),
        (
            f.outsider.as_str(),
            "update",
            json!({"interaction_id": f.plain_interaction, "member_type": "public_fulfiller"}),
            NOT_THIRD_PARTY,
        ),
        // 4 before 5: an unknown interaction and a non-member.
        (
            f.outsider.as_str(),
            "drop",
            json!({"interaction_id": UNKNOWN_ID}),
            NO_CONVERSATION,
        ),
        // 5 before the already-public 500.
        (
            f.outsider.as_str(),
            "update",
            json!({"interaction_id": f.interaction, "member_type": "public_fulfiller"}),
            NOT_A_MEMBER,
        ),
    ];
    for (user, action, body, message) in cases {
        assert_refused(&f.app, user, action, body, StatusCode::BAD_REQUEST, message).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Authentication and roles
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn without_awa_integration_user_is_403() {
    let f = fixture().await;
    f.app
        .user(
            "agent.only",
            "agent-only-password",
            &["interaction_agent", "interaction_admin", "awa_manager"],
        )
        .await;
    for action in ["drop", "update"] {
        for method in [Method::PUT, Method::POST] {
            let response = f
                .app
                .as_user(
                    ("agent.only", "agent-only-password"),
                    method.clone(),
                    &path(&f.supervisor, action),
                )
                .json(&json!({"interaction_id": f.interaction, "member_type": "public_fulfiller"}))
                .send()
                .await
                .unwrap();
            let detail = assert_error(response, StatusCode::FORBIDDEN, "User Not Authorized").await;
            assert_eq!(
                detail, "Failed API level ACL Validation",
                "{method} {action}: {detail}"
            );
        }
    }
    let record = member(&f.app, &f.supervisor_member).await;
    assert_eq!(record["member_type"], "observer");
    assert_eq!(record["active"], "true");
}

#[tokio::test]
async fn without_credentials_is_401() {
    let f = fixture().await;
    for action in ["drop", "update"] {
        let response = f
            .app
            .anonymous(Method::PUT, &path(&f.agent, action))
            .json(&json!({"interaction_id": f.interaction, "member_type": "public_fulfiller"}))
            .send()
            .await
            .unwrap();
        assert!(response.headers().get(WWW_AUTHENTICATE).is_some());
        assert_error(response, StatusCode::UNAUTHORIZED, "User Not Authenticated").await;
    }
    assert_eq!(member(&f.app, &f.agent_member).await["active"], "true");
}

// ---------------------------------------------------------------------------------------------
// Formats and paths
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn xml_in_and_xml_out() {
    let f = fixture().await;
    let response = f
        .app
        .as_user(INTEGRATION, Method::PUT, &path(&f.agent, "drop"))
        .header(CONTENT_TYPE, "application/xml")
        .header(ACCEPT, "application/xml")
        .body(format!(
            "<request><interaction_id>{}</interaction_id></request>",
            f.interaction
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_content_type(&response, "application/xml");
    let text = response.text().await.unwrap();
    assert!(
        text.contains("<response><result><conversation_member><active>false</active>"),
        "{text}"
    );
    for element in [
        "<memberType>public_fulfiller</memberType>".to_owned(),
        format!("<conversation_id>{}</conversation_id>", f.interaction),
        "</conversation_member>".to_owned(),
        "<success>true</success>".to_owned(),
        format!("<message>{DROPPED}</message>"),
    ] {
        assert!(text.contains(&element), "{element} in {text}");
    }
    assert!(text.trim_end().ends_with("</result></response>"), "{text}");
    assert_eq!(member(&f.app, &f.agent_member).await["active"], "false");

    // Update in XML, and a refusal in XML.
    let response = f
        .app
        .as_user(INTEGRATION, Method::POST, &path(&f.supervisor, "update"))
        .header(CONTENT_TYPE, "application/xml")
        .header(ACCEPT, "application/xml")
        .body(format!(
            "<request><interaction_id>{}</interaction_id>\
             <member_type>public_fulfiller</member_type></request>",
            f.interaction
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(
        text.contains("<response><result><conversation_member><active>true</active>"),
        "{text}"
    );
    assert!(
        text.contains(&format!("<message>{UPDATED}</message>")),
        "{text}"
    );

    let response = f
        .app
        .as_user(INTEGRATION, Method::PUT, &path(&f.agent, "drop"))
        .header(CONTENT_TYPE, "application/xml")
        .header(ACCEPT, "application/xml")
        .body("<request><interaction_id></interaction_id></request>")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let text = response.text().await.unwrap();
    assert!(text.contains("<response><result>"), "{text}");
    assert!(text.contains("<success>false</success>"), "{text}");
    assert!(
        text.contains(&format!("<message>{INSUFFICIENT_INPUT}</message>")),
        "{text}"
    );
}

#[tokio::test]
async fn versioned_paths_work() {
    let f = fixture().await;
    // An action as the integration user on `/api/now/{version}/conversation/member/...`.
    let versioned = |version: &str, method: Method, user: &str, action: &str, body: Value| {
        let path = format!("/api/now/{version}/conversation/member/{user}/{action}");
        let request = f.app.as_user(INTEGRATION, method, &path).json(&body);
        async move { json_of(request.send().await.unwrap()).await }
    };
    let drop_body = json!({"interaction_id": f.interaction});
    let update_body = json!({"interaction_id": f.interaction, "member_type": "public_fulfiller"});

    let (status, body) = versioned("v1", Method::PUT, &f.agent, "drop", drop_body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        success(false, "public_fulfiller", &f.interaction, DROPPED)
    );
    let (status, body) = versioned(
        "v2",
        Method::POST,
        &f.supervisor,
        "update",
        update_body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        success(true, "public_fulfiller", &f.interaction, UPDATED)
    );
    let (status, body) = versioned("v2", Method::PUT, &f.private, "drop", drop_body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        success(false, "private_fulfiller", &f.interaction, DROPPED)
    );
    let (status, body) = versioned("v1", Method::POST, &f.agent2, "update", update_body).await;
    assert_eq!(
        (status, body),
        (StatusCode::INTERNAL_SERVER_ERROR, refused(ALREADY_PUBLIC))
    );
}

// ---------------------------------------------------------------------------------------------
// The observer rule on the Table API
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn making_a_non_manager_an_observer_through_the_table_api_is_403() {
    let f = fixture().await;
    let response = f
        .app
        .admin(
            Method::PATCH,
            &format!(
                "/api/now/table/sys_cs_conversation_member/{}",
                f.agent_member
            ),
        )
        .json(&json!({"member_type": "observer"}))
        .send()
        .await
        .unwrap();
    let detail = assert_error(response, StatusCode::FORBIDDEN, "Operation Failed").await;
    assert!(
        detail.as_str().unwrap_or_default().contains("awa_manager"),
        "{detail}"
    );
    assert_eq!(
        member(&f.app, &f.agent_member).await["member_type"],
        "public_fulfiller"
    );
    // Moving the observer record to a non-manager is refused too.
    let response = f
        .app
        .admin(
            Method::PATCH,
            &format!(
                "/api/now/table/sys_cs_conversation_member/{}",
                f.supervisor_member
            ),
        )
        .json(&json!({"member": f.outsider}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "Operation Failed").await;
    assert_eq!(
        member(&f.app, &f.supervisor_member).await["member"],
        f.supervisor.as_str()
    );
    // A manager may be made an observer.
    let private_manager = f
        .app
        .user("manager2", "manager2-password", &["awa_manager"])
        .await;
    let id = add_member(
        &f.app,
        &f.conversation,
        &private_manager,
        "private_fulfiller",
    )
    .await;
    let response = f
        .app
        .admin(
            Method::PATCH,
            &format!("/api/now/table/sys_cs_conversation_member/{id}"),
        )
        .json(&json!({"member_type": "observer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Races
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_drop_and_update_end_in_a_serial_outcome() {
    let f = fixture().await;
    let member_path = format!(
        "/api/now/table/sys_cs_conversation_member/{}",
        f.supervisor_member
    );
    // Drop first: drop 200 (observer), update "not a member"; update first: both 200.
    let drop_first = (
        (
            StatusCode::OK,
            success(false, "observer", &f.interaction, DROPPED),
        ),
        (StatusCode::BAD_REQUEST, refused(NOT_A_MEMBER)),
        "observer",
    );
    let update_first = (
        (
            StatusCode::OK,
            success(false, "public_fulfiller", &f.interaction, DROPPED),
        ),
        (
            StatusCode::OK,
            success(true, "public_fulfiller", &f.interaction, UPDATED),
        ),
        "public_fulfiller",
    );
    for round in 0..12 {
        // Back to an active observer.
        let response = f
            .app
            .admin(Method::PATCH, &member_path)
            .json(&json!({"active": true, "member_type": "observer"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "round {round}: reset");

        let drop = request(&f.app, Method::PUT, &f.supervisor, "drop")
            .json(&json!({"interaction_id": f.interaction}));
        let update = request(&f.app, Method::PUT, &f.supervisor, "update")
            .json(&json!({"interaction_id": f.interaction, "member_type": "public_fulfiller"}));
        let (drop, update) = if round % 2 == 0 {
            let d = tokio::spawn(async move { json_of(drop.send().await.unwrap()).await });
            let u = tokio::spawn(async move { json_of(update.send().await.unwrap()).await });
            (d.await.unwrap(), u.await.unwrap())
        } else {
            let u = tokio::spawn(async move { json_of(update.send().await.unwrap()).await });
            let d = tokio::spawn(async move { json_of(drop.send().await.unwrap()).await });
            (d.await.unwrap(), u.await.unwrap())
        };
        for (status, body) in [&drop, &update] {
            assert!(
                !status.is_server_error() || *body == refused(ALREADY_PUBLIC),
                "round {round}: {status} {body}"
            );
        }
        let record = member(&f.app, &f.supervisor_member).await;
        let outcome = (
            drop.clone(),
            update.clone(),
            record["member_type"].as_str().unwrap_or_default(),
        );
        assert_eq!(record["active"], "false", "round {round}: {record}");
        assert!(
            outcome == drop_first || outcome == update_first,
            "round {round}: not a serial outcome: drop {drop:?}, update {update:?}, record {record}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Bodies, paths and memberships at the edges
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn unreadable_bodies_are_400_never_500() {
    let f = fixture().await;
    for (content_type, text) in [
        ("application/json", "[\"interaction_id\"]"),
        ("application/json", "{\"interaction_id\": "),
        ("application/xml", "<request><interaction_id>x</request>"),
    ] {
        let response = request(&f.app, Method::PUT, &f.agent, "drop")
            .header(CONTENT_TYPE, content_type)
            .body(text)
            .send()
            .await
            .unwrap();
        let detail = assert_unreadable_request(response).await;
        assert!(
            detail.as_str().is_some_and(|d| !d.is_empty()),
            "{text}: {detail}"
        );
    }
    assert_eq!(member(&f.app, &f.agent_member).await["active"], "true");
}

#[tokio::test]
async fn an_unknown_action_is_the_unknown_uri_400() {
    let f = fixture().await;
    for method in [Method::PUT, Method::POST] {
        let response = request(&f.app, method, &f.agent, "join")
            .json(&json!({"interaction_id": f.interaction}))
            .send()
            .await
            .unwrap();
        assert_error(
            response,
            StatusCode::BAD_REQUEST,
            "Requested URI does not represent any resource",
        )
        .await;
    }
}

#[tokio::test]
async fn membership_of_another_conversation_does_not_count() {
    let f = fixture().await;
    let other = open_interaction(&f.app, INTEGRATION, &f.third_party).await;
    let other_conversation = conversation_of(&f.app, &other).await.unwrap();
    add_member(
        &f.app,
        &other_conversation,
        &f.outsider,
        "private_fulfiller",
    )
    .await;
    // The outsider is a member of the other conversation only.
    assert_both_refused(
        &f.app,
        &f.outsider,
        &f.interaction,
        StatusCode::BAD_REQUEST,
        NOT_A_MEMBER,
    )
    .await;
    // And the agent, a member of the first, is not one of the other.
    assert_refused(
        &f.app,
        &f.agent,
        "drop",
        json!({"interaction_id": other}),
        StatusCode::BAD_REQUEST,
        NOT_A_MEMBER,
    )
    .await;
    let (status, body) = member_action(
        &f.app,
        Method::PUT,
        &f.outsider,
        "drop",
        json!({"interaction_id": other}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, success(false, "private_fulfiller", &other, DROPPED));
}

#[tokio::test]
async fn each_drop_deactivates_one_of_several_active_records() {
    let f = fixture().await;
    let second = add_member(&f.app, &f.conversation, &f.agent, "private_fulfiller").await;
    for _ in 0..2 {
        let (status, body) = member_action(
            &f.app,
            Method::PUT,
            &f.agent,
            "drop",
            json!({"interaction_id": f.interaction}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["result"]["conversation_member"]["active"], false);
    }
    assert_eq!(member(&f.app, &f.agent_member).await["active"], "false");
    assert_eq!(member(&f.app, &second).await["active"], "false");
    assert_refused(
        &f.app,
        &f.agent,
        "drop",
        json!({"interaction_id": f.interaction}),
        StatusCode::BAD_REQUEST,
        NOT_A_MEMBER,
    )
    .await;
}

#[tokio::test]
async fn an_inactive_record_is_not_updated_while_an_active_one_is() {
    let f = fixture().await;
    // The supervisor left once (an inactive observer record) and is back as a private fulfiller.
    let response = f
        .app
        .admin(
            Method::PATCH,
            &format!(
                "/api/now/table/sys_cs_conversation_member/{}",
                f.supervisor_member
            ),
        )
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let back = add_member(&f.app, &f.conversation, &f.supervisor, "private_fulfiller").await;
    let (status, body) = member_action(
        &f.app,
        Method::PUT,
        &f.supervisor,
        "update",
        json!({"interaction_id": f.interaction, "member_type": "public_fulfiller"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        success(true, "public_fulfiller", &f.interaction, UPDATED)
    );
    assert_eq!(
        member(&f.app, &back).await["member_type"],
        "public_fulfiller"
    );
    let old = member(&f.app, &f.supervisor_member).await;
    assert_eq!(old["member_type"], "observer");
    assert_eq!(old["active"], "false");
}
