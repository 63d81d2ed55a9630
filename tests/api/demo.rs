//! `serve --demo`: every curl sample of the three seed pages, replayed as written (quoting
//! repaired) against the real binary, answers what the page shows; the banner gives the
//! credentials; a restart restores the demo state without duplicating anything.

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::binary::Binary;
use super::helpers::{TestDb, assert_interaction_keys, call, is_sys_id, json_of, sys_id_of};

const ADMIN: (&str, &str) = ("admin", "admin");
const INTEGRATION: (&str, &str) = ("integration", "integration");

const CHANNEL: &str = "28a59893873103002ae97e2526cb0b5d";
const QUEUE: &str = "f3a50867b30303002186a72256a8dcb7";
const TO_CLOSE: &str = "b243cde4208f1700964f959e0488dee8";
const CHAT_INTERACTION: &str = "27f675e3739713004a905ee515f6a7c3";
const CHAT_AGENT: &str = "0b10223c57a313005baaaa65ef94f970";
/// `src/demo.rs` SUPERVISOR: the observer the update sample makes a public fulfiller.
const SUPERVISOR: &str = "a8f98bb0eb32010045e1a5115206fe3a";
const MAPPED_AGENT: &str = "da419c1fc312310015519f2974d3ae15";
/// The sys_id the Attachment API's samples read.
const ATTACHMENT: &str = "615ea769c0a80166001cf5f2367302f5";

/// A `switchboard serve --demo` process on a free port.
struct DemoServer {
    binary: Binary,
    /// The lines printed after `listening on ...`.
    banner: Vec<String>,
}

impl DemoServer {
    fn start(database: &str) -> DemoServer {
        Self::start_with(database, true, &[])
    }

    /// Starts `serve` (with `--demo` when `demo`) with these environment variables.
    fn start_with(database: &str, demo: bool, env: &[(&str, &str)]) -> DemoServer {
        let args: &[&str] = if demo { &["--demo"] } else { &[] };
        let binary = Binary::serve(database, args, env);
        let mut banner = Vec::new();
        // With --demo the banner follows at once: its three lines, or whatever came in the wait.
        while demo && banner.len() < 3 {
            match binary.next_line(Duration::from_secs(10)) {
                Some(line) => banner.push(line),
                None => break,
            }
        }
        DemoServer { binary, banner }
    }

    fn url(&self, path: &str) -> String {
        self.binary.url(path)
    }

    /// Stops the server with SIGTERM and waits for a clean exit.
    fn stop(self) {
        self.binary.stop();
    }
}

/// A curl-equivalent request: the sample's method, headers, body and user.
async fn sample(
    server: &DemoServer,
    method: Method,
    path: &str,
    body: Option<&str>,
    who: (&str, &str),
) -> (StatusCode, Value) {
    let mut request = crate::helpers::client()
        .request(method, server.url(path))
        .header(ACCEPT, "application/json")
        .header(CONTENT_TYPE, "application/json")
        .basic_auth(who.0, Some(who.1));
    if let Some(body) = body {
        request = request.body(body.to_owned());
    }
    json_of(request.send().await.unwrap()).await
}

async fn table_get(server: &DemoServer, path: &str) -> (StatusCode, Value) {
    call(&server.binary.base, ADMIN, Method::GET, path, None).await
}

/// The page's create sample.
async fn create_sample(server: &DemoServer) -> (StatusCode, Value) {
    sample(
        server,
        Method::POST,
        "/api/now/interaction",
        Some(&format!(
            "{{\"channel\":\"{CHANNEL}\",\"queue\":\"{QUEUE}\"}}"
        )),
        ADMIN,
    )
    .await
}

async fn close_sample(server: &DemoServer) -> (StatusCode, Value) {
    sample(
        server,
        Method::POST,
        &format!("/api/now/interaction/{TO_CLOSE}/close"),
        None,
        ADMIN,
    )
    .await
}

async fn drop_sample(server: &DemoServer) -> (StatusCode, Value) {
    sample(
        server,
        Method::POST,
        &format!("/api/now/conversation/member/{CHAT_AGENT}/drop"),
        Some(&format!("{{\"interaction_id\":\"{CHAT_INTERACTION}\"}}")),
        INTEGRATION,
    )
    .await
}

