//! Encoded queries (`sysparm_query`) and plain `field=value` filters over HTTP: the common
//! operators, how conditions combine, ordering, escaping, case-sensitivity, and hostile or
//! malformed input. The rest of the operators page, section by section: `query_operators.rs`.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::helpers::{TestApp, json_of, queried, query_encoded, query_refused, sys_id_of};

// ---------------------------------------------------------------------------------------------
// Local helpers
// ---------------------------------------------------------------------------------------------

/// The `name`s of the records a query selects, in the order returned.
async fn names_in_order(app: &TestApp, table: &str, query: &str) -> Vec<String> {
    queried(app, table, query)
        .await
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The `name`s of the records a query selects, sorted (for queries without an ordering).
async fn names(app: &TestApp, table: &str, query: &str) -> Vec<String> {
    let mut names = names_in_order(app, table, query).await;
    names.sort();
    names
}

/// How many records the table holds, by `X-Total-Count`.
async fn total(app: &TestApp, table: &str) -> String {
    let response = app
        .admin(
            Method::GET,
            &format!("/api/now/table/{table}?sysparm_limit=1"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.headers()["x-total-count"]
        .to_str()
        .unwrap()
        .to_owned()
}

const CONNECTORS: &str = "interaction_connector";

/// Five connectors:
///
/// | name            | type      | third_party |
/// |-----------------|-----------|-------------|
/// | Alpha Chat      | chat      | true        |
/// | Beta Chat       | chat      | false       |
/// | Gamma Phone     | phone     | true        |
/// | Delta Messaging | messaging | false       |
/// | Epsilon         | (empty)   | false       |
async fn connectors(app: &TestApp) {
    for (name, kind, third_party) in [
        ("Alpha Chat", "chat", true),
        ("Beta Chat", "chat", false),
        ("Gamma Phone", "phone", true),
        ("Delta Messaging", "messaging", false),
        ("Epsilon", "", false),
    ] {
        app.insert(
            CONNECTORS,
            json!({"name": name, "type": kind, "third_party": third_party}),
        )
        .await;
    }
}

/// Named records with the given names (in a table whose display field is `name`).
async fn named(app: &TestApp, table: &str, names: &[&str]) {
    for name in names {
        app.insert(table, json!({"name": name})).await;
    }
}

/// OAuth entities `l60`, `l900`, `l1800`, `l3600`, `l10000` with those access token lifespans.
async fn lifespans(app: &TestApp) {
    for seconds in [1800, 60, 10000, 900, 3600] {
        app.insert(
            "oauth_entity",
            json!({"name": format!("l{seconds}"), "client_id": format!("c{seconds}"), "access_token_lifespan": seconds}),
        )
        .await;
    }
}

/// Four interactions whose `short_description` labels when they were opened: `jan`, `mar`,
/// `jun` (2024) and `next_year` (2025-01-01).
async fn opened(app: &TestApp) {
    for (label, at) in [
        ("jan", "2024-01-15 08:00:00"),
        ("mar", "2024-03-01 12:30:00"),
        ("jun", "2024-06-30 23:59:59"),
        ("next_year", "2025-01-01 00:00:00"),
    ] {
        app.insert(
            "interaction",
            json!({"short_description": label, "opened_at": at}),
        )
        .await;
    }
}

/// The sorted `short_description`s of the interactions a query selects.
async fn descriptions(app: &TestApp, query: &str) -> Vec<String> {
    let mut labels: Vec<String> = queried(app, "interaction", query)
        .await
        .iter()
        .map(|r| r["short_description"].as_str().unwrap().to_owned())
        .collect();
    labels.sort();
    labels
}

// ---------------------------------------------------------------------------------------------
// Operators
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn equals_matches_exact_values() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    assert_eq!(
        names(&app, CONNECTORS, "type=chat").await,
        ["Alpha Chat", "Beta Chat"]
    );
    assert_eq!(
        names(&app, CONNECTORS, "name=Gamma Phone").await,
        ["Gamma Phone"]
    );
    assert_eq!(
        names(&app, CONNECTORS, "name=Gamma").await,
        Vec::<String>::new()
    );
    assert_eq!(
        names(&app, CONNECTORS, "third_party=true").await,
        ["Alpha Chat", "Gamma Phone"]
    );
    // `field=` with no value asks for empty values.
    assert_eq!(names(&app, CONNECTORS, "type=").await, ["Epsilon"]);
}

#[tokio::test]
async fn not_equals_also_matches_empty_values() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    // The platform's "is not" includes records where the field is empty.
    assert_eq!(
        names(&app, CONNECTORS, "type!=chat").await,
        ["Delta Messaging", "Epsilon", "Gamma Phone"]
    );
    assert_eq!(
        names(&app, CONNECTORS, "third_party!=true").await,
        ["Beta Chat", "Delta Messaging", "Epsilon"]
    );
    // `field!=` with no value asks for non-empty values.
    assert_eq!(
        names(&app, CONNECTORS, "type!=").await,
        ["Alpha Chat", "Beta Chat", "Delta Messaging", "Gamma Phone"]
    );
}

#[tokio::test]
async fn like_matches_substrings() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    assert_eq!(
        names(&app, CONNECTORS, "nameLIKEChat").await,
        ["Alpha Chat", "Beta Chat"]
    );
    assert_eq!(
        names(&app, CONNECTORS, "nameLIKEa").await,
        ["Alpha Chat", "Beta Chat", "Delta Messaging", "Gamma Phone"]
    );
    assert_eq!(
        names(&app, CONNECTORS, "typeLIKEess").await,
        ["Delta Messaging"]
    );
    assert_eq!(
        names(&app, CONNECTORS, "nameLIKEzzz").await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn not_like_excludes_substrings_and_keeps_empty_values() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    assert_eq!(
        names(&app, CONNECTORS, "nameNOT LIKEChat").await,
        ["Delta Messaging", "Epsilon", "Gamma Phone"]
    );
    assert_eq!(
        names(&app, CONNECTORS, "typeNOT LIKEa").await,
        ["Epsilon", "Gamma Phone"]
    );
}

#[tokio::test]
async fn startswith_and_endswith_anchor_the_value() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    assert_eq!(
        names(&app, CONNECTORS, "nameSTARTSWITHAlpha").await,
        ["Alpha Chat"]
    );
    assert_eq!(
        names(&app, CONNECTORS, "nameSTARTSWITHChat").await,
        Vec::<String>::new()
    );
    assert_eq!(
        names(&app, CONNECTORS, "nameENDSWITHChat").await,
        ["Alpha Chat", "Beta Chat"]
    );
    assert_eq!(
        names(&app, CONNECTORS, "nameENDSWITHAlpha").await,
        Vec::<String>::new()
    );
    assert_eq!(
        names(&app, CONNECTORS, "typeSTARTSWITHm").await,
        ["Delta Messaging"]
    );
    assert_eq!(
        names(&app, CONNECTORS, "typeENDSWITHe").await,
        ["Gamma Phone"]
    );
}

