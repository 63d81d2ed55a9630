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

#[tokio::test]
async fn the_external_id_mapping_samples_answer_as_the_page_shows() {
    let db = TestDb::new();
    let server = DemoServer::start(&db.url);
    let path = "/api/sn_ct_ctr_it_core/external_id_mapping/table/sn_customerservice_case/documentId/f584a7b23b3d3e10c524c59a04e45a6f";
    let page_get = json!({"result": {"data": {
        "document_table": "sn_customerservice_case",
        "document_id": "f584a7b23b3d3e10c524c59a04e45a6f",
        "external_id": "200",
        "external_provider": "8b592fb64f140210c0338ef0b1ce0b18"
    }}});
    let (status, body) = sample(&server, Method::GET, path, None, ADMIN).await;
    assert_eq!((status, body), (StatusCode::OK, page_get.clone()));
    let put_body = "{\n    \"external_id\": \"200\",\n    \"external_provider\": \"8b592fb64f140210c0338ef0b1ce0b18\"\n}";
    let (status, body) = sample(&server, Method::PUT, path, Some(put_body), ADMIN).await;
    let page_put = json!({"result": {
        "message": "External ID mapping record updated for sn_customerservice_case [f584a7b23b3d3e10c524c59a04e45a6f]",
        "status": "success"
    }});
    assert_eq!((status, body), (StatusCode::OK, page_put));
    let (status, body) = sample(&server, Method::GET, path, None, ADMIN).await;
    assert_eq!((status, body), (StatusCode::OK, page_get));
    server.stop();
}