async fn update_sample(server: &DemoServer) -> (StatusCode, Value) {
    sample(
        server,
        Method::POST,
        &format!("/api/now/conversation/member/{SUPERVISOR}/update"),
        Some(&format!(
            "{{ \n \"interaction_id\":\"{CHAT_INTERACTION}\", \n \"member_type\":\"public_fulfiller\" \n}}"
        )),
        INTEGRATION,
    )
    .await
}

/// The page's update response, `conversation_id` being the interaction's sys_id.
fn update_response() -> Value {
    json!({
      "result": {
        "conversation_member": {
          "active": true,
          "memberType": "public_fulfiller",
          "conversation_id": CHAT_INTERACTION
        },
        "success": true,
        "message": "Request to update agent member type processed successfully."
      }
    })
}

/// The page's close response, every value as shown.
fn close_response() -> Value {
    json!({
      "result": {
        "channel": "28a59893873103002ae97e2526cb0b5d",
        "context": {
          "present": true
        },
        "queue": "f3a50867b30303002186a72256a8dcb7",
        "state": "closed_complete",
        "number": "IMS0000060",
        "contextDocument": "3a43cde4208f1700964f959e0488dee7",
        "contextTable": "interaction_json_blob",
        "channelMetadataDocument": "fa43cde4208f1700964f959e0488dee8",
        "channelMetadataTable": "live_group_profile",
        "channel_metadata": {
          "present": true
        },
        "sys_id": "b243cde4208f1700964f959e0488dee8",
        "assigned_to": "",
        "closed_by": "6816f79cc0a8016401c5a33be04be441",
        "opened_for": "46d44a23a9fe19810012d100cca80666"
      }
    })
}

/// The page's drop response.
fn drop_response() -> Value {
    json!({
      "result": {
        "conversation_member": {
          "active": false,
          "memberType": "public_fulfiller",
          "conversation_id": "27f675e3739713004a905ee515f6a7c3"
        },
        "success": true,
        "message": "Request to drop agent processed successfully."
      }
    })
}

#[tokio::test]
async fn the_banner_gives_the_credentials_and_a_curl_line() {
    let db = TestDb::new();
    let server = DemoServer::start(&db.url);
    let banner = server.banner.join("\n");
    assert!(!server.banner.is_empty(), "no banner after the first line");
    for name in ["admin", "integration", "password"] {
        assert!(banner.contains(name), "{name} in {banner}");
    }
    let curl = server
        .banner
        .iter()
        .find(|l| l.contains("curl "))
        .unwrap_or_else(|| panic!("no curl line in {banner}"));
    assert!(curl.contains("admin:admin"), "{curl}");
    assert!(curl.contains(&server.binary.base), "{curl}");
    assert!(curl.contains("/api/now/interaction"), "{curl}");

    // The banner's credentials work: admin/admin is an admin, integration/integration may use
    // the Conversation Member API.
    let (status, body) = table_get(&server, "/api/now/table/sys_user?user_name=integration").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let roles = body["result"][0]["roles"].as_str().unwrap_or_default();
    for role in [
        "awa_integration_user",
        "interaction_agent",
        "interaction_admin",
    ] {
        assert!(roles.contains(role), "{role} in {roles}");
    }
    let response = crate::helpers::client()
        .get(server.url("/api/now/table/sys_user"))
        .basic_auth(INTEGRATION.0, Some(INTEGRATION.1))
        .send()
        .await
        .unwrap();
    assert_ne!(response.status(), StatusCode::UNAUTHORIZED);
    server.stop();
}