#[tokio::test]
async fn an_empty_operand_matches_every_non_empty_value_whatever_the_text_operator() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    // `LIKE ''`, `STARTSWITH ''` and `ENDSWITH ''` are all "contains the empty string", as on
    // the platform (which runs them as `LIKE '%'`) and on the PostgreSQL backend.
    let non_empty = ["Alpha Chat", "Beta Chat", "Delta Messaging", "Gamma Phone"];
    for query in ["typeLIKE", "typeSTARTSWITH", "typeENDSWITH"] {
        assert_eq!(names(&app, CONNECTORS, query).await, non_empty, "{query}");
    }
}

#[tokio::test]
async fn in_and_not_in_match_lists() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    assert_eq!(
        names(&app, CONNECTORS, "typeINchat,phone").await,
        ["Alpha Chat", "Beta Chat", "Gamma Phone"]
    );
    assert_eq!(
        names(&app, CONNECTORS, "typeINphone").await,
        ["Gamma Phone"]
    );
    assert_eq!(
        names(&app, CONNECTORS, "typeINfax,telex").await,
        Vec::<String>::new()
    );
    // Like `!=`, NOT IN keeps empty values.
    assert_eq!(
        names(&app, CONNECTORS, "typeNOT INchat,phone").await,
        ["Delta Messaging", "Epsilon"]
    );
}

