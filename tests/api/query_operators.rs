//! Every operator on the platform's operators page (`query-operators.md`), section by section,
//! through the Table API: the records each one selects, its aliases, the operators that need
//! a field of a given type, the date functions read as data, and the operators on the page
//! that do not query stored records here (a 400 that says why).

use reqwest::Method;
use serde_json::{Value, json};
use switchboard::model::value::format_date_time;
use time::{Duration, OffsetDateTime, Time};

use super::helpers::{TestApp, queried, query_refused, sys_id_of};

/// The sorted values of `label` in the records of `table` that `query` selects.
async fn labels(app: &TestApp, table: &str, label: &str, query: &str) -> Vec<String> {
    let mut labels: Vec<String> = queried(app, table, query)
        .await
        .iter()
        .map(|r| r[label].as_str().unwrap().to_owned())
        .collect();
    labels.sort();
    labels
}

/// Asserts that each query selects the records labelled `expected`.
async fn assert_selects(app: &TestApp, table: &str, label: &str, cases: &[(&str, &[&str])]) {
    for (query, expected) in cases {
        assert_eq!(
            labels(app, table, label, query).await,
            *expected,
            "{table}: {query}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// String fields
// ---------------------------------------------------------------------------------------------

const CONNECTORS: &str = "interaction_connector";

/// Six connectors (name, type): `Alpha Chat` chat, `Beta Chat` chat, `Gamma Phone` phone,
/// `Delta Messaging` messaging, `Epsilon` (no type), `Fax` Fax.
async fn connectors(app: &TestApp) {
    for (name, kind) in [
        ("Alpha Chat", "chat"),
        ("Beta Chat", "chat"),
        ("Gamma Phone", "phone"),
        ("Delta Messaging", "messaging"),
        ("Epsilon", ""),
        ("Fax", "Fax"),
    ] {
        app.insert(CONNECTORS, json!({"name": name, "type": kind}))
            .await;
    }
}

const ALL_CONNECTORS: &[&str] = &[
    "Alpha Chat",
    "Beta Chat",
    "Delta Messaging",
    "Epsilon",
    "Fax",
    "Gamma Phone",
];

#[tokio::test]
async fn string_operators_and_their_aliases() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    assert_selects(
        &app,
        CONNECTORS,
        "name",
        &[
            ("nameSTARTSWITHGamma", &["Gamma Phone"]),
            // ends with: `%` and `ENDSWITH`
            ("name%Phone", &["Gamma Phone"]),
            ("nameENDSWITHPhone", &["Gamma Phone"]),
            // contains: `*` and `LIKE` (aiosnow's `contains()` sends `*`)
            ("name*Chat", &["Alpha Chat", "Beta Chat"]),
            ("nameLIKEChat", &["Alpha Chat", "Beta Chat"]),
            ("name*", ALL_CONNECTORS),
            // does not contain: `!*` and `NOT LIKE`, empty values included
            ("type!*a", &["Epsilon", "Gamma Phone"]),
            ("typeNOT LIKEa", &["Epsilon", "Gamma Phone"]),
            ("name=Gamma Phone", &["Gamma Phone"]),
            (
                "type!=chat",
                &["Delta Messaging", "Epsilon", "Fax", "Gamma Phone"],
            ),
            ("typeISEMPTY", &["Epsilon"]),
            (
                "typeISNOTEMPTY",
                &[
                    "Alpha Chat",
                    "Beta Chat",
                    "Delta Messaging",
                    "Fax",
                    "Gamma Phone",
                ],
            ),
            ("typeANYTHING", ALL_CONNECTORS),
            ("typeEMPTYSTRING", &["Epsilon"]),
            // The page's "less than or is", "greater than or is" and "between" on strings.
            ("name<=Beta Chat", &["Alpha Chat", "Beta Chat"]),
            ("name>=Epsilon", &["Epsilon", "Fax", "Gamma Phone"]),
            ("nameBETWEENB@E", &["Beta Chat", "Delta Messaging"]),
            ("nameSAMEAStype", &["Fax"]),
            (
                "nameNSAMEAStype",
                &[
                    "Alpha Chat",
                    "Beta Chat",
                    "Delta Messaging",
                    "Epsilon",
                    "Gamma Phone",
                ],
            ),
            // Values stay case-sensitive whatever the spelling of the operator.
            ("name*chat", &[]),
            ("name%chat", &[]),
            ("name%Chat", &["Alpha Chat", "Beta Chat"]),
        ],
    )
    .await;
}

#[tokio::test]
async fn operators_without_an_operand_ignore_one_written_after_them() {
    let app = TestApp::spawn().await;
    connectors(&app).await;
    let non_empty = &[
        "Alpha Chat",
        "Beta Chat",
        "Delta Messaging",
        "Fax",
        "Gamma Phone",
    ][..];
    assert_selects(
        &app,
        CONNECTORS,
        "name",
        &[
            ("typeISEMPTYx", &["Epsilon"]),
            ("typeISEMPTY=chat", &["Epsilon"]),
            ("typeISNOTEMPTYtrue", non_empty),
            ("typeEMPTYSTRINGchat", &["Epsilon"]),
            ("typeANYTHINGchat", ALL_CONNECTORS),
            // The page names `EMPTY` and `NOTEMPTY` for numbers and shows `ISEMPTY` in the same
            // rows: both spellings are read, on any field.
            ("typeEMPTY", &["Epsilon"]),
            ("typeNOTEMPTY", non_empty),
            ("typeISEMPTYx^ORname=Fax", &["Epsilon", "Fax"]),
        ],
    )
    .await;
}

#[tokio::test]
async fn conditions_join_as_on_the_page() {
    let app = TestApp::spawn().await;
    for (name, description) in [("named", ""), ("", "described"), ("both", "both"), ("", "")] {
        app.insert(
            "live_group_profile",
            json!({"name": name, "description": description, "metadata": {"label": format!("{name}/{description}")}}),
        )
        .await;
    }
    let label = |r: &Value| {
        let metadata: Value = serde_json::from_str(r["metadata"].as_str().unwrap()).unwrap();
        metadata["label"].as_str().unwrap().to_owned()
    };
    for (query, expected) in [
        ("nameISNOTEMPTY^descriptionISNOTEMPTY", &["both/both"][..]),
        (
            "nameISEMPTY^ORdescriptionISEMPTY",
            &["/", "/described", "named/"],
        ),
        (
            "nameISEMPTY^NQdescriptionISNOTEMPTY",
            &["/", "/described", "both/both"],
        ),
        ("nameANYTHING^descriptionEMPTYSTRING", &["/", "named/"]),
    ] {
        let mut got: Vec<String> = queried(&app, "live_group_profile", query)
            .await
            .iter()
            .map(label)
            .collect();
        got.sort();
        assert_eq!(got, expected, "{query}");
    }
}

// ---------------------------------------------------------------------------------------------
// Reference fields
// ---------------------------------------------------------------------------------------------

/// Users `Don Goodliffe`, `Beth Ames` and `solo_jon` (no names: shown by user name), and four
/// interactions labelled by `short_description`: `don` (assigned to and opened by Don), `beth`
/// (assigned to Beth, opened by Don), `solo` (assigned to solo_jon, opened by Beth) and
/// `nobody` (no assignee, opened by Beth). Returns Don's sys_id.
async fn assignments(app: &TestApp) -> String {
    let mut users = Vec::new();
    for (user_name, first, last) in [
        ("dgoodliffe", "Don", "Goodliffe"),
        ("bames", "Beth", "Ames"),
        ("solo_jon", "", ""),
    ] {
        let user = app
            .insert(
                "sys_user",
                json!({"user_name": user_name, "first_name": first, "last_name": last}),
            )
            .await;
        users.push(sys_id_of(&user));
    }
    let (don, beth, solo) = (&users[0], &users[1], &users[2]);
    for (label, assigned, opener) in [
        ("don", don.as_str(), don),
        ("beth", beth, don),
        ("solo", solo, beth),
        ("nobody", "", beth),
    ] {
        app.insert(
            "interaction",
            json!({"short_description": label, "assigned_to": assigned, "opened_by": opener}),
        )
        .await;
    }
    don.clone()
}

#[tokio::test]
async fn text_operators_on_a_reference_read_the_referenced_records_display_value() {
    let app = TestApp::spawn().await;
    assignments(&app).await;
    assert_selects(
        &app,
        "interaction",
        "short_description",
        &[
            ("assigned_toSTARTSWITHDon", &["don"]),
            ("assigned_toENDSWITHliffe", &["don"]),
            ("assigned_to%liffe", &["don"]),
            // "Don Goodliffe" and "solo_jon" contain "on"; "Beth Ames" does not.
            ("assigned_toLIKEon", &["don", "solo"]),
            ("assigned_to*on", &["don", "solo"]),
            ("assigned_toNOT LIKEon", &["beth", "nobody"]),
            ("assigned_to!*on", &["beth", "nobody"]),
            // A user without a name is shown, and matched, by its user name.
            ("assigned_toSTARTSWITHsolo", &["solo"]),
            ("assigned_toSTARTSWITHdgood", &[]),
            ("assigned_toSTARTSWITHdon", &[]),
        ],
    )
    .await;
}

#[tokio::test]
async fn reference_operators_on_sys_ids_and_other_fields() {
    let app = TestApp::spawn().await;
    let don = assignments(&app).await;
    let everyone = &["beth", "don", "nobody", "solo"][..];
    assert_selects(
        &app,
        "interaction",
        "short_description",
        &[
            (&format!("assigned_to={don}"), &["don"]),
            (&format!("assigned_to!={don}"), &["beth", "nobody", "solo"]),
            // The sys_id is not the display value of a user with a name.
            (&format!("assigned_toSTARTSWITH{}", &don[..12]), &[]),
            ("assigned_toISEMPTY", &["nobody"]),
            ("assigned_toISNOTEMPTY", &["beth", "don", "solo"]),
            ("assigned_toANYTHING", everyone),
            ("assigned_toEMPTYSTRING", &["nobody"]),
            ("assigned_toSAMEASopened_by", &["don"]),
            ("assigned_toNSAMEASopened_by", &["beth", "nobody", "solo"]),
        ],
    )
    .await;
}

/// `DYNAMIC` and the caller's values have their own module, `query_caller`.
#[tokio::test]
async fn reference_operators_that_need_what_switchboard_lacks_say_so() {
    let app = TestApp::spawn().await;
    for (query, why) in [
        (
            "assigned_toIN_HIERARCHYfdd0fa0f93f5d2505bd0bd886cba1015%409ee1b13dc6112271007f9d0efdb69cd0",
            "hierarchies",
        ),
        (
            "assigned_toIN_HIERARCHY_DYNAMICfdd0fa0f93f5d2505bd0bd886cba1015%4090d1921e5f510100a9ad2572f2b477fe",
            "hierarchies",
        ),
    ] {
        let detail = query_refused(&app, "interaction", query).await;
        assert!(detail.contains(why), "{query}: {detail}");
    }
}

// ---------------------------------------------------------------------------------------------
// Choice and numeric fields (integers)
// ---------------------------------------------------------------------------------------------

/// OAuth entities `a` (access 100, refresh 200), `b` (300, 300) and `c` (500, 100).
async fn lifespans(app: &TestApp) {
    for (name, access, refresh) in [("a", 100, 200), ("b", 300, 300), ("c", 500, 100)] {
        app.insert(
            "oauth_entity",
            json!({"name": name, "client_id": name, "access_token_lifespan": access, "refresh_token_lifespan": refresh}),
        )
        .await;
    }
}

#[tokio::test]
async fn numeric_operators() {
    let app = TestApp::spawn().await;
    lifespans(&app).await;
    assert_selects(
        &app,
        "oauth_entity",
        "name",
        &[
            ("access_token_lifespan=300", &["b"]),
            ("access_token_lifespan!=300", &["a", "c"]),
            ("access_token_lifespanIN100,500", &["a", "c"]),
            ("access_token_lifespanNOT IN100,500", &["b"]),
            ("access_token_lifespanEMPTY", &[]),
            ("access_token_lifespanISEMPTY", &[]),
            ("access_token_lifespanNOTEMPTY", &["a", "b", "c"]),
            ("access_token_lifespanISNOTEMPTY", &["a", "b", "c"]),
            ("access_token_lifespan<300", &["a"]),
            ("access_token_lifespan>300", &["c"]),
            ("access_token_lifespan<=300", &["a", "b"]),
            ("access_token_lifespan>=300", &["b", "c"]),
            ("access_token_lifespanBETWEEN100@300", &["a", "b"]),
            ("access_token_lifespanANYTHING", &["a", "b", "c"]),
            ("access_token_lifespanSAMEASrefresh_token_lifespan", &["b"]),
            (
                "access_token_lifespanNSAMEASrefresh_token_lifespan",
                &["a", "c"],
            ),
            (
                "access_token_lifespanGT_FIELDrefresh_token_lifespan",
                &["c"],
            ),
            (
                "access_token_lifespanLT_FIELDrefresh_token_lifespan",
                &["a"],
            ),
            (
                "access_token_lifespanGT_OR_EQUALS_FIELDrefresh_token_lifespan",
                &["b", "c"],
            ),
            (
                "access_token_lifespanLT_OR_EQUALS_FIELDrefresh_token_lifespan",
                &["a", "b"],
            ),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Boolean fields
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn boolean_operators() {
    let app = TestApp::spawn().await;
    for (name, third_party, active) in [
        ("both", true, true),
        ("third party", true, false),
        ("active", false, true),
        ("neither", false, false),
    ] {
        app.insert(
            CONNECTORS,
            json!({"name": name, "third_party": third_party, "active": active}),
        )
        .await;
    }
    let all = &["active", "both", "neither", "third party"][..];
    assert_selects(
        &app,
        CONNECTORS,
        "name",
        &[
            ("active=true", &["active", "both"]),
            ("active!=true", &["neither", "third party"]),
            ("activeISEMPTY", &[]),
            ("activeISNOTEMPTY", all),
            ("activeANYTHING", all),
            ("activeSAMEASthird_party", &["both", "neither"]),
            ("activeNSAMEASthird_party", &["active", "third party"]),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Date-time fields, on fixed dates
// ---------------------------------------------------------------------------------------------

/// Interactions labelled by `short_description`, opened and closed:
///
/// | label | opened_at (2024)          | closed_at                 |
/// |-------|---------------------------|---------------------------|
/// | sun   | Sun 14 Jan 10:00:00       | Sun 14 Jan 18:00:00       |
/// | mon   | Mon 15 Jan 09:00:00       | Tue 16 Jan 08:00:00       |
/// | tue   | Tue 16 Jan 12:00:00       | Sun 21 Jan 12:00:00       |
/// | sat   | Sat 20 Jan 23:59:59       | (none)                    |
async fn week_of_interactions(app: &TestApp) {
    for (label, opened, closed) in [
        ("sun", "2024-01-14 10:00:00", "2024-01-14 18:00:00"),
        ("mon", "2024-01-15 09:00:00", "2024-01-16 08:00:00"),
        ("tue", "2024-01-16 12:00:00", "2024-01-21 12:00:00"),
        ("sat", "2024-01-20 23:59:59", ""),
    ] {
        app.insert(
            "interaction",
            json!({"short_description": label, "opened_at": opened, "closed_at": closed}),
        )
        .await;
    }
}

async fn assert_interactions(app: &TestApp, cases: &[(&str, &[&str])]) {
    assert_selects(app, "interaction", "short_description", cases).await;
}

#[tokio::test]
async fn date_part_trends_by_the_day_of_the_week_from_sunday() {
    let app = TestApp::spawn().await;
    week_of_interactions(&app).await;
    let trend = |code: &str| {
        format!("opened_atDATEPARTMonday@javascript:gs.datePart('dayofweek','monday','{code}')")
    };
    assert_interactions(
        &app,
        &[
            // on or after Monday: any day but Sunday
            (&trend("GE"), &["mon", "sat", "tue"]),
            // on or before Monday: Sunday or Monday
            (&trend("LE"), &["mon", "sun"]),
            // after Monday: neither Sunday nor Monday
            (&trend("GT"), &["sat", "tue"]),
            // before Monday: Sunday
            (&trend("LT"), &["sun"]),
            (&trend("EE"), &["mon"]),
            (
                "opened_atDATEPARTSaturday@javascript:gs.datePart('dayofweek','saturday','EE')",
                &["sat"],
            ),
            // A record without the date is on no day.
            (
                "closed_atDATEPARTSunday@javascript:gs.datePart('dayofweek','sunday','EE')",
                &["sun", "tue"],
            ),
            (
                "closed_atDATEPARTx@javascript:gs.datePart('dayofweek','saturday','LE')",
                &["mon", "sun", "tue"],
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn on_not_on_and_between_a_given_day() {
    let app = TestApp::spawn().await;
    week_of_interactions(&app).await;
    assert_interactions(
        &app,
        &[
            ("opened_atON2024-01-15", &["mon"]),
            // aiosnow's `on()` sends a date-time: its day.
            ("opened_atON2024-01-15 23:00:00", &["mon"]),
            (
                "opened_atONMonday@javascript:gs.dateGenerate('2024-01-15','start')@javascript:gs.dateGenerate('2024-01-15','end')",
                &["mon"],
            ),
            ("opened_atNOTON2024-01-15", &["sat", "sun", "tue"]),
            // Like every negation, NOTON keeps records without the date.
            ("closed_atNOTON2024-01-14", &["mon", "sat", "tue"]),
            // pysnow's `between()` on datetimes.
            (
                "opened_atBETWEENjavascript:gs.dateGenerate(\"2024-01-14 12:00:00\")@javascript:gs.dateGenerate(\"2024-01-16 12:00:00\")",
                &["mon", "tue"],
            ),
            (
                "opened_at<javascript:gs.dateGenerate('2024-01-15', '09:00:00')",
                &["sun"],
            ),
            (
                "opened_at<=javascript:gs.dateGenerate('2024-01-15', '09:00:00')",
                &["mon", "sun"],
            ),
            ("closed_atISEMPTY", &["sat"]),
            ("closed_atISNOTEMPTY", &["mon", "sun", "tue"]),
            ("closed_atANYTHING", &["mon", "sat", "sun", "tue"]),
        ],
    )
    .await;
}

#[tokio::test]
async fn same_as_more_than_and_less_than_compare_two_date_times() {
    let app = TestApp::spawn().await;
    week_of_interactions(&app).await;
    assert_interactions(
        &app,
        &[
            ("opened_atSAMEASclosed_at@day", &["sun"]),
            ("opened_atNSAMEASclosed_at@day", &["mon", "sat", "tue"]),
            // Weeks start on Monday: Tuesday the 16th and Sunday the 21st share one.
            ("opened_atSAMEASclosed_at@week", &["mon", "sun", "tue"]),
            ("opened_atNSAMEASclosed_at@week", &["sat"]),
            ("opened_atSAMEASclosed_at@month", &["mon", "sun", "tue"]),
            ("opened_atSAMEASclosed_at", &[]),
            // More than 1 day before: two or more calendar days.
            ("opened_atMORETHANclosed_at@day@before@1", &["tue"]),
            ("opened_atLESSTHANclosed_at@day@before@3", &["mon", "sun"]),
            (
                "opened_atLESSTHANclosed_at@day@before@6",
                &["mon", "sun", "tue"],
            ),
            ("opened_atLESSTHANclosed_at@day@before@5", &["mon", "sun"]),
            ("opened_atMORETHANclosed_at@hour@before@20", &["mon", "tue"]),
            ("opened_atLESSTHANclosed_at@minute@before@481", &["sun"]),
            ("closed_atMORETHANopened_at@day@after@1", &["tue"]),
            // The same day is no day before.
            ("closed_atLESSTHANopened_at@day@before@1", &["sun"]),
            ("opened_atMORETHANclosed_at@day@after@0", &[]),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Date-time fields, relative to now
// ---------------------------------------------------------------------------------------------

/// Waits past midnight UTC if it is less than a minute away, so records placed on "today" stay
/// there until the test's queries have run.
async fn away_from_midnight() {
    let now = OffsetDateTime::now_utc();
    let left = Duration::DAY - (now.time() - Time::MIDNIGHT);
    if left < Duration::MINUTE {
        tokio::time::sleep((left + Duration::SECOND).unsigned_abs()).await;
    }
}

/// Interactions opened `label` = `at`.
async fn opened_at(app: &TestApp, records: &[(&str, OffsetDateTime)]) {
    for (label, at) in records {
        app.insert(
            "interaction",
            json!({"short_description": label, "opened_at": format_date_time(*at)}),
        )
        .await;
    }
}

#[tokio::test]
async fn on_and_comparisons_with_the_pages_date_functions() {
    away_from_midnight().await;
    let app = TestApp::spawn().await;
    let midnight = OffsetDateTime::now_utc().replace_time(Time::MIDNIGHT);
    opened_at(
        &app,
        &[
            (
                "3 days ago",
                midnight - Duration::days(3) + Duration::hours(12),
            ),
            ("yesterday", midnight - Duration::hours(12)),
            ("today 00:00:00", midnight),
            ("today 12:00:00", midnight + Duration::hours(12)),
            (
                "today 23:59:59",
                midnight + Duration::DAY - Duration::SECOND,
            ),
            ("tomorrow", midnight + Duration::hours(36)),
        ],
    )
    .await;
    let today = &["today 00:00:00", "today 12:00:00", "today 23:59:59"][..];
    assert_interactions(
        &app,
        &[
            (
                "opened_atONToday@javascript:gs.daysAgoStart(0)@javascript:gs.daysAgoEnd(0)",
                today,
            ),
            ("opened_atONToday", today),
            (
                "opened_atNOTONToday@javascript:gs.daysAgoStart(0)@javascript:gs.daysAgoEnd(0)",
                &["3 days ago", "tomorrow", "yesterday"],
            ),
            ("opened_atNOTONToday", &["3 days ago", "tomorrow", "yesterday"]),
            ("opened_atONYesterday", &["yesterday"]),
            ("opened_atONTomorrow", &["tomorrow"]),
            (
                "opened_at<javascript:gs.daysAgoStart(0)",
                &["3 days ago", "yesterday"],
            ),
            (
                "opened_at<=javascript:gs.daysAgoEnd(0)",
                &["3 days ago", "today 00:00:00", "today 12:00:00", "today 23:59:59", "yesterday"],
            ),
            ("opened_at>javascript:gs.daysAgoEnd(0)", &["tomorrow"]),
            (
                "opened_at>=javascript:gs.daysAgoStart(0)",
                &["today 00:00:00", "today 12:00:00", "today 23:59:59", "tomorrow"],
            ),
            (
                "opened_atBETWEENjavascript:gs.daysAgoStart(1)@javascript:gs.daysAgoEnd(0)",
                &["today 00:00:00", "today 12:00:00", "today 23:59:59", "yesterday"],
            ),
            (
                "opened_at>=javascript:gs.beginningOfToday()^opened_at<=javascript:gs.endOfToday()",
                today,
            ),
            (
                "opened_atBETWEENjavascript:gs.beginningOfYesterday()@javascript:gs.endOfYesterday()",
                &["yesterday"],
            ),
            (
                "opened_at>=javascript:gs.beginningOfTomorrow()",
                &["tomorrow"],
            ),
            (
                "opened_at<javascript:gs.daysAgo(2)",
                &["3 days ago"],
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn relative_operators_count_from_now() {
    let app = TestApp::spawn().await;
    let now = OffsetDateTime::now_utc();
    opened_at(
        &app,
        &[
            ("3 days ago", now - Duration::days(3)),
            ("2 hours ago", now - Duration::hours(2)),
            ("30 minutes ago", now - Duration::minutes(30)),
            ("in 2 hours", now + Duration::hours(2)),
            ("in 3 days", now + Duration::days(3)),
        ],
    )
    .await;
    assert_interactions(
        &app,
        &[
            // after 1 hour ago: no more than an hour before now, or later
            (
                "opened_atRELATIVEGT@hour@ago@1",
                &["30 minutes ago", "in 2 hours", "in 3 days"],
            ),
            // before 1 hour ago
            (
                "opened_atRELATIVELT@hour@ago@1",
                &["2 hours ago", "3 days ago"],
            ),
            // `dayofweek` is the platform's name for days here.
            (
                "opened_atRELATIVEGT@dayofweek@ago@2",
                &["2 hours ago", "30 minutes ago", "in 2 hours", "in 3 days"],
            ),
            (
                "opened_atRELATIVELT@minute@ahead@60",
                &["2 hours ago", "3 days ago", "30 minutes ago"],
            ),
            ("opened_atRELATIVEGT@day@ahead@1", &["in 3 days"]),
            (
                "opened_atRELATIVEGT@week@ago@1",
                &[
                    "2 hours ago",
                    "3 days ago",
                    "30 minutes ago",
                    "in 2 hours",
                    "in 3 days",
                ],
            ),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// What a field's type does not take, scripts, and operators not for queries
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn operators_that_need_another_type_of_field_are_400_naming_it() {
    let app = TestApp::spawn().await;
    for (table, query, words) in [
        ("interaction", "short_descriptionONToday", "date-time"),
        ("interaction", "stateRELATIVEGT@hour@ago@1", "date-time"),
        (
            "interaction",
            "stateDATEPARTMonday@javascript:gs.datePart('dayofweek','monday','GE')",
            "date-time",
        ),
        (
            "interaction",
            "stateMORETHANopened_at@day@before@1",
            "date-time",
        ),
        (
            "interaction",
            "opened_atMORETHANstate@day@before@1",
            "'state'",
        ),
        ("interaction", "activeSAMEASstate", "another type"),
        ("interaction", "stateSAMEAStype@day", "date-time"),
        (CONNECTORS, "activeGT_FIELDthird_party", "integer"),
        (CONNECTORS, "active*tr", "text field"),
        (CONNECTORS, "third_party!*tr", "text field"),
        (CONNECTORS, "active%e", "text field"),
        (CONNECTORS, "activeEMPTYSTRING", "text field"),
        (
            "sys_user",
            "user_nameSAMEASuser_password",
            "'user_password'",
        ),
        ("sys_user", "emailNSAMEASnope", "'nope'"),
    ] {
        let detail = query_refused(&app, table, query).await;
        assert!(detail.contains(words), "{query}: {detail}");
    }
}

#[tokio::test]
async fn a_script_is_never_run() {
    let app = TestApp::spawn().await;
    for (query, words) in [
        // Read by name from the list, never run.
        (
            "opened_at<javascript:gs.daysAgo(1); gs.log('x')",
            "not a function switchboard reads",
        ),
        (
            "opened_at<javascript:new GlideDateTime()",
            "not a function switchboard reads",
        ),
        (
            "assigned_to=javascript:gs.getUser().getDisplayName()",
            "not a function switchboard reads",
        ),
        // Where a listed function does not apply it is refused rather than compared as text.
        (
            "opened_at<javascript:gs.getUserID()",
            "the caller's sys_id, for a text field or a reference to sys_user",
        ),
        (
            "stateINnew,javascript:gs.now()",
            "a date function, for date-time fields",
        ),
        ("short_descriptionLIKEjavascript:gs.now()", "runs no script"),
    ] {
        let detail = query_refused(&app, "interaction", query).await;
        assert!(detail.contains(words), "{query}: {detail}");
    }
}

#[tokio::test]
async fn email_notification_and_tag_operators_do_not_query_records_here() {
    let app = TestApp::spawn().await;
    for (query, words) in [
        ("stateVALCHANGES", "changes being saved"),
        ("stateCHANGESFROM4", "changes being saved"),
        ("stateCHANGESTO4", "changes being saved"),
        (
            "sys_tags.6c361e12471331007f47563dbb9a7135DOESNOTHAVE6c361e12471331007f47563dbb9a7135",
            "tags",
        ),
        (
            "sys_tags.6c361e12471331007f47563dbb9a7135EXCLUDING6c361e12471331007f47563dbb9a7135",
            "tags",
        ),
        // The tag "have" condition is `=` on a tag field, which no table here has.
        (
            "sys_tags.6c361e12471331007f47563dbb9a7135=6c361e12471331007f47563dbb9a7135",
            "does not exist",
        ),
    ] {
        let detail = query_refused(&app, "interaction", query).await;
        assert!(detail.contains(words), "{query}: {detail}");
    }
}

#[tokio::test]
async fn operators_not_on_the_page_stay_unknown() {
    let app = TestApp::spawn().await;
    for query in [
        "stateNOTLIKEnew",
        "opened_atRELATIVEGE@hour@ago@1",
        "opened_atRELATIVEEE@hour@ago@1",
        "sys_mod_countLE_OR_EQUALS_FIELDsys_mod_count",
        "stateAnything",
        "stateIsEmpty",
    ] {
        let detail = query_refused(&app, "interaction", query).await;
        assert!(detail.contains("unknown operator"), "{query}: {detail}");
    }
}

#[tokio::test]
async fn a_non_admin_reader_filters_by_the_display_values_it_is_shown() {
    let app = TestApp::spawn().await;
    assignments(&app).await;
    app.user("agent", "agent-password", &["interaction_agent"])
        .await;
    let path = format!(
        "/api/now/table/interaction?sysparm_display_value=true&sysparm_fields=short_description,assigned_to&sysparm_query={}",
        super::helpers::query_encoded("assigned_toSTARTSWITHDon")
    );
    let response = app
        .as_user(("agent", "agent-password"), Method::GET, &path)
        .send()
        .await
        .unwrap();
    let (status, body) = super::helpers::json_of(response).await;
    assert_eq!(status, 200, "{body}");
    let result = body["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "{body}");
    assert_eq!(
        result[0]["assigned_to"]["display_value"],
        json!("Don Goodliffe")
    );
}