/// docs/outbound-events.md's samples on the demo: a provider registered, the demo queue
/// reporting to it, the demo supervisor (already observing the demo chat) asks to join, the
/// request reaches the provider, and the provider's `/update` makes the supervisor a public
/// fulfiller.
#[tokio::test]
async fn the_outbound_event_samples_bring_the_supervisors_join_to_a_provider() {
    let db = TestDb::new();
    let server = DemoServer::start(&db.url);
    let provider = crate::helpers::provider::ProviderServer::start().await;
    let body = json!({"name": "My contact center", "endpoint_url": provider.url,
                      "authentication": "hmac", "secret": "s3cret"})
    .to_string();
    let (status, created) = sample(
        &server,
        Method::POST,
        "/api/now/table/awa_external_provider",
        Some(&body),
        ADMIN,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let path = format!("/api/now/table/awa_queue/{QUEUE}");
    let body = r#"{"external_provider": "My contact center"}"#;
    let (status, queue) = sample(&server, Method::PATCH, &path, Some(body), ADMIN).await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    let who = format!(r#"{{"supervisor": "{SUPERVISOR}"}}"#);
    let observe = format!("/_switchboard/conversations/{CHAT_INTERACTION}/observe");
    let (status, observed) = sample(&server, Method::POST, &observe, Some(&who), ADMIN).await;
    assert_eq!(status, StatusCode::OK, "{observed}");
    assert_eq!(observed["result"]["member_type"], "observer");
    let join = format!("/_switchboard/conversations/{CHAT_INTERACTION}/join");
    let (status, joined) = sample(&server, Method::POST, &join, Some(&who), ADMIN).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{joined}");
    let event = provider
        .wait_for_event("conversation.join_requested", Duration::from_secs(20))
        .await;
    assert!(event.signed_with("X-Switchboard-Signature", "s3cret"));
    assert_eq!(event.json["supervisor"]["user_name"], "supervisor");
    let update = format!("/api/now/conversation/member/{SUPERVISOR}/update");
    let body =
        format!(r#"{{"interaction_id": "{CHAT_INTERACTION}", "member_type": "public_fulfiller"}}"#);
    let (status, updated) = sample(&server, Method::PUT, &update, Some(&body), INTEGRATION).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        updated["result"]["conversation_member"]["memberType"],
        "public_fulfiller"
    );
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
    // One connector and provider; the seed pages' queue and the AWA samples' two.
    for (table, count) in [
        ("interaction_connector", 1),
        ("awa_queue", 3),
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
    // An incident made before the demo holds INC0000001, the Routing sample's number.
    let kept = crate::helpers::client()
        .post(plain.url("/api/now/table/incident"))
        .basic_auth("admin", Some("first-admin-password"))
        .json(&json!({"short_description": "Kept incident"}))
        .send()
        .await
        .unwrap();
    assert_eq!(kept.status(), StatusCode::CREATED);
    let kept: Value = kept.json().await.unwrap();
    assert_eq!(kept["result"]["number"], "INC0000001", "{kept}");
    let kept = kept["result"]["sys_id"].as_str().unwrap().to_owned();
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
    // The demo's incident takes INC0000001; the kept one is given a number after the demo's.
    let routed = table_record(&server, "incident", ROUTED_INCIDENT).await;
    assert_eq!(routed["number"], "INC0000001");
    let kept = table_record(&server, "incident", &kept).await;
    assert_eq!(kept["short_description"], "Kept incident");
    let number = kept["number"].as_str().unwrap().to_owned();
    assert!(number.as_str() > "INC0000003", "{kept}");
    let next = create_incident(&server).await;
    assert!(next > number, "{next} after {number}");
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

/// The AWA work-item pages' records (`src/fixtures/demo/awa_work.rs`), with the pages' sys_ids.
const ROUTING_QUEUE: &str = "339eed3f3b892300a2bac9bb34efc4c3";
const ROUTED_INCIDENT: &str = "9c573169c611228700193229fff72400";
const ROUTED_ITEM: &str = "cd57f90ddbb26300db2051735e9619f0";
const OFFER_INTERACTION: &str = "59616aba87bd5210be070d48dabb35e6";
const OFFER_QUEUE: &str = "92f8942787851210be070d48dabb35fb";
const OFFER_AGENT: &str = "0d584509c323120095ccd02422d3ae5b";
const OFFER_ITEM: &str = "bfa3a27e87bd5210be070d48dabb3588";
/// The demo's own sys_id (the Consult page names the document only).
const CONSULT_ITEM: &str = "e5a1c3f70b2d4e6f8a9b0c1d2e3f4a01";
const INBOX_AGENT: &str = "46c9e158a9fe198101d44d0d22cb640d";
const NOT_MY_EXPERTISE: &str = "31e3fa29b38023002e7b6e5f26a8dc17";
const BUSY: &str = "4e93fa29b38023002e7b6e5f26a8dc20";
const ACCEPT_ITEM: &str = "fd69abfc878b01101ae365b83cbb35fe";
const ACCEPT_INCIDENT: &str = "57af7aec73d423002728660c4cf6a71c";
const REJECT_ITEM: &str = "3ed5df4d87cf01101ae365b83cbb35af";
/// The demo's own sys_id (the reject sample names no document).
const REJECT_INCIDENT: &str = "e5a1c3f70b2d4e6f8a9b0c1d2e3f4a02";

/// One record through the Table API, references as sys_ids.
async fn table_record(server: &DemoServer, table: &str, id: &str) -> Value {
    let path = format!("/api/now/table/{table}/{id}?sysparm_exclude_reference_link=true");
    let (status, body) = table_get(server, &path).await;
    assert_eq!(status, StatusCode::OK, "{table} {id}: {body}");
    body["result"].clone()
}

async fn table_list(server: &DemoServer, table: &str, query: &str) -> Vec<Value> {
    let path = format!("/api/now/table/{table}?sysparm_exclude_reference_link=true&{query}");
    let (status, body) = table_get(server, &path).await;
    assert_eq!(status, StatusCode::OK, "{table}?{query}: {body}");
    body["result"].as_array().unwrap().clone()
}

/// Asserts that every field named in `expected` has the value shown (as the Table API shows it).
fn assert_fields(record: &Value, expected: Value) {
    for (name, value) in expected.as_object().unwrap() {
        assert_eq!(&record[name], value, "{name} of {record}");
    }
}

/// The demo conversation of the offer interaction: its sys_id.
async fn offer_conversation(server: &DemoServer) -> String {
    let found = table_list(
        server,
        "sys_cs_conversation",
        &format!("interaction={OFFER_INTERACTION}"),
    )
    .await;
    assert_eq!(found.len(), 1, "{found:?}");
    found[0]["sys_id"].as_str().unwrap().to_owned()
}

/// Everything the AWA work-item samples need, in the state the samples need it.
async fn assert_awa_work_sample_state(server: &DemoServer) {
    for (id, number, assigned_to) in [
        (ROUTED_INCIDENT, "INC0000001", ""),
        (ACCEPT_INCIDENT, "INC0000002", ""),
        (REJECT_INCIDENT, "INC0000003", ""),
    ] {
        let incident = table_record(server, "incident", id).await;
        assert_fields(
            &incident,
            json!({"number": number, "active": "true", "assigned_to": assigned_to}),
        );
    }
    let queue = table_record(server, "awa_queue", ROUTING_QUEUE).await;
    assert_fields(
        &queue,
        json!({"active": "true", "service_channel": CHAT, "external_routing": "false"}),
    );
    let queue = table_record(server, "awa_queue", OFFER_QUEUE).await;
    assert_fields(
        &queue,
        json!({"active": "true", "service_channel": CHAT, "external_routing": "true"}),
    );
    let interaction = table_record(server, "interaction", OFFER_INTERACTION).await;
    assert_fields(
        &interaction,
        json!({"number": "IMS0000221", "active": "true", "state": "work_in_progress",
               "assigned_to": OFFER_AGENT, "channel": CHANNEL, "queue": OFFER_QUEUE}),
    );
    let conversation = offer_conversation(server).await;
    let members = table_list(
        server,
        "sys_cs_conversation_member",
        &format!("sysparm_query=conversation={conversation}^ORDERBYmember_type"),
    )
    .await;
    let members: Vec<(&str, &str, &str)> = members
        .iter()
        .map(|m| {
            (
                m["member"].as_str().unwrap(),
                m["member_type"].as_str().unwrap(),
                m["active"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        members,
        [
            (INBOX_AGENT, "private_fulfiller", "true"),
            (OFFER_AGENT, "public_fulfiller", "true")
        ]
    );

    let item = |document_table: &str, document: &str, queue: &str, state: &str, agent: &str| {
        json!({"document_table": document_table, "document_id": document, "queue": queue,
               "service_channel": CHAT, "state": state, "active": "true", "assigned_to": agent,
               "rejected": "false", "timed_out": "false", "timeout_on": "", "reason": ""})
    };
    let routed = table_record(server, "awa_work_item", ROUTED_ITEM).await;
    assert_fields(
        &routed,
        item("incident", ROUTED_INCIDENT, ROUTING_QUEUE, "queued", ""),
    );
    assert_eq!(routed["display_name"], "Incident: INC0000001");
    let offer = table_record(server, "awa_work_item", OFFER_ITEM).await;
    assert_fields(
        &offer,
        item(
            "interaction",
            OFFER_INTERACTION,
            OFFER_QUEUE,
            "accepted",
            OFFER_AGENT,
        ),
    );
    assert_fields(
        &offer,
        json!({"display_name": "Interaction: IMS0000221", "consult": "false"}),
    );
    let consult = table_record(server, "awa_work_item", CONSULT_ITEM).await;
    assert_fields(
        &consult,
        item(
            "interaction",
            OFFER_INTERACTION,
            OFFER_QUEUE,
            "accepted",
            INBOX_AGENT,
        ),
    );
    assert_fields(
        &consult,
        json!({"consult": "true", "consult_state": "accepted", "transfer_type": "consult",
               "previous_work_item": OFFER_ITEM}),
    );
    for (id, incident, number) in [
        (ACCEPT_ITEM, ACCEPT_INCIDENT, "INC0000002"),
        (REJECT_ITEM, REJECT_INCIDENT, "INC0000003"),
    ] {
        let pending = table_record(server, "awa_work_item", id).await;
        assert_fields(
            &pending,
            item(
                "incident",
                incident,
                ROUTING_QUEUE,
                "pending_accept",
                INBOX_AGENT,
            ),
        );
        assert_fields(
            &pending,
            json!({"display_name": format!("Incident: {number}"), "allowed_to_decline": "true"}),
        );
    }
    // Each demo document has its demo items and no other; no rejections are recorded.
    for (document, count) in [
        (ROUTED_INCIDENT, 1),
        (ACCEPT_INCIDENT, 1),
        (REJECT_INCIDENT, 1),
        (OFFER_INTERACTION, 2),
    ] {
        let items = table_list(server, "awa_work_item", &format!("document_id={document}")).await;
        assert_eq!(items.len(), count, "{document}: {items:?}");
    }
    let rejections = table_list(server, "awa_work_item_rejection", "").await;
    assert!(rejections.is_empty(), "{rejections:?}");

    let reasons = table_list(
        server,
        "awa_reject_reason",
        &format!("sysparm_query=service_channel={CHAT}^ORDERBYorder"),
    )
    .await;
    let reasons: Vec<(&str, &str, &str, &str)> = reasons
        .iter()
        .map(|r| {
            (
                r["sys_id"].as_str().unwrap(),
                r["reason"].as_str().unwrap(),
                r["order"].as_str().unwrap(),
                r["active"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (BUSY, "Busy", "1", "true"),
            (NOT_MY_EXPERTISE, "Not my expertise", "2", "true")
        ]
    );

    // The two new agents: both roles, and Available on Chat as the AWA Agent API shows them.
    for agent in [OFFER_AGENT, INBOX_AGENT] {
        let user = table_record(server, "sys_user", agent).await;
        let roles = user["roles"].as_str().unwrap_or_default();
        for role in ["awa_agent", "awa_external_user"] {
            assert!(roles.contains(role), "{role} in {user}");
        }
        let path = format!("/api/now/awa/agents/{agent}");
        assert_eq!(
            sample(server, Method::GET, &path, None, INTEGRATION).await,
            (
                StatusCode::OK,
                json!({"result": {"presence": {"name": "Available", "sys_id": AVAILABLE,
                       "available": true,
                       "channels": [{"name": "Chat", "available": true, "sys_id": CHAT}]},
                       "sys_id": agent}})
            )
        );
    }
}

/// A Table API write as admin; the status it must answer.
async fn table_write(
    server: &DemoServer,
    method: Method,
    path: &str,
    body: Value,
    expected: StatusCode,
) -> Value {
    let (status, answer) = call(&server.binary.base, ADMIN, method, path, Some(body)).await;
    assert_eq!(status, expected, "{path}: {answer}");
    answer
}

async fn create_incident(server: &DemoServer) -> String {
    let created = table_write(
        server,
        Method::POST,
        "/api/now/table/incident",
        json!({"short_description": "after the demo"}),
        StatusCode::CREATED,
    )
    .await;
    created["result"]["number"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_awa_work_samples_records_are_there_and_a_restart_restores_them() {
    let test_db = TestDb::new();
    let db = test_db.url.clone();
    let server = DemoServer::start(&db);
    assert_awa_work_sample_state(&server).await;
    // The users' passwords are their names, as every demo user's.
    for name in ["alex.rivera", "jordan.lee"] {
        let (status, body) = call(
            &server.binary.base,
            (name, name),
            Method::GET,
            &format!("/api/now/table/awa_work_item/{ROUTED_ITEM}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
    }
    // Incidents continue after the demo's INC0000001 to INC0000003.
    assert_eq!(create_incident(&server).await, "INC0000004");

    // What the samples (and more) would do, through the Table API.
    let patch = |table: &str, id: &str| format!("/api/now/table/{table}/{id}");
    for (id, body) in [
        (
            ROUTED_ITEM,
            json!({"state": "pending_accept", "assigned_to": AWA_AGENT}),
        ),
        (ACCEPT_ITEM, json!({"state": "accepted"})),
        (
            REJECT_ITEM,
            json!({"state": "queued", "assigned_to": "", "rejected": "true"}),
        ),
        (OFFER_ITEM, json!({"active": "false"})),
        (
            CONSULT_ITEM,
            json!({"consult_state": "transferred", "transfer_type": ""}),
        ),
    ] {
        table_write(
            &server,
            Method::PATCH,
            &patch("awa_work_item", id),
            body,
            StatusCode::OK,
        )
        .await;
    }
    table_write(
        &server,
        Method::POST,
        "/api/now/table/awa_work_item_rejection",
        json!({"work_item": REJECT_ITEM, "agent": INBOX_AGENT, "reject_reason": NOT_MY_EXPERTISE}),
        StatusCode::CREATED,
    )
    .await;
    table_write(
        &server,
        Method::POST,
        "/api/now/table/awa_work_item",
        json!({"document_table": "incident", "document_id": ROUTED_INCIDENT,
               "queue": ROUTING_QUEUE, "state": "queued"}),
        StatusCode::CREATED,
    )
    .await;
    table_write(
        &server,
        Method::PATCH,
        &patch("interaction", OFFER_INTERACTION),
        json!({"assigned_to": INBOX_AGENT}),
        StatusCode::OK,
    )
    .await;
    table_write(
        &server,
        Method::PATCH,
        &patch("incident", ACCEPT_INCIDENT),
        json!({"assigned_to": INBOX_AGENT}),
        StatusCode::OK,
    )
    .await;
    table_write(
        &server,
        Method::PATCH,
        &patch("awa_reject_reason", BUSY),
        json!({"order": "5", "active": "false"}),
        StatusCode::OK,
    )
    .await;
    let conversation = offer_conversation(&server).await;
    let members = table_list(
        &server,
        "sys_cs_conversation_member",
        &format!("sysparm_query=conversation={conversation}^member={OFFER_AGENT}"),
    )
    .await;
    table_write(
        &server,
        Method::PATCH,
        &patch(
            "sys_cs_conversation_member",
            members[0]["sys_id"].as_str().unwrap(),
        ),
        json!({"active": "false"}),
        StatusCode::OK,
    )
    .await;
    table_write(
        &server,
        Method::POST,
        "/api/now/table/sys_cs_conversation_member",
        json!({"conversation": conversation, "member": AWA_AGENT,
               "member_type": "public_fulfiller", "active": "true"}),
        StatusCode::CREATED,
    )
    .await;
    // Closing an incident ends its work item (the domain's rule).
    table_write(
        &server,
        Method::PATCH,
        &patch("incident", REJECT_INCIDENT),
        json!({"active": "false"}),
        StatusCode::OK,
    )
    .await;
    let stale = table_record(&server, "awa_work_item", REJECT_ITEM).await;
    assert_eq!(stale["active"], "false", "{stale}");
    server.stop();

    let server = DemoServer::start(&db);
    assert_awa_work_sample_state(&server).await;
    // beth.anglin, offered the routed item above, carries no workload again.
    assert_eq!(
        awa_get(&server, "/capacities").await,
        (StatusCode::OK, awa_capacities_response())
    );
    // The counter goes on: no number is given twice.
    assert_eq!(create_incident(&server).await, "INC0000005");
    server.stop();
}

/// The AWA work pages' curl samples, replayed as written against `serve --demo`, answer what
/// the pages show (or, for Offer Work's 2024 offer time, the refusal the page's own rule gives);
/// after a restart they answer the same again.
#[tokio::test]
async fn the_awa_work_samples_answer_as_the_pages_show_and_again_after_a_restart() {
    let db = TestDb::new();
    for round in 0..2 {
        let server = DemoServer::start(&db.url);
        let post = |path: String, body: &'static str| {
            let server = &server;
            async move { sample(server, Method::POST, &path, Some(body), INTEGRATION).await }
        };

        // AWA Routing.
        let routed = post(
            format!("/api/now/awa/queues/{ROUTING_QUEUE}/work_item"),
            r#"{"document_sys_id": "9c573169c611228700193229fff72400", "document_table": "incident"}"#,
        )
        .await;
        assert_eq!(
            routed,
            (
                StatusCode::OK,
                json!({"result": {"sys_id": ROUTED_ITEM, "document_table": "incident",
                       "document_sys_id": ROUTED_INCIDENT, "queue_sys_id": ROUTING_QUEUE,
                       "display_name": "Incident: INC0000001"}})
            ),
            "round {round}"
        );

        // AWA Offer Work: its 2024 offer time with a 30 s timeout left no time to accept.
        let offered = post(
            format!("/api/now/awa/documents/interaction/{OFFER_INTERACTION}/offer"),
            r#"{
    "external_segment_id": "segment_59616aba87bd5210be070d48dabb35e6",
    "queue_id": "92f8942787851210be070d48dabb35fb",
    "assignment": {
        "agent_sys_id": "0d584509c323120095ccd02422d3ae5b",
        "allowed_to_decline": "true",
        "enable_auto_assign": "false",
        "timeout": 30,
        "offered_on":"2024-04-03T23:09:31.000"
    }
}"#,
        )
        .await;
        assert_eq!(
            offered,
            (
                StatusCode::BAD_REQUEST,
                json!({"result": {"success": false, "message": "Timestamp after timeout \
                       (2024-04-03T23:10:01.000) must be after the current time, otherwise \
                       agent has no time to accept the work item"}})
            ),
            "round {round}"
        );

        // AWA Manual Assignment, the second sample's body on the routed work item (the page
        // leaves the id out of its URL): the same 2024 refusal, for 10 s.
        let manual = post(
            format!("/api/now/awa/workitems/{ROUTED_ITEM}/assignments"),
            r#"{
    "agent_sys_id": "46d44a23a9fe19810012d100cca80666",
    "timeout":"10",
    "offered_on":"2024-04-03T23:09:31.000"
  }"#,
        )
        .await;
        assert_eq!(manual.0, StatusCode::BAD_REQUEST, "{manual:?}");
        assert_eq!(
            manual.1["result"]["message"],
            "Timestamp after timeout (2024-04-03T23:09:41.000) must be after the current time, \
             otherwise agent has no time to accept the work item"
        );
        // Its first sample, the agent alone: offered.
        let manual = post(
            format!("/api/now/awa/workitems/{ROUTED_ITEM}/assignments"),
            r#"{"agent_sys_id":"46d44a23a9fe19810012d100cca80666"}"#,
        )
        .await;
        assert_eq!(
            manual,
            (
                StatusCode::OK,
                json!({"result": {"success": true,
                       "message": "Manual assignment successfully requested."}})
            ),
            "round {round}"
        );

        // AWA Inbox Actions: Chat's reject reasons (by their order), accept, reject.
        let (status, reasons) = sample(
            &server,
            Method::GET,
            &format!("/api/now/awa/inbox/actions/reject_reasons/{CHAT}"),
            None,
            INTEGRATION,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{reasons}");
        assert_eq!(
            reasons,
            json!({"result": [
                {"order": 1, "value": "Busy", "display_value": "Busy", "sys_id": BUSY},
                {"order": 2, "value": "Not my expertise", "display_value": "Not my expertise",
                 "sys_id": NOT_MY_EXPERTISE}]})
        );
        let accepted = post(
            "/api/now/awa/inbox/actions/accept".into(),
            "{\n \"agent_id\":\"46c9e158a9fe198101d44d0d22cb640d\",\n \"work_item_id\":\"fd69abfc878b01101ae365b83cbb35fe\"\n}",
        )
        .await;
        assert_eq!(
            accepted,
            (
                StatusCode::OK,
                json!({"result": {"documentSysId": ACCEPT_INCIDENT, "documentTable": "incident"}})
            ),
            "round {round}"
        );
        let rejected = post(
            "/api/now/awa/inbox/actions/reject".into(),
            "{\n    \"agent_id\":\"46c9e158a9fe198101d44d0d22cb640d\",\n    \"work_item_id\":\"3ed5df4d87cf01101ae365b83cbb35af\",\n    \"reject_reason_id\":\"31e3fa29b38023002e7b6e5f26a8dc17\"\n}",
        )
        .await;
        assert_eq!(
            rejected,
            (
                StatusCode::OK,
                json!({"result": {"work_item_id": REJECT_ITEM,
                       "reject_reason_id": NOT_MY_EXPERTISE, "agent_id": INBOX_AGENT}})
            ),
            "round {round}"
        );

        // AWA Agent Consult: the consult on the Offer Work interaction is handed over.
        let ended = sample(
            &server,
            Method::PUT,
            "/api/now/awa/consult/end",
            Some(
                r#"{
    "document_sys_id": "59616aba87bd5210be070d48dabb35e6",
    "hand_over": "true"
}"#,
            ),
            INTEGRATION,
        )
        .await;
        assert_eq!(
            ended,
            (
                StatusCode::OK,
                json!({"result": {"success": true, "message": "Consult is successfully ended."}})
            ),
            "round {round}"
        );
        server.stop();
    }
}

/// New interactions start at the create sample's IMS0000075; when the counter reaches the
/// Offer Work sample's IMS0000221, held by the demo, it steps over it.
#[tokio::test]
async fn new_interactions_step_over_the_number_the_demo_holds() {
    use switchboard::domain::{self, Changes};
    use switchboard::model::registry;

    let app = crate::helpers::TestApp::spawn_with(|config| config.demo = true).await;
    let store = app.state.store.clone();
    let mut tx = store.begin().await.unwrap();
    tx.raise_counter("interaction", 220).await.unwrap();
    let interactions = &registry::INTERACTION;
    let made = domain::insert(&mut tx, interactions, None, Changes::default(), "admin").await;
    assert_eq!(made.unwrap().str("number"), Some("IMS0000222"));
    tx.commit().await.unwrap();
}

/// The Wrap Up API's samples, in the page's call order after its reads (demo:
/// `src/fixtures/demo/wrap_up.rs`). The demo's segments are open, so the update samples work;
/// the reads answer them open until the update sample closes the phone segment.
#[tokio::test]
async fn the_wrap_up_samples_answer_as_the_page_shows() {
    const AGENT: &str = "123412345678567890ab90abcdefcdef";
    const INTERACTION: &str = "213412345678567890ab90abcdefcdef";
    const PHONE_SEGMENT: &str = "98769876543254321fed1fedcba0cba0";
    const AI_SEGMENT: &str = "abcd1234abcd1234abcd1234abcd1234";
    let db = TestDb::new();
    let server = DemoServer::start(&db.url);
    let billing = json!({
        "code": "Billing Issue", "description": "A code for billing issues", "active": true,
        "external": true, "sys_id": "49c27b679f201210c89656effa0a1cd7",
        "translated_code": "Abrechnungsproblem",
        "translated_description": "Ein code für Abrechnungsprobleme"
    });
    let page_code = json!({"result": {"message": "Wrap up code found.",
                                      "result_map": {"wrap_up_code": billing}, "success": true}});
    let path = "/api/now/v1/wrapup/code/49c27b679f201210c89656effa0a1cd7";
    let (status, body) = sample(&server, Method::GET, path, None, ADMIN).await;
    assert_eq!((status, body), (StatusCode::OK, page_code.clone()));

    // The phone segment, by the interaction segment's id and by agent and interaction.
    for path in [
        "/api/now/v1/wrapup/segment/dgajbcef12345678defdbxef123435678".to_owned(),
        format!("/api/now/v1/wrapup/segment/agent/{AGENT}/interaction/{INTERACTION}"),
    ] {
        let (status, body) = sample(&server, Method::GET, &path, None, ADMIN).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(body["success"], true);
        assert_eq!(body["message"], "Wrap up segment retrieved successfully.");
        assert_eq!(body["segment_id"], PHONE_SEGMENT);
        let segment = &body["segment"];
        assert_eq!(segment["agent"], AGENT);
        assert_eq!(segment["interaction"], INTERACTION);
        assert_eq!(segment["segment_table"], "sn_openframe_phone_log");
        assert_eq!(segment["segment_id"], "dgajbcef12345678defdbxef123435678");
        assert_eq!(segment["external"], true);
        assert_eq!(segment["segmented"], true);
        assert_eq!(segment["opened_on"], "2024-09-16 17:52:01");
        let config = &segment["wrap_up_configuration"];
        assert_eq!(config["enable_codes"], true);
        let codes: Vec<&Value> = config["allowed_codes"].as_array().unwrap().iter().collect();
        assert_eq!(codes.len(), 2, "{config}");
        assert_eq!(codes[0], &billing);
        assert_eq!(codes[1]["sys_id"], "54327b679f201210c89656effa0a1cd7");
        assert_eq!(codes[1]["translated_code"], " Einkaufsproblem");
        assert_eq!(config["default_code"], billing);
    }

    // The AI segment.
    let path = format!("/api/now/v1/wrapup/segment/{AI_SEGMENT}");
    let (status, body) = sample(&server, Method::GET, &path, None, ADMIN).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let segment = &body["segment"];
    assert_eq!(segment["agent"], AGENT);
    assert_eq!(segment["ai_wrap_up_code"], "Billing Issue");
    assert_eq!(
        segment["ai_notes"],
        "Customer called about an incorrect charge."
    );
    assert_eq!(segment["ai_code_defined_at"], "1752252703000");
    assert_eq!(segment["ai_notes_defined_at"], "1752252703000");
    let config = &segment["wrap_up_configuration"];
    for flag in ["enable_ai_code", "enable_ai_notes", "use_ai_as_default"] {
        assert_eq!(config[flag], true, "{flag}");
    }
    // The AI sample by agent and interaction names ids that are not sys_ids: nothing found.
    let path = "/api/now/v1/wrapup/segment/agent/987698761234123456xy12ghijklmnoqrst/interaction/879065432198432109xy34mnopqrstuv";
    let (status, body) = sample(&server, Method::GET, path, None, ADMIN).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // POST code: "Billing Issue" again updates the demo's code, so the page's sys_id.
    let post = "{\n  \"codes\": [\n    {\n      \"code\": \"Billing Issue\",\n      \"description\": \"A code for billing issues\",\n      \"translations\": [\n        {\n          \"language\": \"de\",\n          \"code\": \"Abrechnungsproblem\",\n          \"description\": \"Ein code für Abrechnungsprobleme\"\n        }\n      ]\n    }\n  ]\n}";
    let (status, body) = sample(
        &server,
        Method::POST,
        "/api/now/v1/wrapup/code",
        Some(post),
        ADMIN,
    )
    .await;
    let page_post = json!({"result": {"message": "All wrap up codes created successfully.",
                                      "result_map": {"created_wrap_up_codes": [billing]},
                                      "success": true}});
    assert_eq!((status, body), (StatusCode::OK, page_post));

    // Create (both create samples send the same body).
    let create = r#"{
    "agent_sys_id": "123412345678567890ab90abcdefcdef",
    "interaction_sys_id": "213412345678567890ab90abcdefcdef",
    "external": true,
    "external_segment_id": "EXT-SEG-001",
    "ai_wrap_up_code": "Billing Issue",
    "ai_notes": "Customer called about an incorrect charge on their invoice.",
    "configuration": {
      "enable_codes": true,
      "enable_ai_code": true,
      "enable_ai_notes": true,
      "use_ai_as_default": true,
      "allowed_codes": [{"code": "Billing Issue"}, {"code": "Store Issue"}],
      "default_code": "Billing Issue"
    }
  }"#;
    let (status, body) = sample(
        &server,
        Method::POST,
        "/api/now/wrapup/segment/create",
        Some(create),
        ADMIN,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "Wrap-up segment created successfully.");
    let segment = &body["segment"];
    assert!(is_sys_id(&body["sys_id"]), "{body}");
    assert_eq!(segment["sys_id"], body["sys_id"]);
    assert_eq!(segment["agent"], AGENT);
    assert_eq!(segment["interaction"], INTERACTION);
    assert_eq!(segment["external"], true);
    assert_eq!(segment["state"], "open");
    let config = &segment["wrap_up_configuration"];
    for flag in [
        "enable_codes",
        "enable_ai_code",
        "enable_ai_notes",
        "use_ai_as_default",
    ] {
        assert_eq!(config[flag], true, "{flag}");
    }
    assert_eq!(config["allowed_codes"].as_array().unwrap().len(), 2);
    assert_eq!(config["default_code"], billing);
    assert_eq!(segment["ai_wrap_up_code"], "Billing Issue");

    // update/ai on the AI segment.
    let ai = r#"{
    "segment_sys_id": "abcd1234abcd1234abcd1234abcd1234",
    "agent_sys_id": "123412345678567890ab90abcdefcdef",
    "interaction_sys_id": "213412345678567890ab90abcdefcdef",
    "ai_wrap_up_code": "Plan Update",
    "ai_notes": "Customer requested an upgrade to the Premium plan."
  }"#;
    let (status, body) = sample(
        &server,
        Method::PUT,
        "/api/now/wrapup/segment/update/ai",
        Some(ai),
        ADMIN,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let defined = body["segment"]["ai_code_defined_at"].clone();
    assert_eq!(
        body,
        json!({"success": true, "message": "AI wrap-up data updated successfully.",
               "segment": {"sys_id": AI_SEGMENT, "agent": AGENT, "interaction": INTERACTION,
                           "ai_wrap_up_code": "Plan Update",
                           "ai_notes": "Customer requested an upgrade to the Premium plan.",
                           "ai_code_defined_at": defined, "ai_notes_defined_at": defined}})
    );

    // update closes the phone segment (the sample's interaction id lacks a digit: the
    // segment's sys_id, given first, decides).
    let path = "/api/now/v1/wrapup/segment/update?segment_sys_id=98769876543254321fed1fedcba0cba0&agent_sys_id=123412345678567890ab90abcdefcdef&interaction_sys_id=213412345678567890ab90abcdefcde";
    let update = "{\n  \"wrap_up_code\": \"Billing Issue\",\n  \"notes\": \"Customer's credit card expired. Had to switch to another one.\",\n  \"confirmed_on\": \"2024-09-16 18:52:01\"\n}";
    let (status, body) = sample(&server, Method::PUT, path, Some(update), ADMIN).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "Wrap-up segment updated successfully.");
    assert_eq!(body["sys_id"], PHONE_SEGMENT);
    let closed = body["segment"].clone();
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["code"], billing);
    assert_eq!(
        closed["notes"],
        "Customer's credit card expired. Had to switch to another one."
    );
    assert_eq!(closed["confirmed_on"], "2024-09-16 18:52:01");
    assert_eq!(closed["awaiting_confirmation"], false);
    assert_eq!(closed["segment_id"], "dgajbcef12345678defdbxef123435678");
    let path = "/api/now/v1/wrapup/segment/dgajbcef12345678defdbxef123435678";
    let (_, body) = sample(&server, Method::GET, path, None, ADMIN).await;
    assert_eq!(body["segment"], closed);
    server.stop();

    // A restart puts the demo back: the phone segment open, the created segment gone.
    let server = DemoServer::start(&db.url);
    let path = format!("/api/now/wrapup/segment/agent/{AGENT}/interaction/{INTERACTION}");
    let (_, body) = sample(&server, Method::GET, &path, None, ADMIN).await;
    assert_eq!(body["segment_id"], PHONE_SEGMENT, "{body}");
    assert_eq!(body["segment"]["state"], "open", "{body}");
    let (_, body) = sample(
        &server,
        Method::GET,
        "/api/now/v1/wrapup/code/49c27b679f201210c89656effa0a1cd7",
        None,
        ADMIN,
    )
    .await;
    assert_eq!(body, page_code);
    server.stop();
}
