//! The supervisor's side of a chat under `/_switchboard/` (docs/outbound-events.md): observing
//! a conversation and asking to join it, played end to end as the Conversation Member page's
//! four-step scenario, with a contact center of the test's own answering the join request.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value as Json, json};

use crate::helpers::awa::AwaWorld;
use crate::helpers::provider::{ProviderServer, world_reporting_to};
use crate::helpers::{INTEGRATION, client, json_of, sys_id_of};

const WAIT: Duration = Duration::from_secs(20);

/// A chat in the Chat queue, accepted by agent1: (interaction, work item).
async fn accepted_chat(w: &AwaWorld) -> String {
    let agent = w.agents[0].sys_id.clone();
    let (chat, item) = w.offered_interaction(&agent).await;
    w.accept(&agent, &item).await;
    chat
}

async fn act(w: &AwaWorld, action: &str, chat: &str, body: Json) -> (StatusCode, Json) {
    let path = format!("/_switchboard/conversations/{chat}/{action}");
    json_of(
        w.app
            .admin(Method::POST, &path)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_supervisor_observes_asks_to_join_and_the_contact_center_makes_them_a_fulfiller() {
    // The contact center: on a join request, it calls the Conversation Member API's /update
    // for the supervisor, as the page's third step says.
    // The server's address is known once the world is up.
    let base = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
    let target = base.clone();
    let server = ProviderServer::reacting(move |event: Json| {
        let target = target.clone();
        async move {
            if event["event_type"] != "conversation.join_requested" {
                return;
            }
            let supervisor = event["supervisor"]["sys_id"].as_str().unwrap().to_owned();
            let interaction = event["document"]["sys_id"].as_str().unwrap().to_owned();
            let url = format!(
                "{}/api/now/conversation/member/{supervisor}/update",
                target.get().unwrap()
            );
            let body = json!({"interaction_id": interaction, "member_type": "public_fulfiller"});
            let response = client()
                .put(url)
                .basic_auth(INTEGRATION.0, Some(INTEGRATION.1))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
    })
    .await;
    let (w, _) = world_reporting_to(&server, json!({})).await;
    base.set(w.app.base.clone()).unwrap();
    let chat = accepted_chat(&w).await;
    let supervisor = w
        .app
        .user("awa.supervisor", "supervisor-password", &["awa_manager"])
        .await;

    // 1. The supervisor opens and observes the conversation.
    let (status, body) = act(&w, "observe", &chat, json!({"supervisor": supervisor})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["member_type"], "observer");
    assert_eq!(body["result"]["interaction"], chat.as_str());
    let member = body["result"]["member"].as_str().unwrap().to_owned();
    let (status, again) = act(&w, "observe", &chat, json!({"supervisor": supervisor})).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["result"]["member"], member.as_str());
    assert!(
        w.active_members(&chat)
            .await
            .contains(&(supervisor.clone(), "observer".to_owned()))
    );

    // 2. The supervisor clicks "Join Conversation": the request goes to the third party.
    let (status, body) = act(&w, "join", &chat, json!({"supervisor": supervisor})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["result"]["status"], "join_requested");
    let event_id = body["result"]["event_id"].as_str().unwrap().to_owned();

    // 3. The third-party server receives it and calls /update.
    let join = server
        .wait_for_event("conversation.join_requested", WAIT)
        .await;
    assert_eq!(join.event_id(), event_id);
    assert_eq!(join.json["supervisor"]["sys_id"], supervisor.as_str());
    assert_eq!(join.json["supervisor"]["user_name"], "awa.supervisor");
    assert_eq!(join.json["document"]["sys_id"], chat.as_str());
    assert_eq!(join.json["conversation"], body["result"]["conversation"]);

    // 4. The conversation shows the supervisor as a public fulfiller.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let members = w.active_members(&chat).await;
        if members.contains(&(supervisor.clone(), "public_fulfiller".to_owned())) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{members:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Joined, the supervisor observes no more: asking to join again is refused.
    let (status, body) = act(&w, "join", &chat, json!({"supervisor": supervisor})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn observing_and_joining_refuse_what_cannot_be_done_in_the_envelope() {
    let server = ProviderServer::start().await;
    let (w, _) = world_reporting_to(&server, json!({})).await;
    let chat = accepted_chat(&w).await;
    let supervisor = w
        .app
        .user("awa.supervisor", "supervisor-password", &["awa_manager"])
        .await;
    let who = json!({"supervisor": supervisor});

    // Admin only.
    let path = format!("/_switchboard/conversations/{chat}/observe");
    let response = w
        .app
        .as_user(INTEGRATION, Method::POST, &path)
        .json(&who)
        .send();
    let (status, body) = json_of(response.await.unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let response = client()
        .post(w.app.url(&path))
        .json(&who)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let cases: Vec<(&str, String, Json, StatusCode, &str)> = vec![
        (
            "observe",
            chat.clone(),
            json!({}),
            StatusCode::BAD_REQUEST,
            "supervisor",
        ),
        (
            "observe",
            chat.clone(),
            json!({"supervisor": 7}),
            StatusCode::BAD_REQUEST,
            "supervisor",
        ),
        (
            "observe",
            "f".repeat(32),
            who.clone(),
            StatusCode::NOT_FOUND,
            "No interaction",
        ),
        (
            "observe",
            chat.clone(),
            json!({"supervisor": "0".repeat(32)}),
            StatusCode::BAD_REQUEST,
            "No user",
        ),
        // An agent who is a member already (and no manager).
        (
            "observe",
            chat.clone(),
            json!({"supervisor": w.agents[0].sys_id}),
            StatusCode::CONFLICT,
            "already a member",
        ),
        (
            "observe",
            chat.clone(),
            json!({"supervisor": w.agents[1].sys_id}),
            StatusCode::FORBIDDEN,
            "awa_manager",
        ),
        (
            "join",
            chat.clone(),
            who.clone(),
            StatusCode::CONFLICT,
            "not observing",
        ),
        (
            "join",
            chat.clone(),
            json!({"supervisor": "0".repeat(32)}),
            StatusCode::BAD_REQUEST,
            "No user",
        ),
    ];
    for (action, interaction, body, expected, words) in cases {
        let (status, answer) = act(&w, action, &interaction, body.clone()).await;
        assert_eq!(status, expected, "{action} {body}: {answer}");
        assert_eq!(answer["status"], "failure", "{answer}");
        let detail = answer["error"]["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(words), "{action} {body}: {answer}");
    }

    // An interaction on a channel that is not a third-party chat has no conversation.
    let plain = w
        .app
        .insert(
            "interaction_connector",
            json!({"name": "Phone line", "type": "phone", "third_party": false, "active": true}),
        )
        .await;
    let (status, body) = w
        .call(
            Method::POST,
            "/api/now/interaction",
            json!({"channel": sys_id_of(&plain)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let call = sys_id_of(&body["result"]);
    let (status, body) = act(&w, "observe", &call, who.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // A chat no provider hears of: observing works, joining cannot reach anyone.
    let unrouted = w.open_unrouted().await;
    let (status, body) = act(&w, "observe", &unrouted, who.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = act(&w, "join", &unrouted, who.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let detail = body["error"]["detail"].as_str().unwrap();
    assert!(detail.contains("external_provider"), "{body}");
    // Nothing was queued for it.
    let events = crate::helpers::fetch_records(
        &w.app,
        "x_switchboard_outbound_event",
        "event_type=conversation.join_requested",
    )
    .await;
    assert!(events.is_empty(), "{events:?}");
}
