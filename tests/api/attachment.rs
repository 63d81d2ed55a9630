//! The Attachment API: files attached to records, uploaded as a raw body (`/file`) or a
//! multipart form (`/upload`), listed, described, downloaded byte for byte, renamed, deleted,
//! given attributes; seen by whoever may read the record's table and changed by those who may
//! write it; gone with their record.

use base64::Engine as _;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{
    ADMIN, RawResponse, TestApp, assert_content_type, assert_error, assert_unauthenticated,
    assert_unreadable_request, basic_authorization, chunked, fetch_records, header, is_sys_id,
    json_of, json_or_null, query_encoded, raw, sorted_keys, sys_id_of,
};

const ATTACHMENTS: &str = "/api/now/attachment";
const JSON_TYPE: &str = "application/json;charset=UTF-8";
const XML_TYPE: &str = "application/xml;charset=UTF-8";
const XML_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;
const UNKNOWN_ID: &str = "0000000000000000000000000000dead";

/// A contact-center agent: reads (and so attaches to) the contact-center tables.
const AGENT: (&str, &str) = ("agent", "agent-password");
/// A user with no roles: reads users and roles, attaches to nothing.
const PLAIN: (&str, &str) = ("plain", "plain-password");

/// 200,001 bytes: three full chunks of 65,536 and a fourth of 3,393.
const MULTI_CHUNK: usize = 200_001;
const CHUNK: usize = 65_536;

/// The keys of an attachment's metadata: every field of `sys_attachment`, and the API's own.
const METADATA_KEYS: [&str; 22] = [
    "average_image_color",
    "chunk_size_bytes",
    "compressed",
    "content_type",
    "created_by_name",
    "download_link",
    "file_name",
    "hash",
    "image_height",
    "image_width",
    "size_bytes",
    "size_compressed",
    "sys_created_by",
    "sys_created_on",
    "sys_id",
    "sys_mod_count",
    "sys_tags",
    "sys_updated_by",
    "sys_updated_on",
    "table_name",
    "table_sys_id",
    "updated_by_name",
];

/// `len` bytes of a pseudo-random pattern (xorshift), every byte value in it: not UTF-8.
fn pattern(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The path of `POST /attachment/file` for a record and a file name.
fn file_path(table: &str, sys_id: &str, file_name: &str) -> String {
    format!(
        "{ATTACHMENTS}/file?table_name={}&table_sys_id={}&file_name={}",
        query_encoded(table),
        query_encoded(sys_id),
        query_encoded(file_name)
    )
}

/// `POST /attachment/file` as `who`: `bytes` as the body, of type `content_type`.
fn post_file(
    app: &TestApp,
    who: (&str, &str),
    table: &str,
    sys_id: &str,
    file_name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> RequestBuilder {
    app.as_user(who, Method::POST, &file_path(table, sys_id, file_name))
        .header(CONTENT_TYPE, content_type)
        .body(bytes)
}

/// Attaches `bytes` as `who`; asserts the 201 and returns the metadata.
async fn attach_as(
    app: &TestApp,
    who: (&str, &str),
    table: &str,
    sys_id: &str,
    file_name: &str,
    bytes: &[u8],
) -> Value {
    let response = post_file(
        app,
        who,
        table,
        sys_id,
        file_name,
        "text/plain",
        bytes.to_vec(),
    )
    .send()
    .await
    .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["result"].clone()
}

/// Attaches `bytes` as admin; the new attachment's sys_id.
async fn attach(app: &TestApp, table: &str, sys_id: &str, file_name: &str, bytes: &[u8]) -> String {
    sys_id_of(&attach_as(app, ADMIN, table, sys_id, file_name, bytes).await)
}

/// One part of a multipart form: a field, or a file when it has a file name.
struct Part<'a> {
    name: &'a str,
    file_name: Option<&'a str>,
    content_type: Option<&'a str>,
    data: &'a [u8],
}

fn field<'a>(name: &'a str, value: &'a str) -> Part<'a> {
    Part {
        name,
        file_name: None,
        content_type: None,
        data: value.as_bytes(),
    }
}

fn file_part<'a>(file_name: &'a str, content_type: Option<&'a str>, data: &'a [u8]) -> Part<'a> {
    Part {
        name: "uploadFile",
        file_name: Some(file_name),
        content_type,
        data,
    }
}

const BOUNDARY: &str = "----switchboard-attachment-test-7MA4YWxkTrZu0gW";

