//! Fixtures (docs/fixtures.md): a world described in a file, loaded at start (`--fixtures`),
//! by the `fixtures` subcommand and through `/_switchboard/fixtures`; all of a file or none of
//! it, refusals naming the line.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard::fixtures::Fixture;

use crate::binary::Binary;
use crate::helpers::{ADMIN, TestApp, TestDb, client, json_of};

/// A small contact center: two users with roles and passwords, a channel, a queue, a presence
/// state, an interaction with its conversation and a member (references by display value),
/// a provider identity and an OAuth application.
pub const WORLD: &str = r#"
fixture: 1
records:
  sys_user:
    - user_name: ana.agent
      user_password: ana-password
      first_name: Ana
      roles: [interaction_agent, awa_agent]
    - user_name: sam.super
      user_password: sam-password
      roles: [awa_manager]
  interaction_connector:
    - name: Fixture chat
      type: chat
      third_party: true
  awa_queue:
    - name: Fixture queue
  awa_presence_state:
    - name: Ready
      available: true
  sys_cs_provider_application:
    - name: Fixture CCaaS
      inbound_id: fixture-ccaas
  interaction:
    - number: IMS0001000
      channel: Fixture chat
      queue: Fixture queue
      type: chat
      state: work_in_progress
      assigned_to: ana.agent
      short_description: "Made by a fixture: 'quoted', and a # that is no comment"
  sys_cs_conversation:
    - sys_id: f1c0000000000000000000000000c0a1
      interaction: IMS0001000
      topic: Fixture chat
  sys_cs_conversation_member:
    - sys_id: f1c0000000000000000000000000c0a2
      conversation: f1c0000000000000000000000000c0a1
      member: ana.agent
      member_type: public_fulfiller
  oauth_entity:
    - name: Fixture app
      client_id: fixture-client
      client_secret: fixture-secret
counters:
  interaction: 2000
"#;

/// A file whose sixth line names a queue that does not exist; its first record is valid.
const BROKEN: &str = "records:\n  sys_user:\n    - user_name: early.bird\n  interaction:\n    - number: IMS0009999\n      queue: No such queue\n";

fn world() -> Fixture {
    Fixture::parse("world.yaml", WORLD).expect("the test's fixture parses")
}

async fn get_as(app: &TestApp, who: (&str, &str), path: &str) -> (StatusCode, Value) {
    json_of(app.as_user(who, Method::GET, path).send().await.unwrap()).await
}