#[tokio::test]
async fn the_create_sample_answers_as_the_page_shows() {
    let db = TestDb::new();
    let server = DemoServer::start(&db.url);
    let (status, body) = create_sample(&server).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let result = &body["result"];
    assert_interaction_keys(result);
    assert_eq!(result["channel"], CHANNEL);
    assert_eq!(result["queue"], QUEUE);
    assert_eq!(result["state"], "queued");
    assert_eq!(result["number"], "IMS0000075");
    assert_eq!(result["contextTable"], "interaction_json_blob");
    assert_eq!(result["channelMetadataTable"], "live_group_profile");
    assert_eq!(result["context"], json!({"present": true}));
    assert_eq!(result["channel_metadata"], json!({"present": true}));
    assert_eq!(result["assigned_to"], "");
    assert_eq!(result["closed_by"], "");
    assert_eq!(result["opened_for"], "");
    for id in ["sys_id", "contextDocument", "channelMetadataDocument"] {
        assert!(is_sys_id(&result[id]), "{id}: {result}");
    }
    // The demo channel is third-party: the new interaction has a conversation.
    let (status, conversations) = table_get(
        &server,
        &format!(
            "/api/now/table/sys_cs_conversation?interaction={}",
            &sys_id_of(result)
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(conversations["result"].as_array().unwrap().len(), 1);
    server.stop();
}

#[tokio::test]
async fn the_close_sample_answers_every_value_the_page_shows() {
    let db = TestDb::new();
    let server = DemoServer::start(&db.url);
    let (status, body) = close_sample(&server).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, close_response());
    server.stop();
}

#[tokio::test]
async fn the_drop_sample_answers_the_pages_body() {
    let db = TestDb::new();
    let server = DemoServer::start(&db.url);
    let (status, body) = drop_sample(&server).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, drop_response());
    server.stop();
}

#[tokio::test]
async fn the_update_sample_answers_the_pages_body() {
    let db = TestDb::new();
    let server = DemoServer::start(&db.url);
    let (status, body) = update_sample(&server).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, update_response());
    server.stop();
}

#[tokio::test]
async fn the_agent_mapping_samples_insert_then_update() {
    let db = TestDb::new();
    let server = DemoServer::start(&db.url);
    mapping_samples(&server).await;
    server.stop();
}