#[tokio::test]
async fn isempty_and_isnotempty() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    assert_eq!(names(&app, CONNECTORS, "typeISEMPTY").await, ["Epsilon"]);
    assert_eq!(
        names(&app, CONNECTORS, "typeISNOTEMPTY").await,
        ["Alpha Chat", "Beta Chat", "Delta Messaging", "Gamma Phone"]
    );
    assert_eq!(
        names(&app, CONNECTORS, "nameISEMPTY").await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn comparisons_on_integers_are_numeric() {
    let app = TestApp::spawn().await;
    lifespans(&app).await;
    let table = "oauth_entity";
    // As text, "900" > "1000" and "10000" < "1800": these only hold numerically.
    assert_eq!(
        names(&app, table, "access_token_lifespan<1000").await,
        ["l60", "l900"]
    );
    assert_eq!(
        names(&app, table, "access_token_lifespan<=900").await,
        ["l60", "l900"]
    );
    assert_eq!(
        names(&app, table, "access_token_lifespan>1800").await,
        ["l10000", "l3600"]
    );
    assert_eq!(
        names(&app, table, "access_token_lifespan>=1800").await,
        ["l10000", "l1800", "l3600"]
    );
    assert_eq!(
        names(&app, table, "access_token_lifespan=60").await,
        ["l60"]
    );
    assert_eq!(
        names(&app, table, "access_token_lifespan<60").await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn comparisons_on_sys_mod_count() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for name in ["never", "once", "twice"] {
        let queue = app.insert("awa_queue", json!({"name": name})).await;
        ids.push(sys_id_of(&queue));
    }
    for (id, edits) in [(&ids[1], 1), (&ids[2], 2)] {
        for n in 0..edits {
            let response = app
                .admin(Method::PATCH, &format!("/api/now/table/awa_queue/{id}"))
                .json(&json!({"active": n % 2 == 1}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
    }
    let table = "awa_queue";
    assert_eq!(
        names(&app, table, "sys_mod_count>0").await,
        ["once", "twice"]
    );
    assert_eq!(names(&app, table, "sys_mod_count>=2").await, ["twice"]);
    assert_eq!(names(&app, table, "sys_mod_count<1").await, ["never"]);
    assert_eq!(
        names(&app, table, "sys_mod_count<=1").await,
        ["never", "once"]
    );
    assert_eq!(names(&app, table, "sys_mod_count=1").await, ["once"]);
    assert_eq!(
        names(&app, table, "sys_mod_countBETWEEN1@2").await,
        ["once", "twice"]
    );
}

#[tokio::test]
async fn comparisons_on_date_times() {
    let app = TestApp::spawn().await;
    opened(&app).await;
    assert_eq!(
        descriptions(&app, "opened_at<2024-03-01 12:30:00").await,
        ["jan"]
    );
    assert_eq!(
        descriptions(&app, "opened_at<=2024-03-01 12:30:00").await,
        ["jan", "mar"]
    );
    assert_eq!(
        descriptions(&app, "opened_at>2024-06-30 23:59:59").await,
        ["next_year"]
    );
    assert_eq!(
        descriptions(&app, "opened_at>=2024-06-30 23:59:59").await,
        ["jun", "next_year"]
    );
    assert_eq!(
        descriptions(&app, "opened_at=2024-01-15 08:00:00").await,
        ["jan"]
    );
    // sys_created_on is a date-time too: everything here was created after 2020.
    assert_eq!(
        descriptions(&app, "sys_created_on>2020-01-01 00:00:00").await,
        ["jan", "jun", "mar", "next_year"]
    );
    assert_eq!(
        descriptions(&app, "sys_created_on<2020-01-01 00:00:00").await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn comparisons_on_strings_are_lexicographic() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    assert_eq!(
        names(&app, CONNECTORS, "name<C").await,
        ["Alpha Chat", "Beta Chat"]
    );
    assert_eq!(
        names(&app, CONNECTORS, "name>=Delta").await,
        ["Delta Messaging", "Epsilon", "Gamma Phone"]
    );
    assert_eq!(
        names(&app, CONNECTORS, "name>Gamma Phone").await,
        Vec::<String>::new()
    );
    assert_eq!(
        names(&app, CONNECTORS, "name<=Alpha Chat").await,
        ["Alpha Chat"]
    );
}

#[tokio::test]
async fn between_is_inclusive() {
    let app = TestApp::spawn().await;
    opened(&app).await;
    lifespans(&app).await;
    assert_eq!(
        descriptions(
            &app,
            "opened_atBETWEEN2024-03-01 00:00:00@2024-06-30 23:59:59"
        )
        .await,
        ["jun", "mar"]
    );
    assert_eq!(
        descriptions(
            &app,
            "opened_atBETWEEN2024-01-15 08:00:00@2024-01-15 08:00:00"
        )
        .await,
        ["jan"]
    );
    assert_eq!(
        names(&app, "oauth_entity", "access_token_lifespanBETWEEN900@3600").await,
        ["l1800", "l3600", "l900"]
    );
    assert_eq!(
        names(&app, "oauth_entity", "access_token_lifespanBETWEEN3600@900").await,
        Vec::<String>::new()
    );
}

// ---------------------------------------------------------------------------------------------
// Combining conditions
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn caret_joins_conditions_with_and() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    assert_eq!(
        names(&app, CONNECTORS, "type=chat^third_party=true").await,
        ["Alpha Chat"]
    );
    assert_eq!(
        names(&app, CONNECTORS, "type=chat^third_party=true^nameLIKEBeta").await,
        Vec::<String>::new()
    );
    // Empty terms and the end marker change nothing.
    assert_eq!(
        names(&app, CONNECTORS, "^type=chat^^third_party=false^EQ").await,
        Vec::<String>::new(),
        "`^^` is an escaped caret, so the value is 'chat^third_party=false'"
    );
    assert_eq!(
        names(&app, CONNECTORS, "^type=chat^third_party=false^EQ").await,
        ["Beta Chat"]
    );
}

#[tokio::test]
async fn or_joins_a_condition_to_the_one_before_it() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    assert_eq!(
        names(&app, CONNECTORS, "type=phone^ORtype=messaging").await,
        ["Delta Messaging", "Gamma Phone"]
    );
    // third_party AND (chat OR messaging), not (third_party AND chat) OR messaging.
    assert_eq!(
        names(
            &app,
            CONNECTORS,
            "third_party=true^type=chat^ORtype=messaging"
        )
        .await,
        ["Alpha Chat"]
    );
    assert_eq!(
        names(
            &app,
            CONNECTORS,
            "type=chat^ORtype=phone^ORtypeISEMPTY^third_party=false"
        )
        .await,
        ["Beta Chat", "Epsilon"]
    );
}

#[tokio::test]
async fn nq_starts_a_new_query_ored_with_the_previous() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    assert_eq!(
        names(&app, CONNECTORS, "type=phone^NQthird_party=false^type=chat").await,
        ["Beta Chat", "Gamma Phone"]
    );
    assert_eq!(
        names(
            &app,
            CONNECTORS,
            "type=chat^third_party=true^NQtypeISEMPTY^NQname=Delta Messaging"
        )
        .await,
        ["Alpha Chat", "Delta Messaging", "Epsilon"]
    );
}

// ---------------------------------------------------------------------------------------------
// Ordering
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn orderby_sorts_ascending() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    assert_eq!(
        names_in_order(&app, CONNECTORS, "ORDERBYname").await,
        [
            "Alpha Chat",
            "Beta Chat",
            "Delta Messaging",
            "Epsilon",
            "Gamma Phone"
        ]
    );
    // Empty values come first; later orderings break ties.
    assert_eq!(
        names_in_order(&app, CONNECTORS, "ORDERBYtype^ORDERBYname").await,
        [
            "Epsilon",
            "Alpha Chat",
            "Beta Chat",
            "Delta Messaging",
            "Gamma Phone"
        ]
    );
    // With a condition, in any position.
    assert_eq!(
        names_in_order(&app, CONNECTORS, "ORDERBYname^type=chat^ORtype=phone").await,
        ["Alpha Chat", "Beta Chat", "Gamma Phone"]
    );
}

#[tokio::test]
async fn orderbydesc_sorts_descending() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    assert_eq!(
        names_in_order(&app, CONNECTORS, "ORDERBYDESCname").await,
        [
            "Gamma Phone",
            "Epsilon",
            "Delta Messaging",
            "Beta Chat",
            "Alpha Chat"
        ]
    );
    // Empty values come last when descending.
    assert_eq!(
        names_in_order(&app, CONNECTORS, "ORDERBYDESCtype^ORDERBYDESCname").await,
        [
            "Gamma Phone",
            "Delta Messaging",
            "Beta Chat",
            "Alpha Chat",
            "Epsilon"
        ]
    );
    assert_eq!(
        names_in_order(&app, CONNECTORS, "ORDERBYDESCthird_party^ORDERBYname").await,
        [
            "Alpha Chat",
            "Gamma Phone",
            "Beta Chat",
            "Delta Messaging",
            "Epsilon"
        ]
    );
}

#[tokio::test]
async fn ordering_by_an_integer_is_numeric() {
    let app = TestApp::spawn().await;
    lifespans(&app).await;
    assert_eq!(
        names_in_order(&app, "oauth_entity", "ORDERBYaccess_token_lifespan").await,
        ["l60", "l900", "l1800", "l3600", "l10000"]
    );
    assert_eq!(
        names_in_order(&app, "oauth_entity", "ORDERBYDESCaccess_token_lifespan").await,
        ["l10000", "l3600", "l1800", "l900", "l60"]
    );
}

#[tokio::test]
async fn ordering_applies_before_paging() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    let path = format!(
        "/api/now/table/{CONNECTORS}?sysparm_query={}&sysparm_limit=2&sysparm_offset=1",
        query_encoded("ORDERBYDESCname")
    );
    let (status, body) = json_of(app.admin(Method::GET, &path).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let got: Vec<&str> = body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["Epsilon", "Delta Messaging"]);
}

