//! HTTP/2 (prior-knowledge h2c) gets the connection-level protections HTTP/1.1 has: a first
//! request within the header timeout, idle connections closed, a cap on streams per connection,
//! and none of it cutting off a request still in flight.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{Request, StatusCode};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::helpers::{
    ADMIN, PREFACE_AND_SETTINGS, TestApp, basic_authorization, read_until_closed,
};

/// Opens an HTTP/2 connection that sends the preface and nothing else.
async fn idle_h2c(app: &TestApp) -> TcpStream {
    let mut stream = app.connect().await;
    stream.write_all(PREFACE_AND_SETTINGS).await.unwrap();
    stream
}

/// An HTTP/2 client on a fresh connection; the connection is driven by a task whose handle
/// completes when the connection ends.
async fn h2_client(
    app: &TestApp,
) -> (
    h2::client::SendRequest<Bytes>,
    tokio::task::JoinHandle<Result<(), h2::Error>>,
) {
    let (send, connection) = h2::client::handshake(app.connect().await)
        .await
        .expect("an HTTP/2 handshake");
    (send, tokio::spawn(connection))
}

/// The server ends `connection` (now idle, its client still holding it) well within a few
/// header timeouts of 1 s.
async fn assert_closed_once_idle(connection: &mut tokio::task::JoinHandle<Result<(), h2::Error>>) {
    let started = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(15), connection).await;
    let took = started.elapsed();
    assert!(
        ended.is_ok() && took < Duration::from_secs(8),
        "an idle HTTP/2 connection was open {took:?} after its request, with a 1 s header timeout"
    );
}

fn request(app: &TestApp, method: &str, path: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(app.url(path))
        .header("authorization", basic_authorization(ADMIN))
        .header("accept", "application/json")
}

/// Reads a response body to its end.
async fn body_of(mut body: h2::RecvStream) -> Vec<u8> {
    let mut received = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.expect("a body chunk");
        let _ = body.flow_control().release_capacity(chunk.len());
        received.extend_from_slice(&chunk);
    }
    received
}

fn one_second_header_timeout(config: &mut switchboard::state::Config) {
    config.limits.header_timeout = Duration::from_secs(1);
}

#[tokio::test]
async fn an_idle_h2c_connection_is_closed_after_the_header_timeout() {
    let app = TestApp::spawn_with(one_second_header_timeout).await;
    let mut stream = idle_h2c(&app).await;
    let (_, took) = read_until_closed(&mut stream, Duration::from_secs(15)).await;
    assert!(
        took < Duration::from_secs(8),
        "an HTTP/2 connection that never sent a request was open {took:?} with a 1 s header \
         timeout"
    );
}

#[tokio::test]
async fn idle_h2c_connections_do_not_starve_other_clients() {
    let app = TestApp::spawn_with(|c| {
        c.limits.header_timeout = Duration::from_secs(1);
        c.limits.max_connections = 2;
    })
    .await;
    // Both slots taken by connections that sent the preface and then nothing (and never read).
    let _first = idle_h2c(&app).await;
    let _second = idle_h2c(&app).await;
    let (response, took) = app
        .timed_get("/api/openapi.json", Duration::from_secs(15))
        .await;
    let response = response.unwrap_or_else(|e| {
        panic!("two idle HTTP/2 connections starved a request for {took:?}: {e}")
    });
    assert_eq!(response.status(), StatusCode::OK);
    assert!(took < Duration::from_secs(10), "served after {took:?}");
}

#[tokio::test]
async fn a_kept_alive_h2_connection_is_served_then_closed_once_idle() {
    let app = TestApp::spawn_with(one_second_header_timeout).await;
    let (send, mut connection) = h2_client(&app).await;
    let mut send = send.ready().await.unwrap();
    let get = request(&app, "GET", "/api/now/table/sys_user_role?sysparm_limit=1")
        .body(())
        .unwrap();
    let (response, _) = send.send_request(get, true).unwrap();
    let response = response.await.expect("a response over HTTP/2");
    assert_eq!(response.status(), StatusCode::OK);
    let body = body_of(response.into_body()).await;
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["result"].as_array().map(Vec::len), Some(1), "{json}");
    // Idle now (the client still holds the connection open): the server ends it.
    assert_closed_once_idle(&mut connection).await;
    drop(send);
}

#[tokio::test]
async fn an_h2_request_in_flight_outlives_the_header_timeout_then_its_idle_connection_closes() {
    let app = TestApp::spawn_with(|c| {
        c.limits.header_timeout = Duration::from_secs(1);
        c.body_timeout = Duration::from_secs(20);
    })
    .await;
    let (send, mut connection) = h2_client(&app).await;
    let mut send = send.ready().await.unwrap();
    let post = request(&app, "POST", "/api/now/table/sys_user_role")
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    let (response, mut body) = send.send_request(post, false).unwrap();
    // The body trickles in over three header timeouts: the request is in flight all along.
    let parts: [&[u8]; 4] = [b"{\"name\":", b"\"slow_", b"role\"", b"}"];
    for (i, part) in parts.iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(900)).await;
        body.send_data(Bytes::from_static(part), i == parts.len() - 1)
            .expect("the stream is still open");
    }
    let response = response.await.expect("a response after the slow body");
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: serde_json::Value =
        serde_json::from_slice(&body_of(response.into_body()).await).unwrap();
    assert_eq!(created["result"]["name"], "slow_role", "{created}");
    // Then idle: closed.
    assert_closed_once_idle(&mut connection).await;
    drop(send);
}

#[tokio::test]
async fn the_server_announces_its_cap_on_streams_per_connection() {
    let app = TestApp::spawn_with(|c| c.limits.max_streams_per_connection = 7).await;
    let (send, connection) = h2::client::handshake(app.connect().await).await.unwrap();
    let mut connection = Box::pin(connection);
    let mut send = send.ready().await.unwrap();
    let get = request(&app, "GET", "/api/openapi.json").body(()).unwrap();
    let (response, _) = send.send_request(get, true).unwrap();
    // Drive the connection until the answer's head is in: the server's SETTINGS came first.
    let response = tokio::select! {
        response = response => response.unwrap(),
        ended = connection.as_mut() => panic!("the connection ended first: {ended:?}"),
    };
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(connection.max_concurrent_send_streams(), 7);
}