/// The page's two mapping samples: 201 "inserted", then 200 "updated" with the same id.
async fn mapping_samples(server: &DemoServer) {
    let path = format!(
        "/api/sn_ct_ctr_it_core/agent_mapping/agent/{MAPPED_AGENT}/inboundId/ServiceNowVoice"
    );
    let (status, first) = sample(
        server,
        Method::PUT,
        &path,
        Some("{\"external_agent_id\":\"12345\"}"),
        ADMIN,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let ids = first["result"]["mappingIds"].as_array().unwrap().clone();
    assert_eq!(ids.len(), 1, "{first}");
    assert!(is_sys_id(&ids[0]), "{first}");
    assert_eq!(
        first,
        json!({"result": {"message": "Agent Id mapping record inserted", "status": "success",
                          "mappingIds": ids}})
    );

    let (status, second) = sample(
        server,
        Method::PUT,
        &path,
        Some("{\"external_agent_id\":\"12345\", \"active\":\"false\"}"),
        ADMIN,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(
        second,
        json!({"result": {"message": "Agent Id mapping record updated", "status": "success",
                          "mappingIds": ids}})
    );
    let (status, record) = table_get(
        server,
        &format!(
            "/api/now/table/external_agent_mapping/{}?sysparm_exclude_reference_link=true",
            ids[0].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(record["result"]["active"], "false");
    assert_eq!(record["result"]["external_agent_id"], "12345");
    assert_eq!(record["result"]["user"], MAPPED_AGENT);
}

#[tokio::test]
async fn a_restart_with_demo_restores_the_demo_state_without_duplicates() {
    let test_db = TestDb::new();
    let db = test_db.url.clone();
    let server = DemoServer::start(&db);
    let (status, body) = close_sample(&server).await;
    assert_eq!((status, body), (StatusCode::OK, close_response()));
    let (status, body) = drop_sample(&server).await;
    assert_eq!((status, body), (StatusCode::OK, drop_response()));
    let (status, body) = update_sample(&server).await;
    assert_eq!((status, body), (StatusCode::OK, update_response()));
    mapping_samples(&server).await;
    let (status, created) = create_sample(&server).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["result"]["number"], "IMS0000075");
    let (_, users_before) = table_get(&server, "/api/now/table/sys_user").await;
    server.stop();

    let server = DemoServer::start(&db);
    // The interaction to close is open again, the dropped agent a member again.
    let (status, stored) = table_get(
        &server,
        &format!("/api/now/table/interaction/{TO_CLOSE}?sysparm_exclude_reference_link=true"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["result"]["state"], "queued", "{stored}");
    assert_eq!(stored["result"]["active"], "true", "{stored}");
    assert_eq!(stored["result"]["closed_by"], "", "{stored}");
    assert_eq!(stored["result"]["number"], "IMS0000060", "{stored}");
    let (status, conversations) = table_get(
        &server,
        &format!("/api/now/table/sys_cs_conversation?interaction={TO_CLOSE}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let conversations = conversations["result"].as_array().unwrap().clone();
    assert_eq!(conversations.len(), 1, "{conversations:?}");
    assert_eq!(conversations[0]["state"], "open");

    let (status, body) = close_sample(&server).await;
    assert_eq!((status, body), (StatusCode::OK, close_response()));
    let (status, body) = drop_sample(&server).await;
    assert_eq!((status, body), (StatusCode::OK, drop_response()));
    let (status, body) = update_sample(&server).await;
    assert_eq!((status, body), (StatusCode::OK, update_response()));
    // The demo agent is unmapped again: the mapping samples insert, then update.
    mapping_samples(&server).await;

    // Loading again duplicated nobody, and numbers go on after the ones already given.
    let (status, admins) = table_get(&server, "/api/now/table/sys_user?user_name=admin").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(admins["result"].as_array().unwrap().len(), 1, "{admins}");
    let (_, users_after) = table_get(&server, "/api/now/table/sys_user").await;
    assert_eq!(
        users_after["result"].as_array().unwrap().len(),
        users_before["result"].as_array().unwrap().len()
    );
    // Two queues: the interactions' and the AWA routing sample's.
    for (table, count) in [
        ("interaction_connector", 1),
        ("awa_queue", 2),
        ("sys_cs_provider_application", 1),
    ] {
        let (_, records) = table_get(&server, &format!("/api/now/table/{table}")).await;
        assert_eq!(
            records["result"].as_array().unwrap().len(),
            count,
            "{table}: {records}"
        );
    }
    let (status, again) = create_sample(&server).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["result"]["number"], "IMS0000076");
    server.stop();
}

/// The demo attachment's content, as the file sample downloads it.
async fn attachment_file(server: &DemoServer) -> (StatusCode, String) {
    let response = crate::helpers::client()
        .get(server.url(&format!("/api/now/attachment/{ATTACHMENT}/file")))
        .header(ACCEPT, "*/*")
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_attachment_samples_read_the_demo_file_and_a_restart_restores_it() {
    let test_db = TestDb::new();
    let db = test_db.url.clone();
    let server = DemoServer::start(&db);
    let path = format!("/api/now/attachment/{ATTACHMENT}");
    let (status, listed) = sample(
        &server,
        Method::GET,
        "/api/now/attachment?sysparm_limit=1",
        None,
        ADMIN,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["result"][0]["sys_id"], ATTACHMENT, "{listed}");
    let (status, metadata) = sample(&server, Method::GET, &path, None, ADMIN).await;
    assert_eq!(status, StatusCode::OK, "{metadata}");
    assert_eq!(metadata["result"]["file_name"], "readme.txt");
    assert_eq!(metadata["result"]["table_sys_id"], QUEUE);
    let (status, text) = attachment_file(&server).await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::OK, "switchboard demo attachment\n")
    );
    let deleted = crate::helpers::client()
        .delete(server.url(&path))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(attachment_file(&server).await.0, StatusCode::NOT_FOUND);
    server.stop();

    let server = DemoServer::start(&db);
    let (status, text) = attachment_file(&server).await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::OK, "switchboard demo attachment\n")
    );
    server.stop();
}

#[tokio::test]
async fn demo_on_an_existing_database_makes_admin_admin_without_a_second_admin() {
    let test_db = TestDb::new();
    let db = test_db.url.clone();
    let plain = DemoServer::start_with(
        &db,
        false,
        &[("SWITCHBOARD_ADMIN_PASSWORD", "first-admin-password")],
    );
    let response = crate::helpers::client()
        .post(plain.url("/api/now/table/awa_queue"))
        .basic_auth("admin", Some("first-admin-password"))
        .json(&json!({"name": "Kept queue"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    plain.stop();

    let server = DemoServer::start(&db);
    let (status, admins) = table_get(&server, "/api/now/table/sys_user?user_name=admin").await;
    assert_eq!(status, StatusCode::OK, "admin/admin works: {admins}");
    assert_eq!(admins["result"].as_array().unwrap().len(), 1, "{admins}");
    let (status, body) = close_sample(&server).await;
    assert_eq!((status, body), (StatusCode::OK, close_response()));
    // Records that are not the demo's are left alone.
    let (_, queues) = table_get(&server, "/api/now/table/awa_queue?name=Kept%20queue").await;
    assert_eq!(queues["result"].as_array().unwrap().len(), 1, "{queues}");
    server.stop();
}

/// The AWA Agent API's agent, presence states and channels (`src/fixtures/demo.rs`).
const AWA_AGENT: &str = "46d44a23a9fe19810012d100cca80666";
const AVAILABLE: &str = "0b10223c57a313005baaaa65ef94f970";
const AWAY: &str = "41f9b8dfb31313005baa6e5f26a8dcac";
const OFFLINE: &str = "9cd83267575313005baaaa65ef94f98b";
const CHAT: &str = "27f675e3739713004a905ee515f6a7c3";
/// The channel the PUT presence sample names: the demo's Phone channel.
const PHONE: &str = "0bbdedbb3b892300a2bac9bb34efc445";

/// The GET agent sample's response, as on the page.
fn awa_agent_response() -> Value {
    json!({"result": {"presence": {"name": "Available", "sys_id": AVAILABLE, "available": true,
           "channels": [{"name": "Chat", "available": true, "sys_id": CHAT}]},
           "sys_id": AWA_AGENT}})
}

/// The GET capacities sample's response: the page's, with the workloads 0 (no work items yet).
fn awa_capacities_response() -> Value {
    json!({"result": {"universal_workload": 0, "channels": [
        {"channel_sys_id": CHAT, "current_workload": 0, "max_capacity": 4}],
        "universal_capacity": 10}})
}

async fn awa_get(server: &DemoServer, tail: &str) -> (StatusCode, Value) {
    let path = format!("/api/now/awa/agents/{AWA_AGENT}{tail}");
    sample(server, Method::GET, &path, None, INTEGRATION).await
}

#[tokio::test]
async fn the_awa_agent_samples_answer_as_the_page_shows_and_a_restart_restores_them() {
    let test_db = TestDb::new();
    let db = test_db.url.clone();
    let server = DemoServer::start(&db);
    assert_eq!(
        awa_get(&server, "").await,
        (StatusCode::OK, awa_agent_response())
    );
    let state = |name: &str, id: &str, order: i64, available: bool, channels: Value| {
        json!({"name": name, "order": order, "show_channels": false, "sys_id": id,
               "available": available, "channels": channels, "disable_inactivity_check": false})
    };
    let chat = json!([{"name": "Chat", "available": true, "sys_id": CHAT,
                       "restrict_update": false, "service_channel_type": "chat"}]);
    assert_eq!(
        awa_get(&server, "/presence_states").await,
        (
            StatusCode::OK,
            json!({"result": [
                state("Available", AVAILABLE, 0, true, chat),
                state("Away", AWAY, 1000, false, json!([])),
                state("Offline", OFFLINE, 2000, false, json!([])),
            ]})
        )
    );
    assert_eq!(
        awa_get(&server, "/capacities").await,
        (StatusCode::OK, awa_capacities_response())
    );

    // The PUT presence sample names the Phone channel: the agent is available on both.
    let (status, body) = sample(
        &server,
        Method::PUT,
        &format!("/api/now/awa/agents/{AWA_AGENT}"),
        Some(&format!(
            "{{\"presence\": {{\n  \"sys_id\": \"{AVAILABLE}\",\n  \"channels\": [{{ \n  \
             \"sys_id\": \"{PHONE}\",\n  \"available\": true\n}}]\n}}}}"
        )),
        INTEGRATION,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"result": {"presence": {"name": "Available", "sys_id": AVAILABLE, "available": true,
               "channels": [{"name": "Chat", "available": true, "sys_id": CHAT},
                            {"name": "Phone", "available": true, "sys_id": PHONE}]},
               "sys_id": AWA_AGENT}})
    );
    let (status, body) = sample(
        &server,
        Method::PUT,
        &format!("/api/now/awa/agents/{AWA_AGENT}/capacities"),
        Some(&format!(
            "{{\n \"channels\": {{ \"{CHAT}\": 6 }},\n \"universal_capacity\" : 12\n}}"
        )),
        INTEGRATION,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"result": {"channels": [{"channel_sys_id": CHAT, "max_capacity": 6}],
               "universal_capacity": 12}})
    );
    server.stop();

    let server = DemoServer::start(&db);
    assert_eq!(
        awa_get(&server, "").await,
        (StatusCode::OK, awa_agent_response())
    );
    assert_eq!(
        awa_get(&server, "/capacities").await,
        (StatusCode::OK, awa_capacities_response())
    );
    server.stop();
}

/// The AWA Routing, Inbox Actions and Agent Consult pages' samples, as printed.
async fn awa_work_samples(server: &DemoServer) {
    let (status, body) = sample(
        server,
        Method::POST,
        "/api/now/awa/queues/339eed3f3b892300a2bac9bb34efc4c3/work_item",
        Some(
            "{\n  \"document_sys_id\": \"9c573169c611228700193229fff72400\",\n  \"document_table\": \"incident\"\n}",
        ),
        INTEGRATION,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(is_sys_id(&body["result"]["sys_id"]), "{body}");
    assert_eq!(
        body,
        json!({"result": {"sys_id": body["result"]["sys_id"], "document_table": "incident",
            "document_sys_id": "9c573169c611228700193229fff72400",
            "queue_sys_id": "339eed3f3b892300a2bac9bb34efc4c3",
            "display_name": "Incident: INC0000001"}})
    );

    let (status, body) = sample(
        server,
        Method::GET,
        "/api/now/awa/inbox/actions/reject_reasons/27f675e3739713004a905ee515f6a7c3",
        None,
        INTEGRATION,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The page's two reasons, by order (its sample lists them the other way round).
    assert_eq!(
        body,
        json!({"result": [
            {"order": 1, "value": "Busy", "display_value": "Busy",
             "sys_id": "4e93fa29b38023002e7b6e5f26a8dc20"},
            {"order": 2, "value": "Not my expertise", "display_value": "Not my expertise",
             "sys_id": "31e3fa29b38023002e7b6e5f26a8dc17"},
        ]})
    );

    let (status, body) = sample(
        server,
        Method::POST,
        "/api/now/awa/inbox/actions/accept",
        Some(
            "{\n \"agent_id\":\"46c9e158a9fe198101d44d0d22cb640d\",\n \"work_item_id\":\"fd69abfc878b01101ae365b83cbb35fe\"\n}",
        ),
        INTEGRATION,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"result": {"documentSysId": "57af7aec73d423002728660c4cf6a71c",
               "documentTable": "incident"}})
    );

    let (status, body) = sample(
        server,
        Method::POST,
        "/api/now/awa/inbox/actions/reject",
        Some(
            "{\n    \"agent_id\":\"46c9e158a9fe198101d44d0d22cb640d\",\n    \"work_item_id\":\"3ed5df4d87cf01101ae365b83cbb35af\",\n    \"reject_reason_id\":\"31e3fa29b38023002e7b6e5f26a8dc17\"\n}",
        ),
        INTEGRATION,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"result": {"work_item_id": "3ed5df4d87cf01101ae365b83cbb35af",
               "reject_reason_id": "31e3fa29b38023002e7b6e5f26a8dc17",
               "agent_id": "46c9e158a9fe198101d44d0d22cb640d"}})
    );

    let (status, body) = sample(
        server,
        Method::PUT,
        "/api/now/awa/consult/end",
        Some(
            "{\n    \"document_sys_id\": \"59616aba87bd5210be070d48dabb35e6\",\n    \"hand_over\": \"true\"\n}",
        ),
        INTEGRATION,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"result": {"success": true, "message": "Consult is successfully ended."}})
    );
}

#[tokio::test]
async fn the_awa_work_samples_answer_as_the_pages_show_and_a_restart_restores_them() {
    let test_db = TestDb::new();
    let db = test_db.url.clone();
    let server = DemoServer::start(&db);
    awa_work_samples(&server).await;
    server.stop();

    let server = DemoServer::start(&db);
    awa_work_samples(&server).await;
    let (status, items) = table_get(
        &server,
        "/api/now/table/awa_work_item?document_id=9c573169c611228700193229fff72400",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{items}");
    assert_eq!(items["result"].as_array().unwrap().len(), 1, "{items}");
    let (status, rejections) = table_get(&server, "/api/now/table/awa_work_item_rejection").await;
    assert_eq!(status, StatusCode::OK, "{rejections}");
    assert_eq!(
        rejections["result"].as_array().unwrap().len(),
        1,
        "{rejections}"
    );
    server.stop();
}