// ---------------------------------------------------------------------------------------------
// Escaping and case
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_doubled_caret_is_a_literal_caret() {
    let app = TestApp::spawn().await;
    named(&app, "awa_queue", &["A^B", "A", "B", "C^"]).await;
    assert_eq!(names(&app, "awa_queue", "name=A^^B").await, ["A^B"]);
    assert_eq!(names(&app, "awa_queue", "nameLIKE^^").await, ["A^B", "C^"]);
    assert_eq!(names(&app, "awa_queue", "nameENDSWITH^^").await, ["C^"]);
    assert_eq!(
        names(&app, "awa_queue", "name=A^^B^ORname=B").await,
        ["A^B", "B"]
    );
    assert_eq!(
        names(&app, "awa_queue", "nameINA^^B,C^^").await,
        ["A^B", "C^"]
    );
    // `^^^` is a literal caret followed by a separator.
    assert_eq!(
        names(&app, "awa_queue", "name=C^^^active=true").await,
        ["C^"]
    );
    // An unescaped caret splits the value: `B` alone is not a condition.
    let detail = query_refused(&app, "awa_queue", "name=A^B").await;
    assert!(detail.contains("'B'"), "{detail}");
}

#[tokio::test]
async fn values_field_names_and_operators_are_case_sensitive() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    for query in [
        "type=Chat",
        "type=CHAT",
        "name=alpha chat",
        "nameLIKEalpha",
        "nameLIKECHAT",
        "nameSTARTSWITHalpha",
        "nameENDSWITHchat",
        "typeINChat,PHONE",
    ] {
        assert_eq!(
            names(&app, CONNECTORS, query).await,
            Vec::<String>::new(),
            "{query}"
        );
    }
    assert_eq!(
        names(&app, CONNECTORS, "nameLIKEAlpha").await,
        ["Alpha Chat"]
    );
    // Field names and operators in another case are not field names or operators.
    for query in [
        "Name=Alpha Chat",
        "TYPE=chat",
        "namelikeAlpha",
        "nameStartsWithAlpha",
        "typeisempty",
    ] {
        query_refused(&app, CONNECTORS, query).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Plain field=value parameters
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn plain_field_parameters_filter_and_other_parameters_are_ignored() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    let names_at = |query: &'static str| {
        let app = &app;
        async move {
            let path = format!("/api/now/table/{CONNECTORS}?{query}");
            let (status, body) = json_of(app.admin(Method::GET, &path).send().await.unwrap()).await;
            assert_eq!(status, StatusCode::OK, "{query}: {body}");
            let mut names: Vec<String> = body["result"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_owned())
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(names_at("type=chat").await, ["Alpha Chat", "Beta Chat"]);
    assert_eq!(names_at("type=chat&third_party=true").await, ["Alpha Chat"]);
    assert_eq!(names_at("name=Gamma%20Phone").await, ["Gamma Phone"]);
    // ANDed with sysparm_query.
    assert_eq!(
        names_at("type=chat&sysparm_query=third_party%3Dfalse").await,
        ["Beta Chat"]
    );
    assert_eq!(
        names_at("third_party=true&sysparm_query=type%3Dchat%5ENQtype%3Dphone").await,
        ["Alpha Chat", "Gamma Phone"]
    );
    // A parameter naming no field of the table is ignored.
    let everything = [
        "Alpha Chat",
        "Beta Chat",
        "Delta Messaging",
        "Epsilon",
        "Gamma Phone",
    ];
    assert_eq!(names_at("bogus=1").await, everything);
    assert_eq!(names_at("Type=chat").await, everything);
    assert_eq!(names_at("sysparm_view=ess").await, everything);
}

// ---------------------------------------------------------------------------------------------
// Hostile and malformed input
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sql_injection_in_values_matches_nothing_and_changes_nothing() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    assert_eq!(total(&app, CONNECTORS).await, "5");
    for query in [
        "name=x' OR '1'='1",
        "name=x' OR 1=1 --",
        "name='; DROP TABLE interaction_connector; --",
        "name=\"; DELETE FROM interaction_connector; --",
        "nameLIKE' OR ''='",
        "nameSTARTSWITH%' OR 1=1 --",
        "nameINa') OR ('1'='1,b",
        "type=chat') OR 1=1; DELETE FROM sys_user; --",
        "name=Robert'); DROP TABLE sys_user;--",
        "name=1 UNION SELECT user_password FROM sys_user",
    ] {
        assert_eq!(
            names(&app, CONNECTORS, query).await,
            Vec::<String>::new(),
            "{query}"
        );
    }
    // Hostile text where a field name or an ordering belongs is refused, not run.
    for query in [
        "name'--=x",
        "name;DROP TABLE sys_user=x",
        "ORDERBYname; DROP TABLE sys_user",
        "ORDERBYname DESC",
        "1=1",
    ] {
        query_refused(&app, CONNECTORS, query).await;
    }
    assert_eq!(total(&app, CONNECTORS).await, "5");
    assert_eq!(total(&app, "sys_user").await, "1");
}