/// `parts` as a `multipart/form-data` body (the type is `multipart/form-data; boundary=BOUNDARY`).
fn multipart_body(parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let disposition = match part.file_name {
            Some(file_name) => format!(
                "Content-Disposition: form-data; name=\"{}\"; filename=\"{file_name}\"\r\n",
                part.name
            ),
            None => format!("Content-Disposition: form-data; name=\"{}\"\r\n", part.name),
        };
        body.extend_from_slice(disposition.as_bytes());
        if let Some(content_type) = part.content_type {
            body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(part.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// `POST /attachment/upload` as `who` with `parts` as its form.
fn post_upload(app: &TestApp, who: (&str, &str), parts: &[Part]) -> RequestBuilder {
    app.as_user(who, Method::POST, &format!("{ATTACHMENTS}/upload"))
        .header(
            CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart_body(parts))
}

/// A request as `who` to `/api/now/attachment{rest}`.
fn at(app: &TestApp, who: (&str, &str), method: Method, rest: &str) -> RequestBuilder {
    app.as_user(who, method, &format!("{ATTACHMENTS}{rest}"))
}

/// An attachment's metadata as `who`: status and body.
async fn metadata_as(app: &TestApp, who: (&str, &str), id: &str) -> (StatusCode, Value) {
    json_of(
        at(app, who, Method::GET, &format!("/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// An attachment's metadata as admin (asserting it exists).
async fn metadata(app: &TestApp, id: &str) -> Value {
    let (status, body) = metadata_as(app, ADMIN, id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["result"].clone()
}

/// A download: its status, headers and bytes.
struct Download {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    bytes: Vec<u8>,
}

impl Download {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Downloads an attachment as `who` with `accept` (reqwest's `*/*` when `None`).
async fn download_with(
    app: &TestApp,
    who: (&str, &str),
    id: &str,
    accept: Option<&str>,
) -> Download {
    let mut request = at(app, who, Method::GET, &format!("/{id}/file"));
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap().to_vec();
    Download {
        status,
        headers,
        bytes,
    }
}

/// Downloads an attachment as admin, asserting the 200; its bytes.
async fn download(app: &TestApp, id: &str) -> Vec<u8> {
    let got = download_with(app, ADMIN, id, None).await;
    assert_eq!(
        got.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&got.bytes)
    );
    got.bytes
}

/// The records of `table` that the encoded `query` selects, read as admin through the Table API.
async fn rows(app: &TestApp, table: &str, query: &str) -> Vec<Value> {
    fetch_records(
        app,
        table,
        &format!("sysparm_query={}", query_encoded(query)),
    )
    .await
}

/// The content chunks of an attachment, in order.
async fn chunks_of(app: &TestApp, attachment: &str) -> Vec<Value> {
    rows(
        app,
        "sys_attachment_doc",
        &format!("sys_attachment={attachment}^ORDERBYposition"),
    )
    .await
}

/// The attributes of an attachment, as the Table API sees them.
async fn attribute_rows(app: &TestApp, attachment: &str) -> Vec<Value> {
    rows(
        app,
        "sys_attachment_attribute",
        &format!("attachment={attachment}"),
    )
    .await
}

/// A list of attachments as `who`, with this query string (after `?`); the file names.
async fn listed(app: &TestApp, who: (&str, &str), query: &str) -> Vec<String> {
    let response = at(app, who, Method::GET, &format!("?{query}"))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body["result"]
        .as_array()
        .unwrap_or_else(|| panic!("{query}: not a list: {body}"))
        .iter()
        .map(|a| a["file_name"].as_str().unwrap().to_owned())
        .collect()
}

/// Asserts the metadata of a new attachment, as the upload answered it.
fn assert_new_metadata(
    app: &TestApp,
    result: &Value,
    (table, record): (&str, &str),
    file_name: &str,
    content_type: &str,
    bytes: &[u8],
) {
    assert_eq!(sorted_keys(result), METADATA_KEYS, "{result}");
    assert!(is_sys_id(&result["sys_id"]), "{result}");
    let id = sys_id_of(result);
    let expected = json!({
        "file_name": file_name,
        "content_type": content_type,
        "table_name": table,
        "table_sys_id": record,
        "size_bytes": bytes.len().to_string(),
        "size_compressed": "",
        "compressed": "false",
        "chunk_size_bytes": CHUNK.to_string(),
        "hash": sha256_hex(bytes),
        "download_link": format!("{}/api/now/attachment/{id}/file", app.base),
        "sys_created_by": "admin",
        "sys_updated_by": "admin",
        "created_by_name": "System Administrator",
        "updated_by_name": "System Administrator",
        "sys_mod_count": "0",
        "image_width": "",
        "image_height": "",
        "average_image_color": "",
        "sys_tags": "",
    });
    for (key, value) in expected.as_object().unwrap() {
        assert_eq!(&result[key], value, "{key} in {result}");
    }
    for time in ["sys_created_on", "sys_updated_on"] {
        let text = result[time].as_str().unwrap();
        assert_eq!(text.len(), "2026-01-01 00:00:00".len(), "{time}: {text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Uploading and downloading
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_multi_chunk_binary_file_round_trips_byte_for_byte_through_file() {
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let bytes = pattern(MULTI_CHUNK);
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the pattern is not UTF-8"
    );

    let response = post_file(
        &app,
        ADMIN,
        "awa_queue",
        &queue,
        "pattern.bin",
        "application/x-switchboard-test",
        bytes.clone(),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_content_type(&response, "application/json");
    let location = header(&response, LOCATION).unwrap().to_owned();
    let (_, body) = json_of(response).await;
    let result = &body["result"];
    let id = sys_id_of(result);
    assert_eq!(location, format!("{}/api/now/attachment/{id}", app.base));
    assert_new_metadata(
        &app,
        result,
        ("awa_queue", &queue),
        "pattern.bin",
        "application/x-switchboard-test",
        &bytes,
    );
    assert_eq!(
        metadata(&app, &id).await,
        *result,
        "GET answers what the upload did"
    );

    // The content: four chunks of base64, at positions 0..4.
    let chunks = chunks_of(&app, &id).await;
    let lengths: Vec<&str> = chunks
        .iter()
        .map(|c| c["length"].as_str().unwrap())
        .collect();
    assert_eq!(lengths, ["65536", "65536", "65536", "3393"]);
    let positions: Vec<&str> = chunks
        .iter()
        .map(|c| c["position"].as_str().unwrap())
        .collect();
    assert_eq!(positions, ["0", "1", "2", "3"]);
    let mut stored = Vec::new();
    for chunk in &chunks {
        let data = chunk["data"].as_str().unwrap();
        stored.extend(
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap(),
        );
    }
    assert!(stored == bytes, "the chunks hold the file");

    // The download: the same bytes, the stored type, the size, the metadata in a header.
    let got = download_with(&app, ADMIN, &id, None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(
        got.header("content-type"),
        Some("application/x-switchboard-test")
    );
    assert_eq!(got.header("content-length"), Some("200001"));
    assert_eq!(got.bytes.len(), MULTI_CHUNK);
    assert!(got.bytes == bytes, "byte for byte");
    let described: Value =
        serde_json::from_str(got.header("x-attachment-metadata").unwrap()).unwrap();
    assert_eq!(described, *result);
    assert!(got.header("x-transaction-id").is_some());
}

#[tokio::test]
async fn a_multi_chunk_binary_file_round_trips_byte_for_byte_through_upload() {
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let bytes = pattern(MULTI_CHUNK);

    let form = [
        field("table_name", "awa_queue"),
        field("table_sys_id", &queue),
        file_part("pattern.png", Some("image/png"), &bytes),
    ];
    let response = post_upload(&app, ADMIN, &form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = header(&response, LOCATION).unwrap().to_owned();
    let (_, body) = json_of(response).await;
    let result = &body["result"];
    let id = sys_id_of(result);
    assert_eq!(location, format!("{}/api/now/attachment/{id}", app.base));
    assert_new_metadata(
        &app,
        result,
        ("awa_queue", &queue),
        "pattern.png",
        "image/png",
        &bytes,
    );
    assert_eq!(chunks_of(&app, &id).await.len(), 4);
    let got = download_with(&app, ADMIN, &id, None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.header("content-type"), Some("image/png"));
    assert_eq!(got.header("content-length"), Some("200001"));
    assert!(got.bytes == bytes, "byte for byte");

    // A file part without a type is application/octet-stream; the fields may follow the file.
    let small = pattern(10);
    let form = [
        file_part("untyped", None, &small),
        field("table_name", "awa_queue"),
        field("table_sys_id", &queue),
    ];
    let (status, body) = json_of(post_upload(&app, ADMIN, &form).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["content_type"], "application/octet-stream");
    assert_eq!(body["result"]["file_name"], "untyped");
    assert_eq!(download(&app, &sys_id_of(&body["result"])).await, small);
}

#[tokio::test]
async fn an_empty_file_and_a_file_of_exactly_one_chunk() {
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);

    let empty = attach_as(&app, ADMIN, "awa_queue", &queue, "empty.txt", b"").await;
    assert_new_metadata(
        &app,
        &empty,
        ("awa_queue", &queue),
        "empty.txt",
        "text/plain",
        b"",
    );
    assert_eq!(
        empty["hash"],
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let id = sys_id_of(&empty);
    assert!(chunks_of(&app, &id).await.is_empty());
    let got = download_with(&app, ADMIN, &id, None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.header("content-length"), Some("0"));
    assert!(got.bytes.is_empty());

    let one = pattern(CHUNK);
    let id = attach(&app, "awa_queue", &queue, "one.bin", &one).await;
    let lengths: Vec<Value> = chunks_of(&app, &id)
        .await
        .iter()
        .map(|c| c["length"].clone())
        .collect();
    assert_eq!(lengths, [json!("65536")]);
    assert!(download(&app, &id).await == one);
}

#[tokio::test]
async fn uploads_are_not_bound_by_the_request_body_limit() {
    // The JSON body limit is far below the file; the attachment limit is the default.
    let app = TestApp::spawn_with(|config| config.max_body_bytes = 4096).await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let bytes = pattern(MULTI_CHUNK);
    let id = attach(&app, "awa_queue", &queue, "big.bin", &bytes).await;
    assert!(download(&app, &id).await == bytes);
    let form = [
        field("table_name", "awa_queue"),
        field("table_sys_id", &queue),
        file_part("big.bin", None, &bytes),
    ];
    let (status, body) = json_of(post_upload(&app, ADMIN, &form).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(download(&app, &sys_id_of(&body["result"])).await == bytes);
}

#[tokio::test]
async fn a_creation_time_is_the_attachments_creation_date() {
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let path = format!(
        "{}&creation_time={}",
        file_path("awa_queue", &queue, "offline.jpg"),
        query_encoded("2020-02-29 13:14:15")
    );
    let response = app
        .admin(Method::POST, &path)
        .header(CONTENT_TYPE, "image/jpeg")
        .body(pattern(100))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["sys_created_on"], "2020-02-29 13:14:15");
    assert_ne!(body["result"]["sys_updated_on"], "2020-02-29 13:14:15");

    // In a form too.
    let bytes = pattern(5);
    let form = [
        field("table_name", "awa_queue"),
        field("table_sys_id", &queue),
        field("creation_time", "2021-03-04 05:06:07"),
        file_part("offline.txt", Some("text/plain"), &bytes),
    ];
    let (status, body) = json_of(post_upload(&app, ADMIN, &form).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["sys_created_on"], "2021-03-04 05:06:07");
}

#[tokio::test]
async fn a_file_upload_refuses_missing_parameters_unknown_records_and_bad_times() {
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let send = |path: String, content_type: Option<&'static str>| {
        let mut request = app.admin(Method::POST, &path).body(b"data".to_vec());
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        request.send()
    };
    let q = query_encoded;
    for (missing, path) in [
        (
            "file_name",
            format!("{ATTACHMENTS}/file?table_name=awa_queue&table_sys_id={queue}"),
        ),
        (
            "file_name",
            format!("{ATTACHMENTS}/file?table_name=awa_queue&table_sys_id={queue}&file_name="),
        ),
        (
            "file_name",
            format!(
                "{ATTACHMENTS}/file?table_name=awa_queue&table_sys_id={queue}&file_name=%20%20"
            ),
        ),
        (
            "table_name",
            format!("{ATTACHMENTS}/file?table_sys_id={queue}&file_name=a.txt"),
        ),
        (
            "table_sys_id",
            format!("{ATTACHMENTS}/file?table_name=awa_queue&file_name=a.txt"),
        ),
    ] {
        let response = send(path, Some("text/plain")).await.unwrap();
        let detail = assert_error(response, StatusCode::BAD_REQUEST, "Invalid request").await;
        assert_eq!(
            detail,
            format!("Mandatory parameter '{missing}' is missing"),
            "{missing}"
        );
    }

    // The Content-Type header is mandatory: it is the file's type.
    let response = send(file_path("awa_queue", &queue, "a.txt"), None)
        .await
        .unwrap();
    let detail = assert_error(response, StatusCode::BAD_REQUEST, "Invalid request").await;
    assert!(
        detail.as_str().unwrap().contains("Content-Type"),
        "{detail}"
    );

    for time in [
        "yesterday",
        "2020-02-30 00:00:00",
        "2020-01-01T00:00:00Z",
        "",
    ] {
        let path = format!(
            "{}&creation_time={}",
            file_path("awa_queue", &queue, "a.txt"),
            q(time)
        );
        let response = send(path, Some("text/plain")).await.unwrap();
        let detail = assert_error(response, StatusCode::BAD_REQUEST, "Invalid request").await;
        assert!(
            detail.as_str().unwrap().contains("creation_time"),
            "{time}: {detail}"
        );
    }

    // No such table, no such record, a table that takes no attachments: the platform's 404.
    for (table, record) in [
        ("no_such_table", queue.as_str()),
        ("awa_queue", UNKNOWN_ID),
        ("interaction", queue.as_str()),
        ("sys_attachment", UNKNOWN_ID),
    ] {
        let response = send(file_path(table, record, "a.txt"), Some("text/plain"))
            .await
            .unwrap();
        let detail = assert_error(response, StatusCode::NOT_FOUND, "No Record found").await;
        assert_eq!(
            detail, "Record doesn't exist or ACL restricts the record retrieval",
            "{table}"
        );
    }
    // Not even an existing attachment takes one.
    let id = attach(&app, "awa_queue", &queue, "a.txt", b"a").await;
    for table in [
        "sys_attachment",
        "sys_attachment_doc",
        "sys_attachment_attribute",
    ] {
        let record = match table {
            "sys_attachment" => id.clone(),
            _ => sys_id_of(&chunks_of(&app, &id).await[0]),
        };
        let response = send(file_path(table, &record, "b.txt"), Some("text/plain"))
            .await
            .unwrap();
        assert_error(response, StatusCode::NOT_FOUND, "No Record found").await;
    }

    // Nothing but the one attachment was stored.
    assert_eq!(rows(&app, "sys_attachment", "").await.len(), 1);
    assert_eq!(rows(&app, "sys_attachment_doc", "").await.len(), 1);
}

#[tokio::test]
async fn a_multipart_upload_needs_one_file_for_one_existing_record() {
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let data = b"content".as_slice();

    // Not a multipart form.
    let response = app
        .admin(Method::POST, &format!("{ATTACHMENTS}/upload"))
        .json(&json!({"table_name": "awa_queue", "table_sys_id": queue}))
        .send()
        .await
        .unwrap();
    assert_unreadable_request(response).await;
    let response = app
        .admin(Method::POST, &format!("{ATTACHMENTS}/upload"))
        .send()
        .await
        .unwrap();
    assert_unreadable_request(response).await;

    // No file; two files; a missing field.
    let cases: [(&[Part], &str); 4] = [
        (
            &[
                field("table_name", "awa_queue"),
                field("table_sys_id", &queue),
            ],
            "no file",
        ),
        (
            &[
                field("table_name", "awa_queue"),
                field("table_sys_id", &queue),
                file_part("a.txt", Some("text/plain"), data),
                file_part("b.txt", Some("text/plain"), data),
            ],
            "two files",
        ),
        (
            &[
                field("table_sys_id", &queue),
                file_part("a.txt", Some("text/plain"), data),
            ],
            "Mandatory parameter 'table_name' is missing",
        ),
        (
            &[
                field("table_name", "awa_queue"),
                file_part("a.txt", Some("text/plain"), data),
            ],
            "Mandatory parameter 'table_sys_id' is missing",
        ),
    ];
    for (form, why) in cases {
        let response = post_upload(&app, ADMIN, form).send().await.unwrap();
        let detail = assert_error(response, StatusCode::BAD_REQUEST, "Invalid request").await;
        let detail = detail.as_str().unwrap();
        match why {
            "no file" => assert!(detail.contains("no file"), "{detail}"),
            "two files" => assert!(detail.contains("more than one file"), "{detail}"),
            exact => assert_eq!(detail, exact),
        }
    }

    // No such record or table.
    for (table, record) in [("awa_queue", UNKNOWN_ID), ("no_such_table", queue.as_str())] {
        let form = [
            field("table_name", table),
            field("table_sys_id", record),
            file_part("a.txt", Some("text/plain"), data),
        ];
        let response = post_upload(&app, ADMIN, &form).send().await.unwrap();
        assert_error(response, StatusCode::NOT_FOUND, "No Record found").await;
    }
    assert!(rows(&app, "sys_attachment", "").await.is_empty());
    assert!(rows(&app, "sys_attachment_doc", "").await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// The size limit
// ---------------------------------------------------------------------------------------------

/// `chunked.bin` uploaded to the queue `queue` as admin in these chunks, with no length
/// announced (`Transfer-Encoding: chunked`).
async fn post_chunked(app: &TestApp, queue: &str, parts: &[&[u8]]) -> RawResponse {
    let auth = basic_authorization(ADMIN);
    raw(
        app,
        "POST",
        &file_path("awa_queue", queue, "chunked.bin"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/octet-stream"),
            ("Transfer-Encoding", "chunked"),
        ],
        chunked(parts),
    )
    .await
}

#[tokio::test]
async fn a_file_over_the_size_limit_is_refused_announced_or_chunked_and_nothing_is_stored() {
    const LIMIT: usize = 1000;
    let app = TestApp::spawn_with(|config| config.attachment_max_bytes = LIMIT as u64).await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let too_large = |detail: &Value| {
        assert_eq!(
            detail,
            &format!("The file is larger than the {LIMIT} bytes an attachment may hold")
        )
    };

    // Announced by Content-Length.
    let response = post_file(
        &app,
        ADMIN,
        "awa_queue",
        &queue,
        "big.bin",
        "application/octet-stream",
        pattern(LIMIT + 1),
    )
    .send()
    .await
    .unwrap();
    let detail = assert_error(
        response,
        StatusCode::BAD_REQUEST,
        "Failed to create the attachment",
    )
    .await;
    too_large(&detail);

    // Chunked, with no length announced: refused once more than the limit has arrived.
    let big = pattern(LIMIT + 500);
    let response = post_chunked(&app, &queue, &[&big[..600], &big[600..]]).await;
    assert_eq!(response.status, 400, "{}", response.text());
    let body = response.json();
    assert_eq!(body["error"]["message"], "Failed to create the attachment");
    too_large(&body["error"]["detail"]);

    // In a form.
    let form = [
        field("table_name", "awa_queue"),
        field("table_sys_id", &queue),
        file_part("big.bin", None, &big),
    ];
    let response = post_upload(&app, ADMIN, &form).send().await.unwrap();
    let detail = assert_error(
        response,
        StatusCode::BAD_REQUEST,
        "Failed to create the attachment",
    )
    .await;
    too_large(&detail);

    assert!(rows(&app, "sys_attachment", "").await.is_empty());
    assert!(rows(&app, "sys_attachment_doc", "").await.is_empty());

    // The limit itself is allowed, announced or chunked.
    let exact = pattern(LIMIT);
    let id = attach(&app, "awa_queue", &queue, "exact.bin", &exact).await;
    assert!(download(&app, &id).await == exact);
    let response = post_chunked(&app, &queue, &[&exact[..300], &exact[300..]]).await;
    assert_eq!(response.status, 201, "{}", response.text());
    let chunked_id = sys_id_of(&response.json()["result"]);
    assert!(download(&app, &chunked_id).await == exact);
    assert_eq!(rows(&app, "sys_attachment", "").await.len(), 2);
    assert_eq!(rows(&app, "sys_attachment_doc", "").await.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// URLs, versions, formats
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn location_and_download_link_name_the_base_url_the_client_used() {
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let base = "https://files.example.test:8443";
    let response = post_file(
        &app,
        ADMIN,
        "awa_queue",
        &queue,
        "a.txt",
        "text/plain",
        b"a".to_vec(),
    )
    .header(HOST, "files.example.test:8443")
    .header("x-forwarded-proto", "https")
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = header(&response, LOCATION).unwrap().to_owned();
    let (_, body) = json_of(response).await;
    let id = sys_id_of(&body["result"]);
    assert_eq!(location, format!("{base}/api/now/attachment/{id}"));
    assert_eq!(
        body["result"]["download_link"],
        format!("{base}/api/now/attachment/{id}/file")
    );

    // Each answer names the base of its own request.
    let (_, body) = metadata_as(&app, ADMIN, &id).await;
    assert_eq!(
        body["result"]["download_link"],
        format!("{}/api/now/attachment/{id}/file", app.base)
    );
    for path in [format!("{ATTACHMENTS}/{id}"), ATTACHMENTS.to_owned()] {
        let response = app
            .admin(Method::GET, &path)
            .header(HOST, "other.example.test")
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let described = match &body["result"] {
            Value::Array(list) => list[0].clone(),
            one => one.clone(),
        };
        assert_eq!(
            described["download_link"],
            format!("http://other.example.test/api/now/attachment/{id}/file"),
            "{path}"
        );
    }
    let got = app
        .admin(Method::GET, &format!("{ATTACHMENTS}/{id}/file"))
        .header(HOST, "other.example.test")
        .send()
        .await
        .unwrap();
    let described: Value =
        serde_json::from_str(header(&got, "x-attachment-metadata").unwrap()).unwrap();
    assert_eq!(
        described["download_link"],
        format!("http://other.example.test/api/now/attachment/{id}/file")
    );

    // A multipart upload's too.
    let form = [
        field("table_name", "awa_queue"),
        field("table_sys_id", &queue),
        file_part("b.txt", None, b"b"),
    ];
    let response = post_upload(&app, ADMIN, &form)
        .header(HOST, "files.example.test:8443")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = header(&response, LOCATION).unwrap().to_owned();
    let (_, body) = json_of(response).await;
    let id = sys_id_of(&body["result"]);
    assert_eq!(location, format!("{base}/api/now/attachment/{id}"));
}

#[tokio::test]
async fn a_public_url_is_the_base_of_location_and_download_link() {
    let public = "https://switchboard.example.com/servicenow";
    let app = TestApp::spawn_with(|config| {
        config.public_url = Some(format!("{public}/").parse().unwrap());
    })
    .await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let response = post_file(
        &app,
        ADMIN,
        "awa_queue",
        &queue,
        "a.txt",
        "text/plain",
        b"a".to_vec(),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = header(&response, LOCATION).unwrap().to_owned();
    let (_, body) = json_of(response).await;
    let id = sys_id_of(&body["result"]);
    assert_eq!(location, format!("{public}/api/now/attachment/{id}"));
    assert_eq!(
        metadata(&app, &id).await["download_link"],
        format!("{public}/api/now/attachment/{id}/file")
    );
}

#[tokio::test]
async fn every_endpoint_answers_under_each_version_prefix() {
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    for (n, prefix) in ["/api/now", "/api/now/v1", "/api/now/v2"]
        .into_iter()
        .enumerate()
    {
        let bytes = pattern(1000 + n);
        let name = format!("v{n}.bin");
        let path = format!(
            "{prefix}/attachment/file?table_name=awa_queue&table_sys_id={queue}&file_name={name}"
        );
        let response = app
            .admin(Method::POST, &path)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::CREATED, "{prefix}: {body}");
        let id = sys_id_of(&body["result"]);

        let form = [
            field("table_name", "awa_queue"),
            field("table_sys_id", &queue),
            file_part("form.bin", None, &bytes),
        ];
        let response = app
            .admin(Method::POST, &format!("{prefix}/attachment/upload"))
            .header(
                CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(multipart_body(&form))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{prefix}");

        let get = |rest: String| app.admin(Method::GET, &format!("{prefix}/attachment{rest}"));
        let (status, body) = json_of(get(format!("/{id}")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{prefix}");
        assert_eq!(body["result"]["file_name"], name.as_str());
        let query = format!("?sysparm_query=file_name={name}");
        let (status, body) = json_of(get(query).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{prefix}");
        assert_eq!(body["result"][0]["sys_id"], id.as_str(), "{prefix}");
        let response = get(format!("/{id}/file")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{prefix}");
        assert!(response.bytes().await.unwrap() == bytes, "{prefix}");

        let attributes = format!("{prefix}/attachment/{id}/attributes");
        let response = app
            .admin(Method::POST, &attributes)
            .json(&json!({"key": "k", "value": "v"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{prefix}");
        let response = app
            .admin(Method::PUT, &format!("{attributes}/k"))
            .json(&json!({"value": "w"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{prefix}");
        let (_, body) = json_of(get(format!("/{id}/attributes/k")).send().await.unwrap()).await;
        assert_eq!(
            body["result"],
            json!({"key": "k", "value": "w"}),
            "{prefix}"
        );
        let response = app
            .admin(Method::DELETE, &format!("{attributes}/k"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{prefix}");
        let response = app.admin(Method::DELETE, &attributes).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{prefix}");
        let response = app
            .admin(Method::PATCH, &format!("{prefix}/attachment/{id}"))
            .json(&json!({"file_name": "renamed"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{prefix}");
        let response = app
            .admin(Method::DELETE, &format!("{prefix}/attachment/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{prefix}");
    }
}

#[tokio::test]
async fn metadata_attributes_and_lists_answer_in_xml_when_asked() {
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let id = attach(&app, "awa_queue", &queue, "report <1> & co.txt", b"hello").await;
    attach(&app, "awa_queue", &queue, "second.txt", b"x").await;
    let xml = |rest: String| {
        app.admin(Method::GET, &format!("{ATTACHMENTS}{rest}"))
            .header(ACCEPT, "application/xml")
    };

    let response = xml(format!("/{id}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, CONTENT_TYPE), Some(XML_TYPE));
    let text = response.text().await.unwrap();
    assert!(
        text.starts_with(&format!("{XML_HEAD}<response><result>")),
        "{text}"
    );
    assert!(text.ends_with("</result></response>"), "{text}");
    for element in [
        format!("<sys_id>{id}</sys_id>"),
        "<file_name>report &lt;1&gt; &amp; co.txt</file_name>".to_owned(),
        "<size_bytes>5</size_bytes>".to_owned(),
        "<table_name>awa_queue</table_name>".to_owned(),
        format!("<table_sys_id>{queue}</table_sys_id>"),
        format!("<hash>{}</hash>", sha256_hex(b"hello")),
        format!(
            "<download_link>{}/api/now/attachment/{id}/file</download_link>",
            app.base
        ),
    ] {
        assert!(text.contains(&element), "{element} in {text}");
    }

    let text = xml(String::new())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text.matches("<result>").count(), 2, "{text}");

    let response = app
        .admin(Method::POST, &format!("{ATTACHMENTS}/{id}/attributes"))
        .header(ACCEPT, "application/xml")
        .header(CONTENT_TYPE, "application/xml")
        .body("<request><key>alt</key><value>A greeting</value></request>")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let text = response.text().await.unwrap();
    assert_eq!(
        text,
        format!(
            "{XML_HEAD}<response><result><key>alt</key><value>A greeting</value></result></response>"
        )
    );

    // The upload answers in XML too.
    let response = post_file(
        &app,
        ADMIN,
        "awa_queue",
        &queue,
        "third.txt",
        "text/plain",
        b"3".to_vec(),
    )
    .header(ACCEPT, "application/xml")
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(header(&response, CONTENT_TYPE), Some(XML_TYPE));
    let text = response.text().await.unwrap();
    assert!(text.contains("<file_name>third.txt</file_name>"), "{text}");

    // An error in XML.
    let response = xml(format!("/{UNKNOWN_ID}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let text = response.text().await.unwrap();
    assert!(
        text.starts_with(&format!(
            "{XML_HEAD}<response><error><message>No Record found</message>"
        )),
        "{text}"
    );
}

#[tokio::test]
async fn the_metadata_header_holds_any_file_name_as_ascii_json() {
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let name = "résumé \"final\" 😀\n.pdf";
    let id = attach(&app, "awa_queue", &queue, name, b"%PDF").await;
    assert_eq!(metadata(&app, &id).await["file_name"], name);
    let got = download_with(&app, ADMIN, &id, None).await;
    assert_eq!(got.status, StatusCode::OK);
    let text = got.header("x-attachment-metadata").unwrap();
    assert!(
        text.bytes().all(|b| b.is_ascii() && !b.is_ascii_control()),
        "{text}"
    );
    assert!(text.contains(r"r\u00e9sum\u00e9"), "{text}");
    let described: Value = serde_json::from_str(text).unwrap();
    assert_eq!(described["file_name"], name);
    assert_eq!(got.bytes, b"%PDF");
}

// ---------------------------------------------------------------------------------------------
// Accept on a download
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_download_is_served_whatever_the_accept_and_its_errors_are_envelopes() {
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let png = pattern(3000);
    let form = [
        field("table_name", "awa_queue"),
        field("table_sys_id", &queue),
        file_part("picture.png", Some("image/png"), &png),
    ];
    let (status, body) = json_of(post_upload(&app, ADMIN, &form).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = sys_id_of(&body["result"]);

    for accept in [
        Some("image/png"),
        Some("image/*"),
        Some("*/*"),
        Some("application/json"),
        Some("application/xml"),
        Some("image/jpeg"),
        None,
    ] {
        let got = download_with(&app, ADMIN, &id, accept).await;
        assert_eq!(got.status, StatusCode::OK, "{accept:?}");
        assert_eq!(got.header("content-type"), Some("image/png"), "{accept:?}");
        assert_eq!(got.header("content-length"), Some("3000"), "{accept:?}");
        assert!(got.bytes == png, "{accept:?}");
    }
    // No Accept header at all (reqwest sends */*).
    let auth = basic_authorization(ADMIN);
    let response = raw(
        &app,
        "GET",
        &format!("{ATTACHMENTS}/{id}/file"),
        &[("Authorization", &auth)],
        Vec::new(),
    )
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("image/png"));
    assert!(response.body == png);

    // A missing file: the envelope, in XML when asked, else in JSON whatever the Accept.
    let missing = format!("{ATTACHMENTS}/{UNKNOWN_ID}/file");
    let response = app.admin(Method::GET, &missing).send().await.unwrap();
    assert_eq!(header(&response, CONTENT_TYPE), Some(JSON_TYPE));
    assert_error(response, StatusCode::NOT_FOUND, "No Record found").await;
    let response = raw(
        &app,
        "GET",
        &missing,
        &[("Authorization", &auth)],
        Vec::new(),
    )
    .await;
    assert_eq!(response.status, 404);
    assert_eq!(response.json()["error"]["message"], "No Record found");
    let response = app
        .admin(Method::GET, &missing)
        .header(ACCEPT, "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(header(&response, CONTENT_TYPE), Some(XML_TYPE));
    for accept in ["image/png", "image/*, text/plain"] {
        let response = app
            .admin(Method::GET, &missing)
            .header(ACCEPT, accept)
            .send()
            .await
            .unwrap();
        assert_eq!(header(&response, CONTENT_TYPE), Some(JSON_TYPE), "{accept}");
        assert_error(response, StatusCode::NOT_FOUND, "No Record found").await;
    }
    // So is a download without credentials: the client learns it must log in.
    let response = crate::helpers::client()
        .get(app.url(&missing))
        .header(ACCEPT, "image/png")
        .send()
        .await
        .unwrap();
    assert_unauthenticated(response).await;
    // Metadata is an envelope: an image Accept is a 406 there, before anything runs.
    let response = app
        .admin(Method::GET, &format!("{ATTACHMENTS}/{id}"))
        .header(ACCEPT, "image/png")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::NOT_ACCEPTABLE, "Not Acceptable").await;
    // A write whose Accept names no envelope format is refused before it runs.
    let response = post_file(
        &app,
        ADMIN,
        "awa_queue",
        &queue,
        "never.png",
        "image/png",
        png.clone(),
    )
    .header(ACCEPT, "image/png")
    .send()
    .await
    .unwrap();
    assert_error(response, StatusCode::NOT_ACCEPTABLE, "Not Acceptable").await;
    assert_eq!(rows(&app, "sys_attachment", "").await.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Listing
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_list_takes_an_encoded_query_with_order_and_pages() {
    let app = TestApp::spawn().await;
    let first = sys_id_of(&app.insert("awa_queue", json!({"name": "First"})).await);
    let second = sys_id_of(&app.insert("awa_queue", json!({"name": "Second"})).await);
    for name in ["c.txt", "a.txt", "b.txt"] {
        attach(&app, "awa_queue", &first, name, name.as_bytes()).await;
    }
    attach(&app, "awa_queue", &second, "d.txt", b"d").await;

    let query = |q: &str| format!("sysparm_query={}", query_encoded(q));
    let mut all = listed(&app, ADMIN, "").await;
    all.sort();
    assert_eq!(all, ["a.txt", "b.txt", "c.txt", "d.txt"]);
    assert_eq!(
        listed(
            &app,
            ADMIN,
            &query(&format!("table_sys_id={first}^ORDERBYfile_name"))
        )
        .await,
        ["a.txt", "b.txt", "c.txt"]
    );
    assert_eq!(
        listed(
            &app,
            ADMIN,
            &query(&format!("table_sys_id={first}^ORDERBYDESCfile_name"))
        )
        .await,
        ["c.txt", "b.txt", "a.txt"]
    );
    assert_eq!(
        listed(&app, ADMIN, &query(&format!("table_sys_id={second}"))).await,
        ["d.txt"]
    );
    assert_eq!(
        listed(&app, ADMIN, &query("file_name=b.txt")).await,
        ["b.txt"]
    );
    assert_eq!(
        listed(
            &app,
            ADMIN,
            &query("file_nameINa.txt,d.txt^ORDERBYDESCfile_name")
        )
        .await,
        ["d.txt", "a.txt"]
    );
    assert_eq!(
        listed(
            &app,
            ADMIN,
            &query("ORDERBYDESCtable_sys_id^ORDERBYfile_name")
        )
        .await
        .len(),
        4
    );
    assert_eq!(
        listed(
            &app,
            ADMIN,
            &format!("{}&sysparm_limit=2", query("ORDERBYfile_name"))
        )
        .await,
        ["a.txt", "b.txt"]
    );
    assert_eq!(
        listed(
            &app,
            ADMIN,
            &format!(
                "{}&sysparm_limit=2&sysparm_offset=1",
                query("ORDERBYfile_name")
            )
        )
        .await,
        ["b.txt", "c.txt"]
    );
    assert_eq!(
        listed(
            &app,
            ADMIN,
            &format!("{}&sysparm_offset=3", query("ORDERBYfile_name"))
        )
        .await,
        ["d.txt"]
    );
    assert!(
        listed(&app, ADMIN, &query("file_name=none.txt"))
            .await
            .is_empty()
    );

    // Each item is the whole metadata.
    let response = at(&app, ADMIN, Method::GET, "").send().await.unwrap();
    assert_eq!(header(&response, CONTENT_TYPE), Some(JSON_TYPE));
    let (_, body) = json_of(response).await;
    for item in body["result"].as_array().unwrap() {
        assert_eq!(sorted_keys(item), METADATA_KEYS, "{item}");
        assert_eq!(*item, metadata(&app, &sys_id_of(item)).await);
    }

    // A query over a field sys_attachment does not have is the Table API's 400.
    let response = at(
        &app,
        ADMIN,
        Method::GET,
        &format!("?{}", query("no_such_field=1")),
    )
    .send()
    .await
    .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "Invalid query").await;
}

#[tokio::test]
async fn a_list_without_a_limit_is_a_page_of_1000() {
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    // 1,001 files in one Batch API request (each call through the whole stack).
    let calls: Vec<Value> = (0..1001)
        .map(|n| {
            json!({
                "id": n.to_string(),
                "method": "POST",
                "url": file_path("awa_queue", &queue, &format!("f{n:04}.txt")),
                "headers": [{"name": "Content-Type", "value": "text/plain"}],
                "body": crate::helpers::base64(n.to_string()),
                "exclude_response_headers": true,
            })
        })
        .collect();
    let response = app
        .admin(Method::POST, "/api/now/batch")
        .json(&json!({"batch_request_id": "files", "rest_requests": calls}))
        .send()
        .await
        .unwrap();
    let (status, answer) = json_of(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["unserviced_requests"], json!([]));
    let serviced = answer["serviced_requests"].as_array().unwrap();
    assert_eq!(serviced.len(), 1001);
    assert!(serviced.iter().all(|s| s["status_code"] == 201), "{answer}");

    assert_eq!(listed(&app, ADMIN, "").await.len(), 1000);
    assert_eq!(listed(&app, ADMIN, "sysparm_limit=1001").await.len(), 1001);
    assert_eq!(
        listed(
            &app,
            ADMIN,
            "sysparm_query=ORDERBYfile_name&sysparm_offset=999"
        )
        .await,
        ["f0999.txt", "f1000.txt"]
    );
}

// ---------------------------------------------------------------------------------------------
// Who sees and who changes
// ---------------------------------------------------------------------------------------------

/// Attachments on records of tables with each kind of read rule, and the users who test them.
struct Rights {
    app: TestApp,
    /// On an awa_queue record (the contact-center roles read it).
    queue: String,
    queue_record: String,
    /// On an interaction.
    interaction: String,
    /// On an oauth_entity record (admin only).
    entity: String,
    entity_record: String,
    /// On the plain user's sys_user record (every user reads it).
    user: String,
    user_record: String,
}

async fn rights() -> Rights {
    let app = TestApp::spawn().await;
    app.user(AGENT.0, AGENT.1, &["interaction_agent"]).await;
    let user_record = app.user(PLAIN.0, PLAIN.1, &[]).await;
    let queue_record = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let interaction_record = sys_id_of(
        &app.insert("interaction", json!({"short_description": "files"}))
            .await,
    );
    let entity_record = sys_id_of(
        &app.insert("oauth_entity", json!({"name": "e", "client_id": "e"}))
            .await,
    );
    let queue = attach(&app, "awa_queue", &queue_record, "queue.txt", b"q").await;
    let interaction = attach(
        &app,
        "interaction",
        &interaction_record,
        "interaction.txt",
        b"i",
    )
    .await;
    let entity = attach(&app, "oauth_entity", &entity_record, "entity.txt", b"e").await;
    let user = attach(&app, "sys_user", &user_record, "user.txt", b"u").await;
    for id in [&queue, &interaction, &entity, &user] {
        let response = at(&app, ADMIN, Method::POST, &format!("/{id}/attributes"))
            .json(&json!({"key": "alt", "value": "text"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    Rights {
        app,
        queue,
        queue_record,
        interaction,
        entity,
        entity_record,
        user,
        user_record,
    }
}

/// Every request that names an attachment, as `who` (no credentials when `None`):
/// (what, request).
fn requests_on(
    app: &TestApp,
    who: Option<(&str, &str)>,
    id: &str,
) -> Vec<(&'static str, RequestBuilder)> {
    let at = |method: Method, rest: String| {
        let path = format!("{ATTACHMENTS}{rest}");
        match who {
            Some(who) => app.as_user(who, method, &path),
            None => app.anonymous(method, &path),
        }
    };
    vec![
        ("GET", at(Method::GET, format!("/{id}"))),
        ("GET file", at(Method::GET, format!("/{id}/file"))),
        (
            "GET attributes",
            at(Method::GET, format!("/{id}/attributes")),
        ),
        (
            "GET attribute",
            at(Method::GET, format!("/{id}/attributes/alt")),
        ),
        (
            "PATCH",
            at(Method::PATCH, format!("/{id}")).json(&json!({"file_name": "x"})),
        ),
        (
            "POST attributes",
            at(Method::POST, format!("/{id}/attributes"))
                .json(&json!({"key": "other", "value": "v"})),
        ),
        (
            "PUT attribute",
            at(Method::PUT, format!("/{id}/attributes/alt")).json(&json!({"value": "changed"})),
        ),
        (
            "DELETE attribute",
            at(Method::DELETE, format!("/{id}/attributes/alt")),
        ),
        (
            "DELETE attributes",
            at(Method::DELETE, format!("/{id}/attributes")),
        ),
        ("DELETE", at(Method::DELETE, format!("/{id}"))),
        ("list", at(Method::GET, String::new())),
        (
            "POST file",
            at(
                Method::POST,
                "/file?table_name=awa_queue&table_sys_id=x&file_name=a".into(),
            )
            .header(CONTENT_TYPE, "text/plain")
            .body("a"),
        ),
        (
            "POST upload",
            at(Method::POST, "/upload".into())
                .header(
                    CONTENT_TYPE,
                    format!("multipart/form-data; boundary={BOUNDARY}"),
                )
                .body(multipart_body(&[
                    field("table_name", "awa_queue"),
                    field("table_sys_id", "x"),
                    file_part("a.txt", None, b"a"),
                ])),
        ),
    ]
}

/// [`requests_on`] without the three that name no attachment (list and the uploads).
fn requests_naming(
    app: &TestApp,
    who: (&str, &str),
    id: &str,
) -> Vec<(&'static str, RequestBuilder)> {
    let mut requests = requests_on(app, Some(who), id);
    requests.truncate(requests.len() - 3);
    requests
}

/// Asserts the attachment is as [`rights`] made it: its name, content and attribute.
async fn assert_untouched(app: &TestApp, id: &str, file_name: &str) {
    let described = metadata(app, id).await;
    assert_eq!(described["file_name"], file_name);
    assert_eq!(described["sys_mod_count"], "0");
    assert_eq!(download(app, id).await, &file_name.as_bytes()[..1]);
    let attributes = attribute_rows(app, id).await;
    assert_eq!(attributes.len(), 1, "{attributes:?}");
    assert_eq!(attributes[0]["value"], "text");
}

#[tokio::test]
async fn without_credentials_every_endpoint_is_a_401() {
    let t = rights().await;
    let app = &t.app;
    for (what, request) in requests_on(app, None, &t.queue) {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_unauthenticated(response).await;
    }
    // Wrong credentials (once each: failed logins are throttled).
    for who in [("nobody", "x"), (PLAIN.0, "wrong-password")] {
        let response = at(app, who, Method::GET, &format!("/{}/file", t.user))
            .send()
            .await
            .unwrap();
        assert_unauthenticated(response).await;
    }
    assert_untouched(app, &t.queue, "queue.txt").await;
    assert_eq!(rows(app, "sys_attachment", "").await.len(), 4);
}

#[tokio::test]
async fn a_caller_lists_only_attachments_on_tables_it_may_read() {
    let t = rights().await;
    let app = &t.app;
    let sorted = |mut names: Vec<String>| {
        names.sort();
        names
    };
    assert_eq!(
        sorted(listed(app, ADMIN, "").await),
        ["entity.txt", "interaction.txt", "queue.txt", "user.txt"]
    );
    assert_eq!(
        sorted(listed(app, AGENT, "").await),
        ["interaction.txt", "queue.txt", "user.txt"]
    );
    assert_eq!(listed(app, PLAIN, "").await, ["user.txt"]);
    // A query cannot reach past the filter.
    let query = |q: &str| format!("sysparm_query={}", query_encoded(q));
    assert!(
        listed(app, AGENT, &query("table_name=oauth_entity"))
            .await
            .is_empty()
    );
    assert!(
        listed(
            app,
            AGENT,
            &query(&format!("table_sys_id={}", t.entity_record))
        )
        .await
        .is_empty()
    );
    assert!(
        listed(
            app,
            PLAIN,
            &query("table_name=awa_queue^ORtable_name=oauth_entity")
        )
        .await
        .is_empty()
    );
    assert_eq!(
        listed(
            app,
            AGENT,
            &query("file_name=queue.txt^NQtable_name=oauth_entity^NQfile_name=entity.txt")
        )
        .await,
        ["queue.txt"]
    );
    assert_eq!(
        listed(app, AGENT, &query("ORDERBYDESCfile_name")).await,
        ["user.txt", "queue.txt", "interaction.txt"]
    );
    assert_eq!(
        listed(
            app,
            AGENT,
            &format!(
                "{}&sysparm_limit=1&sysparm_offset=1",
                query("ORDERBYfile_name")
            )
        )
        .await,
        ["queue.txt"]
    );
    // Nor can the Table API: sys_attachment is admin's there.
    let response = app
        .as_user(AGENT, Method::GET, "/api/now/table/sys_attachment")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_attachment_on_a_table_the_caller_may_not_read_does_not_exist_for_it() {
    let t = rights().await;
    let app = &t.app;
    for (who, id) in [
        (AGENT, &t.entity),
        (PLAIN, &t.entity),
        (PLAIN, &t.queue),
        (PLAIN, &t.interaction),
    ] {
        for (what, request) in requests_naming(app, who, id) {
            let response = request.send().await.unwrap();
            let detail = assert_error(response, StatusCode::NOT_FOUND, "No Record found").await;
            assert_eq!(
                detail, "Record doesn't exist or ACL restricts the record retrieval",
                "{} {what}",
                who.0
            );
        }
    }
    assert_untouched(app, &t.entity, "entity.txt").await;
    assert_untouched(app, &t.queue, "queue.txt").await;
    assert_untouched(app, &t.interaction, "interaction.txt").await;

    // Nor may it attach to such a record: it does not exist either.
    for (who, table, record) in [
        (AGENT, "oauth_entity", &t.entity_record),
        (PLAIN, "awa_queue", &t.queue_record),
    ] {
        let response = post_file(
            app,
            who,
            table,
            record,
            "x.txt",
            "text/plain",
            b"x".to_vec(),
        )
        .send()
        .await
        .unwrap();
        assert_error(response, StatusCode::NOT_FOUND, "No Record found").await;
        let form = [
            field("table_name", table),
            field("table_sys_id", record),
            file_part("x.txt", None, b"x"),
        ];
        let response = post_upload(app, who, &form).send().await.unwrap();
        assert_error(response, StatusCode::NOT_FOUND, "No Record found").await;
    }
    assert_eq!(rows(app, "sys_attachment", "").await.len(), 4);
}

#[tokio::test]
async fn an_attachment_the_caller_may_see_but_not_change_is_a_403_for_changes() {
    let t = rights().await;
    let app = &t.app;
    // The plain user reads its own user record (every user reads sys_user) but attaches to
    // nothing; nor does an agent attach to users.
    for who in [PLAIN, AGENT] {
        for (what, request) in requests_naming(app, who, &t.user) {
            let response = request.send().await.unwrap();
            let verb = match what {
                "GET" | "GET file" | "GET attributes" | "GET attribute" => {
                    assert_eq!(response.status(), StatusCode::OK, "{} {what}", who.0);
                    continue;
                }
                "PATCH" | "PUT attribute" => "Update",
                "POST attributes" => "Insert",
                _ => "Delete",
            };
            let detail = assert_error(response, StatusCode::FORBIDDEN, "Operation Failed").await;
            assert_eq!(
                detail,
                format!("ACL Exception {verb} Failed due to security constraints"),
                "{} {what}",
                who.0
            );
        }
        let (status, body) = metadata_as(app, who, &t.user).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["result"]["file_name"], "user.txt");

        let response = post_file(
            app,
            who,
            "sys_user",
            &t.user_record,
            "x.txt",
            "text/plain",
            b"x".to_vec(),
        )
        .send()
        .await
        .unwrap();
        let detail = assert_error(response, StatusCode::FORBIDDEN, "Operation Failed").await;
        assert_eq!(
            detail,
            "ACL Exception Insert Failed due to security constraints"
        );
        let form = [
            field("table_name", "sys_user"),
            field("table_sys_id", &t.user_record),
            file_part("x.txt", None, b"x"),
        ];
        let response = post_upload(app, who, &form).send().await.unwrap();
        assert_error(response, StatusCode::FORBIDDEN, "Operation Failed").await;
    }
    assert_untouched(app, &t.user, "user.txt").await;
    assert_eq!(rows(app, "sys_attachment", "").await.len(), 4);
}

#[tokio::test]
async fn a_contact_center_role_attaches_to_and_changes_its_tables_attachments() {
    let t = rights().await;
    let app = &t.app;
    let agent = attach_as(app, AGENT, "awa_queue", &t.queue_record, "mine.txt", b"m").await;
    assert_eq!(agent["sys_created_by"], AGENT.0);
    assert_eq!(
        agent["created_by_name"], AGENT.0,
        "first name only: the full name"
    );
    let (status, body) = metadata_as(app, AGENT, &sys_id_of(&agent)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Changes to the admin's attachment on an interaction.
    for (what, request) in requests_naming(app, AGENT, &t.interaction) {
        let response = request.send().await.unwrap();
        let status = response.status();
        let expected = match what {
            "POST attributes" => StatusCode::CREATED,
            "PATCH" | "DELETE attribute" | "DELETE attributes" | "DELETE" => StatusCode::NO_CONTENT,
            _ => StatusCode::OK,
        };
        assert_eq!(
            status,
            expected,
            "{what}: {}",
            response.text().await.unwrap()
        );
    }
    let (status, _) = metadata_as(app, ADMIN, &t.interaction).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(chunks_of(app, &t.interaction).await.is_empty());
    assert!(attribute_rows(app, &t.interaction).await.is_empty());

    // The integration role, and awa_agent, on the queue.
    app.user(
        "integration",
        "integration-password",
        &["awa_integration_user"],
    )
    .await;
    app.user("awa", "awa-password", &["awa_agent"]).await;
    for who in [
        ("integration", "integration-password"),
        ("awa", "awa-password"),
    ] {
        let mine = attach_as(app, who, "awa_queue", &t.queue_record, "theirs.txt", b"t").await;
        let id = sys_id_of(&mine);
        let response = at(app, who, Method::PATCH, &format!("/{id}"))
            .json(&json!({"file_name": "renamed.txt"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{}", who.0);
        let response = at(app, who, Method::DELETE, &format!("/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{}", who.0);
    }
}

// ---------------------------------------------------------------------------------------------
// Rename, delete, attributes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_rename_changes_the_name_and_keeps_the_content() {
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let bytes = pattern(MULTI_CHUNK);
    let id = attach(&app, "awa_queue", &queue, "before.bin", &bytes).await;
    let before = metadata(&app, &id).await;

    let response = at(&app, ADMIN, Method::PATCH, &format!("/{id}"))
        .json(&json!({"file_name": "after.bin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.text().await.unwrap().is_empty());

    let after = metadata(&app, &id).await;
    assert_eq!(after["file_name"], "after.bin");
    assert_eq!(after["sys_mod_count"], "1");
    for unchanged in [
        "sys_id",
        "hash",
        "size_bytes",
        "content_type",
        "table_name",
        "table_sys_id",
        "sys_created_on",
        "sys_created_by",
        "download_link",
    ] {
        assert_eq!(after[unchanged], before[unchanged], "{unchanged}");
    }
    assert!(download(&app, &id).await == bytes);
    assert_eq!(chunks_of(&app, &id).await.len(), 4);
    let got = download_with(&app, ADMIN, &id, None).await;
    let described: Value =
        serde_json::from_str(got.header("x-attachment-metadata").unwrap()).unwrap();
    assert_eq!(described["file_name"], "after.bin");

    // The Method Override and XML bodies work as everywhere.
    let response = at(&app, ADMIN, Method::POST, &format!("/{id}"))
        .header("X-HTTP-Method-Override", "PATCH")
        .header(CONTENT_TYPE, "application/xml")
        .body("<request><file_name>again.bin</file_name></request>")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let again = metadata(&app, &id).await;
    assert_eq!(again["file_name"], "again.bin");
    assert_eq!(again["sys_mod_count"], "2");

    // A new name is required, as text.
    for body in [
        json!({}),
        json!({"file_name": ""}),
        json!({"file_name": "  "}),
        json!({"file_name": 7}),
        json!({"file_name": null}),
        json!({"name": "x"}),
    ] {
        let response = at(&app, ADMIN, Method::PATCH, &format!("/{id}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let detail = assert_error(response, StatusCode::BAD_REQUEST, "Invalid request").await;
        assert!(
            detail.as_str().unwrap().contains("file_name"),
            "{body}: {detail}"
        );
    }
    let response = at(&app, ADMIN, Method::PATCH, &format!("/{id}"))
        .header(CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_unreadable_request(response).await;
    let response = at(&app, ADMIN, Method::PATCH, &format!("/{UNKNOWN_ID}"))
        .json(&json!({"file_name": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::NOT_FOUND, "No Record found").await;
    assert_eq!(metadata(&app, &id).await["file_name"], "again.bin");
}

#[tokio::test]
async fn the_attributes_of_an_attachment_are_added_read_changed_and_deleted() {
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let id = attach(&app, "awa_queue", &queue, "cat.jpg", b"jpeg").await;
    let other = attach(&app, "awa_queue", &queue, "dog.jpg", b"jpeg").await;
    let attributes = format!("/{id}/attributes");
    let call = |method: Method, rest: &str, body: Option<Value>| {
        let mut request = at(&app, ADMIN, method, rest);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move { json_or_null(request.send().await.unwrap()).await }
    };

    // None yet.
    assert_eq!(
        call(Method::GET, &attributes, None).await,
        (StatusCode::OK, json!({"result": []}))
    );

    // Added; an empty value is a value.
    for (key, value) in [
        ("alt_text", "A cat on a mat"),
        ("caption", ""),
        ("a_first", "1"),
    ] {
        let added = call(
            Method::POST,
            &attributes,
            Some(json!({"key": key, "value": value})),
        )
        .await;
        assert_eq!(
            added,
            (
                StatusCode::CREATED,
                json!({"result": {"key": key, "value": value}})
            )
        );
    }
    // Listed in key order; one read by its key.
    assert_eq!(
        call(Method::GET, &attributes, None).await,
        (
            StatusCode::OK,
            json!({"result": [
                {"key": "a_first", "value": "1"},
                {"key": "alt_text", "value": "A cat on a mat"},
                {"key": "caption", "value": ""},
            ]})
        )
    );
    assert_eq!(
        call(Method::GET, &format!("{attributes}/alt_text"), None).await,
        (
            StatusCode::OK,
            json!({"result": {"key": "alt_text", "value": "A cat on a mat"}})
        )
    );
    // Another attachment's are its own.
    assert_eq!(
        call(Method::GET, &format!("/{other}/attributes"), None).await,
        (StatusCode::OK, json!({"result": []}))
    );
    assert_eq!(attribute_rows(&app, &id).await.len(), 3);

    // Added twice: refused, the value kept.
    let (status, body) = call(
        Method::POST,
        &attributes,
        Some(json!({"key": "alt_text", "value": "A dog"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["message"], "Attribute already exists");
    assert_eq!(body["status"], "failure");
    // Key and value are required, as text.
    for body in [
        json!({"value": "v"}),
        json!({"key": "", "value": "v"}),
        json!({"key": 5, "value": "v"}),
        json!({"key": "k"}),
        json!({"key": "k", "value": 5}),
        json!({"key": "k", "value": null}),
    ] {
        let (status, answer) = call(Method::POST, &attributes, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer["error"]["message"], "Invalid request", "{body}");
    }

    // Changed.
    assert_eq!(
        call(
            Method::PUT,
            &format!("{attributes}/alt_text"),
            Some(json!({"value": "A cat on a red mat"}))
        )
        .await,
        (
            StatusCode::OK,
            json!({"result": {"key": "alt_text", "value": "A cat on a red mat"}})
        )
    );
    assert_eq!(
        call(Method::GET, &format!("{attributes}/alt_text"), None)
            .await
            .1["result"]["value"],
        "A cat on a red mat"
    );
    let (status, answer) = call(
        Method::PUT,
        &format!("{attributes}/alt_text"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["message"], "Invalid request");

    // A key that is not there: 404 to read, change or delete.
    let no_record = |(status, body): (StatusCode, Value)| {
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(body["error"]["message"], "No Record found", "{body}");
    };
    no_record(call(Method::GET, &format!("{attributes}/nope"), None).await);
    no_record(
        call(
            Method::PUT,
            &format!("{attributes}/nope"),
            Some(json!({"value": "v"})),
        )
        .await,
    );
    no_record(call(Method::DELETE, &format!("{attributes}/nope"), None).await);
    // Nor on an attachment that is not there.
    let missing = format!("/{UNKNOWN_ID}/attributes");
    no_record(call(Method::GET, &missing, None).await);
    no_record(call(Method::GET, &format!("{missing}/alt_text"), None).await);
    no_record(
        call(
            Method::POST,
            &missing,
            Some(json!({"key": "k", "value": "v"})),
        )
        .await,
    );
    no_record(
        call(
            Method::PUT,
            &format!("{missing}/alt_text"),
            Some(json!({"value": "v"})),
        )
        .await,
    );
    no_record(call(Method::DELETE, &format!("{missing}/alt_text"), None).await);
    no_record(call(Method::DELETE, &missing, None).await);

    // Deleted, one, then all.
    assert_eq!(
        call(Method::DELETE, &format!("{attributes}/caption"), None).await,
        (StatusCode::NO_CONTENT, Value::Null)
    );
    no_record(call(Method::GET, &format!("{attributes}/caption"), None).await);
    no_record(call(Method::DELETE, &format!("{attributes}/caption"), None).await);
    assert_eq!(
        call(Method::GET, &attributes, None).await.1["result"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // A deleted key can be added again.
    assert_eq!(
        call(
            Method::POST,
            &attributes,
            Some(json!({"key": "caption", "value": "back"}))
        )
        .await
        .0,
        StatusCode::CREATED
    );
    call(
        Method::POST,
        &format!("/{other}/attributes"),
        Some(json!({"key": "alt_text", "value": "A dog"})),
    )
    .await;
    assert_eq!(
        call(Method::DELETE, &attributes, None).await,
        (StatusCode::NO_CONTENT, Value::Null)
    );
    assert_eq!(
        call(Method::GET, &attributes, None).await,
        (StatusCode::OK, json!({"result": []}))
    );
    assert!(attribute_rows(&app, &id).await.is_empty());
    // Deleting none is fine too.
    assert_eq!(
        call(Method::DELETE, &attributes, None).await.0,
        StatusCode::NO_CONTENT
    );
    // The other attachment's stay.
    assert_eq!(
        call(Method::GET, &format!("/{other}/attributes/alt_text"), None)
            .await
            .1["result"],
        json!({"key": "alt_text", "value": "A dog"})
    );
    // The attachment itself is not changed by its attributes.
    assert_eq!(metadata(&app, &id).await["sys_mod_count"], "0");
}

#[tokio::test]
async fn deleting_an_attachment_deletes_its_content_and_attributes_only() {
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let bytes = pattern(MULTI_CHUNK);
    let id = attach(&app, "awa_queue", &queue, "gone.bin", &bytes).await;
    let kept = attach(&app, "awa_queue", &queue, "kept.bin", &bytes).await;
    for attachment in [&id, &kept] {
        let response = at(
            &app,
            ADMIN,
            Method::POST,
            &format!("/{attachment}/attributes"),
        )
        .json(&json!({"key": "alt", "value": "v"}))
        .send()
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    assert_eq!(chunks_of(&app, &id).await.len(), 4);

    let response = at(&app, ADMIN, Method::DELETE, &format!("/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.text().await.unwrap().is_empty());

    let (status, _) = metadata_as(&app, ADMIN, &id).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let got = download_with(&app, ADMIN, &id, None).await;
    assert_eq!(got.status, StatusCode::NOT_FOUND);
    assert!(chunks_of(&app, &id).await.is_empty());
    assert!(attribute_rows(&app, &id).await.is_empty());
    let response = at(&app, ADMIN, Method::DELETE, &format!("/{id}"))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::NOT_FOUND, "No Record found").await;

    // The other attachment, and the record, are untouched.
    assert_eq!(chunks_of(&app, &kept).await.len(), 4);
    assert_eq!(attribute_rows(&app, &kept).await.len(), 1);
    assert!(download(&app, &kept).await == bytes);
    assert_eq!(listed(&app, ADMIN, "").await, ["kept.bin"]);
    assert!(
        crate::helpers::fetch_record(&app, "awa_queue", &queue)
            .await
            .is_some()
    );
}

#[tokio::test]
async fn deleting_a_record_deletes_its_attachments_and_those_of_records_deleted_with_it() {
    let app = TestApp::spawn().await;
    let interaction = sys_id_of(
        &app.insert("interaction", json!({"short_description": "with files"}))
            .await,
    );
    // A conversation belongs to its interaction: it goes when the interaction does.
    let conversation = sys_id_of(
        &app.insert(
            "sys_cs_conversation",
            json!({"interaction": interaction, "state": "open"}),
        )
        .await,
    );
    let survivor = sys_id_of(&app.insert("awa_queue", json!({"name": "Stays"})).await);
    let bytes = pattern(MULTI_CHUNK);
    let on_interaction = attach(&app, "interaction", &interaction, "i.bin", &bytes).await;
    let on_interaction2 = attach(&app, "interaction", &interaction, "i2.txt", b"2").await;
    let on_conversation = attach(&app, "sys_cs_conversation", &conversation, "c.bin", &bytes).await;
    let on_survivor = attach(&app, "awa_queue", &survivor, "s.bin", &bytes).await;
    let gone = [&on_interaction, &on_interaction2, &on_conversation];
    for id in gone.iter().copied().chain([&on_survivor]) {
        let response = at(&app, ADMIN, Method::POST, &format!("/{id}/attributes"))
            .json(&json!({"key": "alt", "value": "v"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }

    let response = app
        .admin(
            Method::DELETE,
            &format!("/api/now/table/interaction/{interaction}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(
        crate::helpers::fetch_record(&app, "sys_cs_conversation", &conversation)
            .await
            .is_none()
    );

    for id in gone {
        let (status, _) = metadata_as(&app, ADMIN, id).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
        assert!(chunks_of(&app, id).await.is_empty(), "{id}");
        assert!(attribute_rows(&app, id).await.is_empty(), "{id}");
    }
    assert_eq!(rows(&app, "sys_attachment", "").await.len(), 1);
    assert_eq!(rows(&app, "sys_attachment_doc", "").await.len(), 4);
    assert_eq!(rows(&app, "sys_attachment_attribute", "").await.len(), 1);
    assert!(download(&app, &on_survivor).await == bytes);

    // A record deleted by another API's rule: a user's role grant, deleted with the role.
    let role = sys_id_of(
        &app.insert("sys_user_role", json!({"name": "x_files"}))
            .await,
    );
    let grant = sys_id_of(
        &app.insert("sys_user_has_role", json!({"user": "admin", "role": role}))
            .await,
    );
    let on_grant = attach(&app, "sys_user_has_role", &grant, "grant.txt", b"g").await;
    let on_role = attach(&app, "sys_user_role", &role, "role.txt", b"r").await;
    let response = app
        .admin(
            Method::DELETE,
            &format!("/api/now/table/sys_user_role/{role}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for id in [&on_grant, &on_role] {
        let (status, _) = metadata_as(&app, ADMIN, id).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
        assert!(chunks_of(&app, id).await.is_empty(), "{id}");
    }
    assert_eq!(rows(&app, "sys_attachment", "").await.len(), 1);
}

#[tokio::test]
async fn an_attachment_deleted_while_it_downloads_ends_the_body_short() {
    // Large enough that far more than the sockets and buffers between client and server hold is
    // still unread when the attachment goes.
    const SIZE: usize = 16 * 1024 * 1024;
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let bytes = pattern(SIZE);
    let id = attach(&app, "awa_queue", &queue, "large.bin", &bytes).await;

    let mut response = at(&app, ADMIN, Method::GET, &format!("/{id}/file"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, CONTENT_LENGTH), Some("16777216"));
    let mut received = response.chunk().await.unwrap().unwrap().to_vec();

    let deleted = at(&app, ADMIN, Method::DELETE, &format!("/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    let ended = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    assert!(
        ended.is_err(),
        "the body ends in an error, not as if complete"
    );
    assert!(received.len() < SIZE, "{} bytes", received.len());
    assert!(
        received == bytes[..received.len()],
        "what came is the file's start"
    );
}

// ---------------------------------------------------------------------------------------------
// Uploads as HTTP/1.1 clients send them
// ---------------------------------------------------------------------------------------------

/// Writes `head` (request line and headers, without the blank line) to a new connection,
/// adding `Host`, credentials and the blank line; the connection.
async fn send_head(app: &TestApp, head: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = app.connect().await;
    let head = format!(
        "{head}\r\nHost: {}\r\nAuthorization: {}\r\n\r\n",
        app.addr(),
        basic_authorization(ADMIN)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// Reads one response head (up to its blank line) off `stream`.
async fn read_head(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    let read = async {
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "closed mid-head");
            head.push(byte[0]);
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), read)
        .await
        .expect("a response head within 30 seconds");
    String::from_utf8(head).unwrap()
}

#[tokio::test]
async fn a_client_that_expects_100_continue_sends_its_file_only_when_it_will_be_taken() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let bytes = pattern(MULTI_CHUNK);

    // As curl sends a file: headers first, the body once the server says to go on.
    let mut stream = send_head(
        &app,
        &format!(
            "POST {} HTTP/1.1\r\nContent-Type: application/octet-stream\r\n\
             Content-Length: {MULTI_CHUNK}\r\nExpect: 100-continue\r\nConnection: close",
            file_path("awa_queue", &queue, "curl.bin")
        ),
    )
    .await;
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 100 Continue\r\n"), "{head}");
    stream.write_all(&bytes).await.unwrap();
    let (answer, _) =
        crate::helpers::read_until_closed(&mut stream, std::time::Duration::from_secs(30)).await;
    assert!(answer.starts_with("HTTP/1.1 201 Created\r\n"), "{answer}");
    let result = &rows(&app, "sys_attachment", "file_name=curl.bin").await[0];
    assert!(download(&app, &sys_id_of(result)).await == bytes);

    // A refusal is the answer, with no 100 Continue: the client never sends the file.
    for (path, length, status) in [
        (
            file_path("awa_queue", &queue, "huge.bin"),
            "2147483648",
            "400 Bad Request",
        ),
        (
            file_path("awa_queue", UNKNOWN_ID, "lost.bin"),
            "1000",
            "404 Not Found",
        ),
    ] {
        let mut stream = send_head(
            &app,
            &format!(
                "POST {path} HTTP/1.1\r\nContent-Type: application/octet-stream\r\n\
                 Content-Length: {length}\r\nExpect: 100-continue\r\nConnection: close"
            ),
        )
        .await;
        let head = read_head(&mut stream).await;
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status}\r\n")),
            "{head}"
        );
    }
    assert_eq!(rows(&app, "sys_attachment", "").await.len(), 1);
}

#[tokio::test]
async fn an_upload_cut_short_stores_nothing() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let bytes = pattern(MULTI_CHUNK);
    let mut stream = send_head(
        &app,
        &format!(
            "POST {} HTTP/1.1\r\nContent-Type: application/octet-stream\r\n\
             Content-Length: {MULTI_CHUNK}\r\nConnection: close",
            file_path("awa_queue", &queue, "cut.bin")
        ),
    )
    .await;
    stream.write_all(&bytes[..100_000]).await.unwrap();
    // The client stops sending (and says so); the server answers what it could read.
    stream.shutdown().await.unwrap();
    let (answer, _) =
        crate::helpers::read_until_closed(&mut stream, std::time::Duration::from_secs(30)).await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains("Exception while reading request"),
        "{answer}"
    );
    assert!(rows(&app, "sys_attachment", "").await.is_empty());
    assert!(rows(&app, "sys_attachment_doc", "").await.is_empty());
}

#[tokio::test]
async fn a_record_deleted_while_its_file_arrives_gets_no_attachment() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let bytes = pattern(MULTI_CHUNK);
    let mut stream = send_head(
        &app,
        &format!(
            "POST {} HTTP/1.1\r\nContent-Type: application/octet-stream\r\n\
             Transfer-Encoding: chunked\r\nConnection: close",
            file_path("awa_queue", &queue, "orphan.bin")
        ),
    )
    .await;
    let (first, rest) = bytes.split_at(1000);
    let opening = chunked(&[first]);
    let without_end = opening.len() - b"0\r\n\r\n".len();
    stream.write_all(&opening[..without_end]).await.unwrap();
    // The record was there when the upload began (checked before the file is read)...
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let response = app
        .admin(Method::DELETE, &format!("/api/now/table/awa_queue/{queue}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // ... and is gone when the file has arrived.
    stream.write_all(&chunked(&[rest])).await.unwrap();
    let (answer, _) =
        crate::helpers::read_until_closed(&mut stream, std::time::Duration::from_secs(30)).await;
    assert!(answer.starts_with("HTTP/1.1 404 Not Found\r\n"), "{answer}");
    assert!(answer.contains("No Record found"), "{answer}");
    assert!(rows(&app, "sys_attachment", "").await.is_empty());
    assert!(rows(&app, "sys_attachment_doc", "").await.is_empty());
}

#[tokio::test]
async fn x_no_response_body_leaves_the_location() {
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let response = post_file(
        &app,
        ADMIN,
        "awa_queue",
        &queue,
        "quiet.txt",
        "text/plain",
        b"shh".to_vec(),
    )
    .header("X-no-response-body", "true")
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = header(&response, LOCATION).unwrap().to_owned();
    assert!(response.text().await.unwrap().is_empty());
    let id = location.rsplit('/').next().unwrap();
    assert_eq!(download(&app, id).await, b"shh");
}

#[tokio::test]
async fn a_form_whose_file_input_was_left_empty_holds_no_file() {
    // A browser sends an empty file input as a part with an empty filename and no content.
    let app = TestApp::spawn().await;
    let queue = sys_id_of(&app.insert("awa_queue", json!({"name": "Files"})).await);
    let form = [
        field("table_name", "awa_queue"),
        field("table_sys_id", &queue),
        file_part("", Some("application/octet-stream"), b""),
    ];
    let response = post_upload(&app, ADMIN, &form).send().await.unwrap();
    let detail = assert_error(response, StatusCode::BAD_REQUEST, "Invalid request").await;
    assert!(detail.as_str().unwrap().contains("no file"), "{detail}");
    // Beside a chosen file, it is not a second file.
    let form = [
        field("table_name", "awa_queue"),
        field("table_sys_id", &queue),
        file_part("", Some("application/octet-stream"), b""),
        file_part("chosen.txt", Some("text/plain"), b"chosen"),
    ];
    let (status, body) = json_of(post_upload(&app, ADMIN, &form).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["file_name"], "chosen.txt");
    assert_eq!(rows(&app, "sys_attachment", "").await.len(), 1);
}
