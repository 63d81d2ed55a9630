//! What the tests of the seed APIs (Interaction Management, Conversation Member) start from:
//! the integration user, connectors, interactions, and the shape of an interaction.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{TestApp, json_of, sys_id_of};

/// The 14 keys of an interaction as the Interaction Management API answers it (the seed page's
/// sample response).
pub const INTERACTION_KEYS: [&str; 14] = [
    "channel",
    "context",
    "queue",
    "state",
    "number",
    "contextDocument",
    "contextTable",
    "channelMetadataDocument",
    "channelMetadataTable",
    "channel_metadata",
    "sys_id",
    "assigned_to",
    "closed_by",
    "opened_for",
];

/// Asserts an Interaction Management API `result` has exactly [`INTERACTION_KEYS`].
pub fn assert_interaction_keys(result: &Value) {
    let keys: BTreeSet<&str> = result
        .as_object()
        .unwrap_or_else(|| panic!("result is not an object: {result}"))
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = INTERACTION_KEYS.into_iter().collect();
    assert_eq!(keys, expected, "{result}");
}

/// The integration user a CCaaS platform signs in as (see [`TestApp::integration_user`]).
pub const INTEGRATION: (&str, &str) = ("integration", "integration-password");

impl TestApp {
    /// Creates [`INTEGRATION`] with the roles of an integration that opens interactions and
    /// manages their members: `awa_integration_user` and `interaction_agent`.
    pub async fn integration_user(&self) -> String {
        self.user(
            INTEGRATION.0,
            INTEGRATION.1,
            &["awa_integration_user", "interaction_agent"],
        )
        .await
    }
}

/// Creates an active phone connector that is not third-party; returns its sys_id.
pub async fn phone_connector(app: &TestApp) -> String {
    let connector = app
        .insert(
            "interaction_connector",
            json!({"name": "Phone", "type": "phone", "third_party": false, "active": true}),
        )
        .await;
    sys_id_of(&connector)
}

/// Creates an active third-party chat connector (a CCaaS one); returns its sys_id.
pub async fn chat_connector(app: &TestApp) -> String {
    let connector = app
        .insert(
            "interaction_connector",
            json!({"name": "CCaaS chat", "type": "chat", "third_party": true, "active": true}),
        )
        .await;
    sys_id_of(&connector)
}

/// Opens an interaction on `channel` as `who` through the Interaction Management API
/// (asserting 201); returns its sys_id.
pub async fn open_interaction(app: &TestApp, who: (&str, &str), channel: &str) -> String {
    let (status, body) = json_of(
        app.as_user(who, Method::POST, "/api/now/interaction")
            .json(&json!({"channel": channel}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    sys_id_of(&body["result"])
}
