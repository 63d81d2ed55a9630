//! Races: several clients changing the same thing at the same moment. Each test runs rounds of
//! parallel requests (released together by a barrier) and checks that what the clients were
//! told, and what the tables hold afterwards, is what some serial order of the same requests
//! would have produced. No request may get a 500, except the Conversation Member API's
//! documented one for updating a member who already is a public fulfiller.

use std::collections::BTreeSet;
use std::sync::Arc;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::helpers::{
    INTEGRATION, TestApp, fetch_record, fetch_records, json_or_null, open_interaction, sys_id_of,
};

/// Rounds of parallel requests per test.
const ROUNDS: usize = 10;

const MAPPER: (&str, &str) = ("mapper", "mapper-password");

// Conversation Member API messages (src/records/members.rs).
const DROPPED: &str = "Request to drop agent processed successfully.";
const UPDATED: &str = "Request to update agent member type processed successfully.";
const NOT_A_MEMBER: &str = "Invalid request. User is not a member of the interaction provided";
const ALREADY_PUBLIC: &str =
    "Invalid request. User is already a public fulfiller in the interaction provided";

// Agent Mapping API messages (src/records/mappings.rs).
const INSERTED: &str = "Agent Id mapping record inserted";
const MAPPING_UPDATED: &str = "Agent Id mapping record updated";

// ---------------------------------------------------------------------------------------------
// Running requests at once, and judging the outcome
// ---------------------------------------------------------------------------------------------

/// Sends every request at the same moment (each task waits on a barrier, then sends); returns
/// the answers in the order of `requests`.
async fn all_at_once(requests: Vec<RequestBuilder>) -> Vec<(StatusCode, Value)> {
    let barrier = Arc::new(Barrier::new(requests.len()));
    let mut tasks = JoinSet::new();
    for (i, request) in requests.into_iter().enumerate() {
        let barrier = barrier.clone();
        tasks.spawn(async move {
            barrier.wait().await;
            (i, json_or_null(request.send().await.unwrap()).await)
        });
    }
    let mut answers: Vec<Option<(StatusCode, Value)>> = vec![None; tasks.len()];
    while let Some(done) = tasks.join_next().await {
        let (i, answered) = done.expect("request task");
        answers[i] = Some(answered);
    }
    answers.into_iter().map(|a| a.expect("answered")).collect()
}

/// Whether some serial order of the requests explains every answer and the final state.
/// `apply(state, i)` runs request `i` against a model of the state and returns the answer it
/// would get; the search prunes orders as soon as one answer disagrees.
fn serializable<S: Clone + PartialEq, A: PartialEq>(
    initial: &S,
    answers: &[A],
    apply: &impl Fn(&mut S, usize) -> A,
    end: &S,
) -> bool {
    fn search<S: Clone + PartialEq, A: PartialEq>(
        state: &S,
        answers: &[A],
        done: &mut [bool],
        apply: &impl Fn(&mut S, usize) -> A,
        end: &S,
    ) -> bool {
        if done.iter().all(|d| *d) {
            return state == end;
        }
        for i in 0..answers.len() {
            if done[i] {
                continue;
            }
            let mut next = state.clone();
            if apply(&mut next, i) != answers[i] {
                continue;
            }
            done[i] = true;
            let found = search(&next, answers, done, apply, end);
            done[i] = false;
            if found {
                return true;
            }
        }
        false
    }
    search(
        initial,
        answers,
        &mut vec![false; answers.len()],
        apply,
        end,
    )
}

/// No 500s, but for the documented one.
fn assert_no_server_error(round: usize, answers: &[(StatusCode, Value)]) {
    for (status, body) in answers {
        let documented = *status == StatusCode::INTERNAL_SERVER_ERROR
            && body["result"]["message"] == ALREADY_PUBLIC;
        assert!(
            !status.is_server_error() || documented,
            "round {round}: {status} {body}"
        );
    }
}

