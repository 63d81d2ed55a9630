//! Connection-level protections: slow clients are cut off, idle connections closed, oversized
//! header blocks refused, and no more than the configured number of connections served at once.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::helpers::{
    ADMIN, TestApp, basic_authorization, basic_credentials, raw, read_until_closed, sys_id_of,
};

fn short_timeouts(config: &mut switchboard::state::Config) {
    config.limits.header_timeout = Duration::from_secs(1);
    config.body_timeout = Duration::from_secs(1);
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_disconnected() {
    let app = TestApp::spawn_with(short_timeouts).await;
    let mut stream = app.connect().await;
    stream
        .write_all(b"GET /api/now/table/sys_user HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // ... and never the blank line that ends the headers.
    let (_, took) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
    assert!(
        took >= Duration::from_millis(900),
        "closed too early, after {took:?}"
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let app = TestApp::spawn_with(short_timeouts).await;
    let mut stream = app.connect().await;
    stream
        .write_all(b"GET /api/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (received, took) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(
        received.starts_with("HTTP/1.1 200"),
        "{}",
        &received[..received.len().min(200)]
    );
    assert!(
        took < Duration::from_secs(5),
        "idle connection kept {took:?}"
    );
}

#[tokio::test]
async fn a_client_trickling_its_body_gets_a_408_in_the_envelope() {
    let app = TestApp::spawn_with(short_timeouts).await;
    let mut stream = app.connect().await;
    let credentials = basic_credentials(ADMIN);
    let head = format!(
        "POST /api/now/table/awa_queue HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {credentials}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\":"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (received, took) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(received.starts_with("HTTP/1.1 408"), "{received}");
    assert!(
        received.contains("Exception while reading request"),
        "{received}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn an_oversized_header_block_is_refused() {
    let app = TestApp::spawn().await;
    let mut stream = app.connect().await;
    let huge = "a".repeat(200 * 1024);
    let request =
        format!("GET /api/now/table/sys_user HTTP/1.1\r\nHost: x\r\nX-Big: {huge}\r\n\r\n");
    // The server may stop reading before all of it is written.
    let _ = stream.write_all(request.as_bytes()).await;
    let (received, _) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(
        received.is_empty() || received.starts_with("HTTP/1.1 431"),
        "{}",
        &received[..received.len().min(300)]
    );
    // The server is still healthy.
    let response = app
        .admin(Method::GET, "/api/now/table/sys_user_role")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let app = TestApp::spawn_with(|c| {
        c.limits.max_connections = 2;
        c.limits.header_timeout = Duration::from_secs(30);
    })
    .await;
    let first = app.connect().await;
    let second = app.connect().await;
    // Both slots are held by idle connections: a third client is not served...
    let (waiting, _) = app
        .timed_get("/api/openapi.json", Duration::from_millis(700))
        .await;
    assert!(waiting.is_err(), "served beyond the cap: {waiting:?}");
    // ... until one of them goes.
    drop(first);
    let (served, _) = app
        .timed_get("/api/openapi.json", Duration::from_secs(5))
        .await;
    let served = served.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    drop(second);
}

/// Creates a role whose answer (8 MB) is far larger than what the kernel buffers for a client
/// that reads nothing; returns its sys_id.
async fn big_record(app: &TestApp) -> String {
    let big = serde_json::json!({"name": "big", "description": "d".repeat(8_000_000)});
    let credentials = basic_authorization(ADMIN);
    let created = raw(
        app,
        "POST",
        "/api/now/table/sys_user_role",
        &[
            ("Authorization", &credentials),
            ("Content-Type", "application/json"),
            ("Content-Length", &big.to_string().len().to_string()),
        ],
        big.to_string().into_bytes(),
    )
    .await;
    assert_eq!(
        created.status,
        201,
        "{}",
        &created.text()[..200.min(created.text().len())]
    );
    sys_id_of(&created.json()["result"])
}

#[tokio::test]
async fn a_slow_but_steady_download_outlives_the_idle_limit() {
    let app = TestApp::spawn_with(|c| {
        c.limits.header_timeout = Duration::from_secs(1);
        c.limits.send_timeout = Duration::from_secs(10);
    })
    .await;
    let sys_id = big_record(&app).await;
    let mut stream = ask_for_big_record(&app, &sys_id).await;
    // Read it in about four idle limits: the watchdog must not take the answer for idleness.
    let started = Instant::now();
    let mut received = 0usize;
    let mut buffer = vec![0u8; 64 * 1024];
    while received < 8_000_000 {
        if started.elapsed() < Duration::from_secs(4) {
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => received += n,
        }
    }
    assert!(
        received > 8_000_000,
        "the answer was cut off after {received} bytes and {:?}",
        started.elapsed()
    );
}

/// Asks for the big record over HTTP/1.1 on a socket with a small receive buffer, reading
/// nothing yet: the answer stalls as soon as the kernel's buffers are full.
async fn ask_for_big_record(app: &TestApp, sys_id: &str) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let addr = app.base.trim_start_matches("http://").parse().unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let request = format!(
        "GET /api/now/table/sys_user_role/{sys_id} HTTP/1.1\r\nHost: x\r\n\
         Authorization: Basic {}\r\nAccept: application/json\r\n\r\n",
        basic_credentials(ADMIN)
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

#[tokio::test]
async fn clients_that_stop_reading_their_response_lose_their_connection() {
    let app = TestApp::spawn_with(|c| {
        c.limits.max_connections = 2;
        // Long enough that only the send timeout can free the slots.
        c.limits.header_timeout = Duration::from_secs(60);
        c.limits.send_timeout = Duration::from_secs(2);
    })
    .await;
    let sys_id = big_record(&app).await;
    // Two clients take both slots, ask for it, and never read it.
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let stream = ask_for_big_record(&app, &sys_id).await;
        // The answer has started.
        tokio::time::timeout(Duration::from_secs(30), stream.readable())
            .await
            .expect("the answer starts")
            .unwrap();
        stalled.push(stream);
    }
    let (served, took) = app
        .timed_get("/api/openapi.json", Duration::from_secs(30))
        .await;
    let served = served.unwrap_or_else(|e| {
        panic!("two clients not reading held every slot for {took:?} (send timeout 2 s): {e}")
    });
    assert_eq!(served.status(), StatusCode::OK);
    assert!(took < Duration::from_secs(20), "served after {took:?}");
    drop(stalled);
}