#[tokio::test]
async fn an_unknown_field_is_400_naming_it() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    for (query, field) in [
        ("nope=1", "nope"),
        ("type=chat^ORcolour=red", "colour"),
        ("type=chat^NQsize>3", "size"),
        ("ORDERBYnope", "nope"),
        ("ORDERBYDESCwhen", "when"),
        ("user_name=admin", "user_name"),
    ] {
        let detail = query_refused(&app, CONNECTORS, query).await;
        assert!(detail.contains(&format!("'{field}'")), "{query}: {detail}");
    }
}

#[tokio::test]
async fn malformed_queries_are_400() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    for query in [
        "^ORtype=chat",
        "ORtype=chat",
        "type=chat^OR",
        "typeFOOchat",
        "type~chat",
        "type",
        "=chat",
        "nameBETWEENa",
        "ORDERBY",
        "ORDERBYDESC",
    ] {
        query_refused(&app, CONNECTORS, query).await;
    }
    let detail = query_refused(&app, CONNECTORS, "^ORtype=chat").await;
    assert!(detail.contains("ORtype=chat"), "{detail}");
    let detail = query_refused(&app, CONNECTORS, "typeFOOchat").await;
    assert!(detail.contains("operator"), "{detail}");
}

#[tokio::test]
async fn text_operators_on_booleans_and_integers_are_400() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    for (table, query, field) in [
        (CONNECTORS, "activeLIKEtr", "active"),
        (CONNECTORS, "third_partyNOT LIKEtr", "third_party"),
        (CONNECTORS, "third_partySTARTSWITHt", "third_party"),
        (CONNECTORS, "activeENDSWITHe", "active"),
        (
            "oauth_entity",
            "access_token_lifespanLIKE18",
            "access_token_lifespan",
        ),
        (CONNECTORS, "sys_mod_countSTARTSWITH0", "sys_mod_count"),
    ] {
        let detail = query_refused(&app, table, query).await;
        assert!(detail.contains(&format!("'{field}'")), "{query}: {detail}");
    }
}