async fn post_fixture(
    app: &TestApp,
    name: &str,
    content_type: &str,
    body: &str,
) -> (StatusCode, Value) {
    let response = app
        .admin(Method::POST, &format!("/_switchboard/fixtures?name={name}"))
        .header("Content-Type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    json_of(response).await
}

async fn users_named(app: &TestApp, name: &str) -> usize {
    let (status, body) = get_as(
        app,
        ADMIN,
        &format!("/api/now/table/sys_user?user_name={name}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["result"].as_array().unwrap().len()
}

/// The world as a client sees it: the agent signs in with the fixture's password, reads the
/// interaction its roles let it read, references resolved from display values.
async fn assert_world(app: &TestApp) {
    let ana = ("ana.agent", "ana-password");
    let (status, body) = get_as(
        app,
        ana,
        "/api/now/table/interaction?number=IMS0001000&sysparm_display_value=all",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let found = body["result"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{body}");
    let interaction = &found[0];
    assert_eq!(interaction["channel"]["display_value"], "Fixture chat");
    assert_eq!(interaction["queue"]["display_value"], "Fixture queue");
    // A user's display value is their name (first and last).
    assert_eq!(interaction["assigned_to"]["display_value"], "Ana");
    assert_eq!(
        interaction["short_description"]["value"],
        "Made by a fixture: 'quoted', and a # that is no comment"
    );
    let (status, members) = get_as(
        app,
        ADMIN,
        "/api/now/table/sys_cs_conversation_member?conversation=f1c0000000000000000000000000c0a1",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{members}");
    assert_eq!(members["result"].as_array().unwrap().len(), 1, "{members}");
    // The OAuth application takes a password grant for the fixture's user.
    let token = app
        .form_post(
            "/oauth_token.do",
            &[
                ("grant_type", "password"),
                ("client_id", "fixture-client"),
                ("client_secret", "fixture-secret"),
                ("username", "sam.super"),
                ("password", "sam-password"),
            ],
        )
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn fixtures_given_at_start_make_a_world_clients_can_use_and_loading_again_changes_nothing() {
    let app = TestApp::spawn_with(|c| c.fixtures = vec![world()]).await;
    assert_world(&app).await;
    // The counter continues after the fixture's.
    let created = app
        .insert(
            "interaction",
            json!({"type": "chat", "channel": "Fixture chat"}),
        )
        .await;
    assert_eq!(created["number"], "IMS0002001", "{created}");

    // A client changes a fixture record; loading the file again puts back what the file says
    // (fields it does not give are left alone), adding nothing.
    let ana = users_named(&app, "ana.agent").await;
    assert_eq!(ana, 1);
    let (status, found) = get_as(&app, ADMIN, "/api/now/table/interaction?number=IMS0001000").await;
    assert_eq!(status, StatusCode::OK);
    let interaction = found["result"][0]["sys_id"].as_str().unwrap().to_owned();
    let changed = app
        .admin(
            Method::PATCH,
            &format!("/api/now/table/interaction/{interaction}"),
        )
        .json(&json!({"short_description": "changed by a client"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let (status, body) = post_fixture(&app, "world.yaml", "application/yaml", WORLD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["created"], 0, "{body}");
    assert_eq!(body["result"]["updated"], 10, "{body}");
    assert_eq!(users_named(&app, "ana.agent").await, 1);
    assert_world(&app).await;
}

#[tokio::test]
async fn a_fixture_in_json_loads_through_the_control_plane_as_yaml_does() {
    let app = TestApp::spawn().await;
    let json = json!({"records": {
        "sys_user": [{"user_name": "jo.json", "user_password": "jo-password", "roles": ["interaction_agent"]}],
        "awa_queue": [{"name": "JSON queue", "active": false}],
    }});
    let (status, body) =
        post_fixture(&app, "world.json", "application/json", &json.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["created"], 2, "{body}");
    let (status, queues) = get_as(
        &app,
        ("jo.json", "jo-password"),
        "/api/now/table/awa_queue?name=JSON%20queue",
    )
    .await;
    // interaction_agent reads queues; the JSON false arrived as a boolean.
    assert_eq!(status, StatusCode::OK, "{queues}");
    assert_eq!(queues["result"][0]["active"], "false", "{queues}");
}

#[tokio::test]
async fn a_bad_fixture_is_refused_whole_with_its_line_and_loads_nothing() {
    let app = TestApp::spawn().await;
    let (status, body) = post_fixture(&app, "broken.yaml", "application/yaml", BROKEN).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["status"], "failure");
    assert_eq!(body["error"]["message"], "Fixture refused");
    let detail = body["error"]["detail"].as_str().unwrap();
    assert!(detail.starts_with("broken.yaml:5: "), "{detail}");
    assert!(detail.contains("No such queue"), "{detail}");
    // The valid record before it was not kept.
    assert_eq!(users_named(&app, "early.bird").await, 0);

    // Mistakes of shape and names are found before anything runs, each with its line.
    for (text, line, words) in [
        (
            "records:\n  sys_user:\n    - user_name: x\n      colour: red\n",
            4,
            "no field 'colour'",
        ),
        (
            "records:\n  sys_usr:\n    - user_name: x\n",
            2,
            "no table 'sys_usr'",
        ),
        ("records:\n  sys_user:\n    - {user_name: x\n", 4, ""),
        (
            "records:\n  interaction:\n    - short_description: no key\n",
            3,
            "needs",
        ),
        (
            "records:\n  sys_user:\n    - user_name: x\n      roles: [no_such_role]\n",
            3,
            "no_such_role",
        ),
    ] {
        let (status, body) = post_fixture(&app, "f.yaml", "application/yaml", text).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}: {body}");
        let detail = body["error"]["detail"].as_str().unwrap();
        assert!(
            detail.starts_with(&format!("f.yaml:{line}: ")),
            "{text}: {detail}"
        );
        assert!(detail.contains(words), "{text}: {detail}");
    }
    assert_eq!(users_named(&app, "x").await, 0);
}

#[tokio::test]
async fn only_an_admin_loads_fixtures() {
    let app = TestApp::spawn().await;
    app.user("agent.only", "agent-password", &["interaction_agent"])
        .await;
    let response = app
        .as_user(
            ("agent.only", "agent-password"),
            Method::POST,
            "/_switchboard/fixtures",
        )
        .body(WORLD)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["status"], "failure");
    assert_eq!(users_named(&app, "ana.agent").await, 0);
}

#[tokio::test]
async fn the_binary_refuses_to_start_on_a_bad_fixture_and_the_subcommand_loads_a_good_one() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, BROKEN).unwrap();
    let good = dir.path().join("world.yaml");
    std::fs::write(&good, WORLD).unwrap();

    let switchboard = env!("CARGO_BIN_EXE_switchboard");
    let run = |args: &[&str]| {
        let mut command = std::process::Command::new(switchboard);
        command.args(args).env("RUST_LOG", "warn");
        for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("SWITCHBOARD_")) {
            command.env_remove(name);
        }
        command.env("SWITCHBOARD_ADMIN_PASSWORD", ADMIN.1);
        command.output().expect("run switchboard")
    };
    let broken_path = broken.to_str().unwrap();
    let listen = ["--listen", "127.0.0.1:0", "--database", &db.url];
    let mut args = vec!["serve"];
    args.extend(listen);
    args.extend(["--fixtures", broken_path]);
    let refused = run(&args);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains(&format!("{broken_path}:5: ")), "{stderr}");

    // `check` reads the file without a database: a mistake of shape is found, with its line;
    // a reference to a record that does not exist is found only by loading.
    let shape = dir.path().join("shape.yaml");
    std::fs::write(
        &shape,
        "records:\n  sys_user:\n    - user_name: x\n      colour: red\n",
    )
    .unwrap();
    let checked = run(&["fixtures", "check", shape.to_str().unwrap()]);
    assert!(!checked.status.success());
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert!(
        stderr.contains("shape.yaml:4: sys_user has no field 'colour'"),
        "{stderr}"
    );
    let checked = run(&["fixtures", "check", broken_path]);
    assert!(checked.status.success(), "{checked:?}");

    let loaded = run(&[
        "fixtures",
        "load",
        "--database",
        &db.url,
        good.to_str().unwrap(),
    ]);
    assert!(loaded.status.success(), "{loaded:?}");
    let out = String::from_utf8_lossy(&loaded.stdout);
    assert!(out.contains("10 created"), "{out}");

    let server = Binary::serve(
        &db.url,
        &["--fixtures", good.to_str().unwrap()],
        &[("SWITCHBOARD_ADMIN_PASSWORD", ADMIN.1)],
    );
    let response = client()
        .get(server.url("/api/now/table/sys_user?user_name=ana.agent"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["result"].as_array().unwrap().len(),
        1,
        "loaded once: {body}"
    );
    server.stop();

    let demo = run(&["fixtures", "demo"]);
    assert!(demo.status.success());
    assert_eq!(
        String::from_utf8_lossy(&demo.stdout),
        switchboard::fixtures::demo::FILE
    );
}