/// `sys_mod_count` of a record as the Table API shows it (a string).
fn mod_count(record: &Value) -> i64 {
    record["sys_mod_count"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no sys_mod_count in {record}"))
}

// ---------------------------------------------------------------------------------------------
// Conversation members: drop and update of one member
// ---------------------------------------------------------------------------------------------

/// A third-party interaction with a conversation, and a supervisor (awa_manager) who can be made
/// an observer member of it.
struct Conversation {
    app: TestApp,
    interaction: String,
    supervisor: String,
    member: String,
}

async fn connector(app: &TestApp, third_party: bool) -> String {
    sys_id_of(
        &app.insert(
            "interaction_connector",
            json!({"name": "CCaaS chat", "type": "chat", "third_party": third_party}),
        )
        .await,
    )
}

async fn conversation_fixture() -> Conversation {
    let app = TestApp::spawn().await;
    app.integration_user().await;
    let supervisor = app
        .user("supervisor", "supervisor-password", &["awa_manager"])
        .await;
    let chat = connector(&app, true).await;
    let interaction = open_interaction(&app, INTEGRATION, &chat).await;
    let conversation = fetch_records(
        &app,
        "sys_cs_conversation",
        &format!("interaction={interaction}"),
    )
    .await;
    let conversation = sys_id_of(&conversation[0]);
    let member = sys_id_of(
        &app.insert(
            "sys_cs_conversation_member",
            json!({"conversation": conversation, "member": supervisor, "member_type": "observer"}),
        )
        .await,
    );
    Conversation {
        app,
        interaction,
        supervisor,
        member,
    }
}

/// What the client sees of a member: (active, member type, sys_mod_count).
type MemberState = (bool, String, i64);

async fn member_state(c: &Conversation) -> MemberState {
    let record = fetch_record(&c.app, "sys_cs_conversation_member", &c.member)
        .await
        .expect("the member record");
    (
        record["active"] == "true",
        record["member_type"].as_str().unwrap().to_owned(),
        mod_count(&record),
    )
}

/// Makes the member an active observer again (through the Table API).
async fn reset_member(c: &Conversation) {
    let response = c
        .app
        .admin(
            Method::PATCH,
            &format!("/api/now/table/sys_cs_conversation_member/{}", c.member),
        )
        .json(&json!({"active": true, "member_type": "observer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "reset the member");
}

/// The Conversation Member API's answer to `action` in `state`, and the state after it: the
/// rules of src/records/members.rs, applied one request at a time.
fn member_model(state: &mut MemberState, action: &str, interaction: &str) -> (StatusCode, Value) {
    let refused = |status, message: &str| {
        (
            status,
            json!({"result": {"success": false, "message": message}}),
        )
    };
    let (active, member_type, count) = state;
    if !*active {
        return refused(StatusCode::BAD_REQUEST, NOT_A_MEMBER);
    }
    let message = match action {
        "drop" => {
            *active = false;
            DROPPED
        }
        _ if member_type == "public_fulfiller" => {
            return refused(StatusCode::INTERNAL_SERVER_ERROR, ALREADY_PUBLIC);
        }
        _ => {
            *member_type = "public_fulfiller".to_owned();
            UPDATED
        }
    };
    *count += 1;
    let body = json!({"result": {
        "conversation_member": {
            "active": *active,
            "memberType": member_type.as_str(),
            "conversation_id": interaction,
        },
        "success": true,
        "message": message,
    }});
    (StatusCode::OK, body)
}

/// Rounds of `drops` drop requests and `updates` update requests of one observer, all at once.
async fn member_rounds(drops: usize, updates: usize) {
    let c = conversation_fixture().await;
    let path = |action: &str| format!("/api/now/conversation/member/{}/{action}", c.supervisor);
    for round in 0..ROUNDS {
        reset_member(&c).await;
        let before = member_state(&c).await;
        assert_eq!((before.0, before.1.as_str()), (true, "observer"));
        let mut actions: Vec<&str> = [vec!["drop"; drops], vec!["update"; updates]].concat();
        // Alternate which kind is sent first.
        if round % 2 == 1 {
            actions.reverse();
        }
        let requests = actions
            .iter()
            .map(|action| {
                let body = match *action {
                    "drop" => json!({"interaction_id": c.interaction}),
                    _ => {
                        json!({"interaction_id": c.interaction, "member_type": "public_fulfiller"})
                    }
                };
                c.app
                    .as_user(INTEGRATION, Method::PUT, &path(action))
                    .json(&body)
            })
            .collect();
        let answers = all_at_once(requests).await;
        assert_no_server_error(round, &answers);
        let after = member_state(&c).await;
        let model =
            |state: &mut MemberState, i: usize| member_model(state, actions[i], &c.interaction);
        assert!(
            serializable(&before, &answers, &model, &after),
            "round {round}: no serial order of {actions:?} explains {answers:#?} \
             ending in {after:?}"
        );
    }
}

/// One drop and one update of the same member at once end either as (drop 200 with memberType
/// observer, update 400 "not a member") or as (update 200, drop 200 with memberType
/// public_fulfiller); the member is inactive either way, changed once or twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn member_drop_and_update_at_once_end_in_a_serial_outcome() {
    member_rounds(1, 1).await;
}

/// Three drops and three updates at once: exactly one drop succeeds; an update succeeds only
/// before it, once, and any further update before it gets the documented 500 "already a public
/// fulfiller"; every request after the drop gets 400 "not a member".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_member_drops_and_updates_at_once_end_in_a_serial_outcome() {
    member_rounds(3, 3).await;
}

// ---------------------------------------------------------------------------------------------
// Interactions: closing one from several clients at once
// ---------------------------------------------------------------------------------------------

/// Six agents close one interaction at once: every close answers 200 with the same
/// interaction, closed once (sys_mod_count 1) by one of them, and its conversation closed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_closes_of_one_interaction_close_it_once() {
    let app = TestApp::spawn().await;
    let mut closers = Vec::new();
    for i in 0..6 {
        let name = format!("closer{i}");
        let id = app
            .user(&name, "closer-password", &["interaction_agent"])
            .await;
        closers.push((name, id));
    }
    let opener = ("opener", "opener-password");
    app.user(opener.0, opener.1, &["interaction_agent"]).await;
    let chat = connector(&app, true).await;
    for round in 0..ROUNDS {
        let interaction = open_interaction(&app, opener, &chat).await;
        let requests = closers
            .iter()
            .map(|(name, _)| {
                app.as_user(
                    (name, "closer-password"),
                    Method::POST,
                    &format!("/api/now/interaction/{interaction}/close"),
                )
            })
            .collect();
        let answers = all_at_once(requests).await;
        assert_no_server_error(round, &answers);
        let stored = fetch_record(&app, "interaction", &interaction)
            .await
            .unwrap();
        // The serial outcome: the first close closes it, the others find it closed and answer
        // with it as it is, so every answer is the same.
        for (status, body) in &answers {
            assert_eq!(*status, StatusCode::OK, "round {round}: {body}");
            assert_eq!(*body, answers[0].1, "round {round}: answers differ");
            assert_eq!(body["result"]["state"], "closed_complete", "round {round}");
            assert_eq!(
                body["result"]["closed_by"], stored["closed_by"],
                "round {round}"
            );
        }
        assert_eq!(
            stored["state"], "closed_complete",
            "round {round}: {stored}"
        );
        assert_eq!(stored["active"], "false", "round {round}: {stored}");
        assert_eq!(
            mod_count(&stored),
            1,
            "round {round}: closed once: {stored}"
        );
        assert!(
            closers
                .iter()
                .any(|(_, id)| stored["closed_by"] == id.as_str()),
            "round {round}: closed by a closer: {stored}"
        );
        let conversations = fetch_records(
            &app,
            "sys_cs_conversation",
            &format!("interaction={interaction}"),
        )
        .await;
        assert_eq!(conversations.len(), 1, "round {round}");
        assert_eq!(conversations[0]["state"], "closed", "round {round}");
        assert_eq!(
            mod_count(&conversations[0]),
            1,
            "round {round}: conversation closed once: {}",
            conversations[0]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Agent mappings: upserts of one key
// ---------------------------------------------------------------------------------------------

/// Eight PUTs of one agent and inbound id (two active identities) at once, each with its own
/// external id: the serial outcome is one 201 "inserted" (the first) and seven 200 "updated",
/// every answer naming the same two mappings; each mapping's external id is one sent by a 200
/// request (a later writer's), and its sys_mod_count counts the seven updates.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_mapping_upserts_of_one_key_create_once_and_update_the_rest() {
    const N: usize = 8;
    let app = TestApp::spawn().await;
    app.user(MAPPER.0, MAPPER.1, &["interaction_agent"]).await;
    let agent = app
        .user("voice.agent", "agent-password", &["awa_agent"])
        .await;
    for round in 0..ROUNDS {
        // A fresh inbound id each round, so that the first request of the round inserts.
        let inbound = format!("Voice{round}");
        let mut identities = BTreeSet::new();
        for region in ["EU", "US"] {
            let identity = app
                .insert(
                    "sys_cs_provider_application",
                    json!({"name": format!("Voice {region} {round}"), "inbound_id": inbound,
                           "provider": "Acme", "active": true}),
                )
                .await;
            identities.insert(sys_id_of(&identity));
        }
        let external = |i: usize| format!("ext-{round}-{i}");
        let requests = (0..N)
            .map(|i| {
                app.as_user(
                    MAPPER,
                    Method::PUT,
                    &format!(
                        "/api/sn_ct_ctr_it_core/agent_mapping/agent/{agent}/inboundId/{inbound}"
                    ),
                )
                .json(&json!({"external_agent_id": external(i)}))
            })
            .collect::<Vec<_>>();
        let answers = all_at_once(requests).await;
        assert_no_server_error(round, &answers);

        let mut stored = Vec::new();
        for identity in &identities {
            let found = fetch_records(
                &app,
                "external_agent_mapping",
                &format!("user={agent}&provider_application={identity}"),
            )
            .await;
            assert_eq!(
                found.len(),
                1,
                "round {round}: one mapping per key: {found:?}"
            );
            stored.push(found[0].clone());
        }
        let stored_ids: BTreeSet<String> = stored.iter().map(sys_id_of).collect();
        for (status, body) in &answers {
            assert_eq!(body["result"]["status"], "success", "round {round}: {body}");
            let ids: BTreeSet<String> = body["result"]["mappingIds"]
                .as_array()
                .unwrap_or_else(|| panic!("round {round}: {body}"))
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect();
            assert_eq!(ids, stored_ids, "round {round}: {status} {body}");
        }
        let outcome = |state: &mut (bool, Option<String>, i64), i: usize| {
            let created = !state.0;
            if created {
                *state = (true, Some(external(i)), 0);
            } else {
                *state = (true, Some(external(i)), state.2 + 1);
            }
            match created {
                true => (StatusCode::CREATED, json!(INSERTED)),
                false => (StatusCode::OK, json!(MAPPING_UPDATED)),
            }
        };
        let told: Vec<(StatusCode, Value)> = answers
            .iter()
            .map(|(status, body)| (*status, body["result"]["message"].clone()))
            .collect();
        for mapping in &stored {
            assert_eq!(mapping["active"], "true", "round {round}: {mapping}");
            let end = (
                true,
                mapping["external_agent_id"].as_str().map(str::to_owned),
                mod_count(mapping),
            );
            assert!(
                serializable(&(false, None, 0), &told, &outcome, &end),
                "round {round}: no serial order explains {told:?} ending in {end:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Role grants
// ---------------------------------------------------------------------------------------------

/// The `roles` a user shows through the Table API.
async fn roles_of(app: &TestApp, user: &str) -> String {
    let record = fetch_record(app, "sys_user", user).await.expect("the user");
    record["roles"].as_str().unwrap_or_default().to_owned()
}

fn grant(app: &TestApp, user: &str, role: &str) -> RequestBuilder {
    app.admin(Method::POST, "/api/now/table/sys_user_has_role")
        .json(&json!({"user": user, "role": role}))
}

/// The same grant four times at once: one 201, three 400 "Operation Failed" naming the
/// duplicate key; one grant record; the user holds the role (and can use it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_grant_at_once_is_granted_once() {
    const N: usize = 4;
    let app = TestApp::spawn().await;
    for round in 0..ROUNDS {
        let name = format!("user{round}");
        let user = app.user(&name, "user-password", &[]).await;
        let answers = all_at_once(
            (0..N)
                .map(|_| grant(&app, &user, "awa_integration_user"))
                .collect(),
        )
        .await;
        assert_no_server_error(round, &answers);
        let duplicate = json!({"error": {
            "message": "Operation Failed",
            "detail": "A record with the same user, role already exists in sys_user_has_role",
        }, "status": "failure"});
        let outcome = |granted: &mut bool, _: usize| {
            let first = !*granted;
            *granted = true;
            match first {
                true => (StatusCode::CREATED, Value::Null),
                false => (StatusCode::BAD_REQUEST, duplicate.clone()),
            }
        };
        let told: Vec<(StatusCode, Value)> = answers
            .iter()
            .map(|(status, body)| match *status {
                StatusCode::CREATED => (*status, Value::Null),
                _ => (*status, body.clone()),
            })
            .collect();
        assert!(
            serializable(&false, &told, &outcome, &true),
            "round {round}: {answers:#?}"
        );
        let grants = fetch_records(&app, "sys_user_has_role", &format!("user={user}")).await;
        assert_eq!(grants.len(), 1, "round {round}: {grants:?}");
        assert_eq!(
            roles_of(&app, &user).await,
            "awa_integration_user",
            "round {round}"
        );
        // The role works for the user at once: the member API answers its own 400, not 403.
        let response = app
            .as_user(
                (&name, "user-password"),
                Method::PUT,
                &format!("/api/now/conversation/member/{user}/drop"),
            )
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "round {round}");
    }
}

/// Five different grants to one user at once: all 201, and the user's roles are all of them
/// with what they contain, none lost to a concurrent recomputation.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn different_grants_to_one_user_at_once_all_count() {
    let roles = [
        "awa_agent",
        "awa_integration_user",
        "awa_manager",
        "interaction_admin",
        "awa_admin",
    ];
    // awa_admin contains awa_manager, which (like interaction_admin) contains interaction_agent.
    let effective =
        "awa_admin,awa_agent,awa_integration_user,awa_manager,interaction_admin,interaction_agent";
    let app = TestApp::spawn().await;
    for round in 0..ROUNDS {
        let name = format!("user{round}");
        let user = app.user(&name, "user-password", &[]).await;
        let answers =
            all_at_once(roles.iter().map(|role| grant(&app, &user, role)).collect()).await;
        assert_no_server_error(round, &answers);
        for (status, body) in &answers {
            assert_eq!(*status, StatusCode::CREATED, "round {round}: {body}");
        }
        let grants = fetch_records(&app, "sys_user_has_role", &format!("user={user}")).await;
        assert_eq!(grants.len(), roles.len(), "round {round}: {grants:?}");
        assert_eq!(roles_of(&app, &user).await, effective, "round {round}");
        // What authentication sees: the user may close interactions (interaction_agent, by
        // containment) — an unknown one is a 404, not a 403.
        let response = app
            .as_user(
                (&name, "user-password"),
                Method::POST,
                "/api/now/interaction/0123456789abcdef0123456789abcdef/close",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "round {round}");
    }
}

// ---------------------------------------------------------------------------------------------
// Table API: PATCHes and deletes of one record
// ---------------------------------------------------------------------------------------------

/// A queue record as a client sees it: (name, sys_mod_count), or None once deleted.
type QueueState = Option<(String, i64)>;

fn queue_path(id: &str) -> String {
    format!("/api/now/table/awa_queue/{id}")
}

/// One change a client asks of a queue.
#[derive(Debug, Clone)]
enum Change {
    /// PATCH `name` (a change unless the name already is this).
    Rename(String),
    /// PATCH `active: true`, which it already is: never a change.
    Touch,
    Delete,
}

fn change_request(app: &TestApp, id: &str, change: &Change) -> RequestBuilder {
    match change {
        Change::Rename(name) => app
            .admin(Method::PATCH, &queue_path(id))
            .json(&json!({"name": name})),
        Change::Touch => app
            .admin(Method::PATCH, &queue_path(id))
            .json(&json!({"active": true})),
        Change::Delete => app.admin(Method::DELETE, &queue_path(id)),
    }
}

/// What a client is told, reduced to what the model decides: the status and, for a 200, the
/// record's (name, sys_mod_count); a 404 must be the platform's "No Record found".
fn told(answers: &[(StatusCode, Value)]) -> Vec<(StatusCode, QueueState)> {
    answers
        .iter()
        .map(|(status, body)| match *status {
            StatusCode::OK => (
                *status,
                Some((
                    body["result"]["name"].as_str().unwrap().to_owned(),
                    mod_count(&body["result"]),
                )),
            ),
            StatusCode::NOT_FOUND => {
                assert_eq!(body["error"]["message"], "No Record found", "{body}");
                (*status, None)
            }
            _ => (*status, None),
        })
        .collect()
}

/// The Table API's rules for one request: a change bumps sys_mod_count, a PATCH that changes
/// nothing writes nothing, anything after the delete is a 404.
fn queue_model(state: &mut QueueState, change: &Change) -> (StatusCode, QueueState) {
    let Some((name, count)) = state.as_mut() else {
        return (StatusCode::NOT_FOUND, None);
    };
    match change {
        Change::Delete => {
            *state = None;
            (StatusCode::NO_CONTENT, None)
        }
        Change::Rename(new) if new != name => {
            *name = new.clone();
            *count += 1;
            (StatusCode::OK, state.clone())
        }
        Change::Rename(_) | Change::Touch => (StatusCode::OK, state.clone()),
    }
}

async fn queue_state(app: &TestApp, id: &str) -> QueueState {
    fetch_record(app, "awa_queue", id)
        .await
        .map(|r| (r["name"].as_str().unwrap().to_owned(), mod_count(&r)))
}

/// Rounds of `changes` sent at once to a fresh queue named "q0".
async fn queue_rounds(changes: &[Change]) {
    let app = TestApp::spawn().await;
    for round in 0..ROUNDS {
        let id = sys_id_of(&app.insert("awa_queue", json!({"name": "q0"})).await);
        let before = queue_state(&app, &id).await;
        let requests = changes
            .iter()
            .map(|c| change_request(&app, &id, c))
            .collect();
        let answers = all_at_once(requests).await;
        assert_no_server_error(round, &answers);
        let after = queue_state(&app, &id).await;
        let told = told(&answers);
        let model = |state: &mut QueueState, i: usize| queue_model(state, &changes[i]);
        assert!(
            serializable(&before, &told, &model, &after),
            "round {round}: no serial order of {changes:?} explains {told:?} ending in {after:?}"
        );
    }
}

/// Six PATCHes of one record at once (four renames, one rename back to its current name, one
/// that changes nothing): all 200; sys_mod_count ends equal to the number of changing updates
/// in the serial order, and every answer shows the record as that order had it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_of_one_record_count_every_change_once() {
    queue_rounds(&[
        Change::Rename("q1".into()),
        Change::Rename("q2".into()),
        Change::Touch,
        Change::Rename("q3".into()),
        Change::Rename("q0".into()),
        Change::Rename("q4".into()),
    ])
    .await;
}

/// Two deletes and three PATCHes of one record at once: one delete 204, the other 404; the
/// PATCHes ordered before it 200 (with consecutive sys_mod_counts), those after it 404 "No
/// Record found"; the record is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_delete_and_patches_of_one_record_end_in_a_serial_outcome() {
    queue_rounds(&[
        Change::Rename("q1".into()),
        Change::Delete,
        Change::Rename("q2".into()),
        Change::Delete,
        Change::Rename("q3".into()),
    ])
    .await;
}