#[tokio::test]
async fn badly_typed_values_are_400() {
    let app = TestApp::spawn().await;
    lifespans(&app).await;
    for (table, query, field) in [
        (CONNECTORS, "active=maybe", "active"),
        (CONNECTORS, "third_partyINtrue,perhaps", "third_party"),
        (
            "oauth_entity",
            "access_token_lifespan<soon",
            "access_token_lifespan",
        ),
        (
            "oauth_entity",
            "access_token_lifespanBETWEEN1@x",
            "access_token_lifespan",
        ),
        ("oauth_entity", "sys_mod_count=1.5", "sys_mod_count"),
    ] {
        let detail = query_refused(&app, table, query).await;
        assert!(detail.contains(&format!("'{field}'")), "{query}: {detail}");
    }
}

#[tokio::test]
async fn a_query_may_hold_at_most_100_conditions() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    let conditions = |n: usize| vec!["nameISNOTEMPTY"; n].join("^");
    assert_eq!(names(&app, CONNECTORS, &conditions(100)).await.len(), 5);
    let detail = query_refused(&app, CONNECTORS, &conditions(101)).await;
    assert!(detail.contains("100 conditions"), "{detail}");
    let thousand = vec!["name=x"; 1000].join("^OR");
    let detail = query_refused(&app, CONNECTORS, &thousand).await;
    assert!(detail.contains("100 conditions"), "{detail}");
    let thousand = vec!["name=x"; 1000].join("^");
    query_refused(&app, CONNECTORS, &thousand).await;
    assert_eq!(total(&app, CONNECTORS).await, "5");
}

#[tokio::test]
async fn quotes_percent_and_underscore_match_literally() {
    let app = TestApp::spawn().await;
    named(
        &app,
        "awa_queue",
        &[
            "100% sure",
            "1000 sure",
            "a_b",
            "axb",
            "O'Brien",
            "say \"hi\"",
            "back\\slash",
            "50%",
        ],
    )
    .await;
    let table = "awa_queue";
    assert_eq!(names(&app, table, "nameLIKE%").await, ["100% sure", "50%"]);
    assert_eq!(names(&app, table, "nameLIKE0%").await, ["100% sure", "50%"]);
    assert_eq!(names(&app, table, "nameLIKE_").await, ["a_b"]);
    assert_eq!(names(&app, table, "nameLIKEa_b").await, ["a_b"]);
    assert_eq!(names(&app, table, "nameSTARTSWITHa_").await, ["a_b"]);
    assert_eq!(names(&app, table, "nameENDSWITH_b").await, ["a_b"]);
    assert_eq!(names(&app, table, "nameENDSWITH%").await, ["50%"]);
    assert_eq!(
        names(&app, table, "nameSTARTSWITH%").await,
        Vec::<String>::new()
    );
    assert_eq!(names(&app, table, "nameLIKE'").await, ["O'Brien"]);
    assert_eq!(names(&app, table, "nameLIKE\"").await, ["say \"hi\""]);
    assert_eq!(names(&app, table, "nameLIKE\\").await, ["back\\slash"]);
    assert_eq!(names(&app, table, "name=O'Brien").await, ["O'Brien"]);
    assert_eq!(names(&app, table, "name=a%b").await, Vec::<String>::new());
    assert_eq!(names(&app, table, "name=a_b").await, ["a_b"]);
    assert_eq!(
        names(&app, table, "nameNOT LIKE%").await,
        [
            "1000 sure",
            "O'Brien",
            "a_b",
            "axb",
            "back\\slash",
            "say \"hi\""
        ]
    );
}
