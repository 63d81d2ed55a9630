//! The whole router's cost of one read, in process: `GET /api/now/table/interaction/{id}` sent
//! through `api::router` and the journal's layer around it (every layer, the real state, the
//! SQLite database of a bench run) one request at a time on one thread, with no network, no
//! load generator and no other process in between. Steadier than wrk on a shared two-core
//! machine (a few percent between runs rather than 10–15%), so it shows what a change to the
//! layers costs per request; wrk (`bench/ab.sh`) shows what it costs under load
//! (docs/performance.md).
//!
//! ```sh
//! cargo build --release --example stack_cost
//! cp target/bench/<run>/db/bench.db /tmp/stack.db
//! target/release/examples/stack_cost /tmp/stack.db 1000 15000 target/bench/<run>/data/ids.txt
//! ```
//!
//! Arguments: the database (a copy: it is migrated and written), the journal size (0: off),
//! the requests per round, the ids file of the run (`bench/report.py prepare`), and optionally
//! a concurrency: with N > 1, N tasks send the requests on a two-thread runtime, as the server's
//! workers would serve N connections (the per-request figure is then wall time over requests:
//! about half the CPU per request on two cores). Prints µs per request for three rounds, after a
//! warm-up.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use tower::{Layer, ServiceExt};

/// The allocator the server runs with (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !(5..=6).contains(&args.len()) {
        eprintln!("usage: stack_cost DATABASE JOURNAL_SIZE REQUESTS IDS_FILE [CONCURRENCY]");
        std::process::exit(2);
    }
    let concurrency: usize = args.get(5).map_or(1, |c| c.parse().expect("a concurrency"));
    let database = &args[1];
    let journal: usize = args[2].parse().expect("a journal size");
    let requests: usize = args[3].parse().expect("a number of requests");
    let ids: Arc<[String]> = std::fs::read_to_string(&args[4])
        .expect("the ids file")
        .lines()
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect();
    assert!(!ids.is_empty(), "no ids in {}", args[4]);
    let runtime = match concurrency {
        1 => tokio::runtime::Builder::new_current_thread(),
        _ => {
            let mut two = tokio::runtime::Builder::new_multi_thread();
            two.worker_threads(2);
            two
        }
    }
    .enable_all()
    .build()
    .expect("a runtime");
    runtime.block_on(async move {
        let mut config = switchboard::state::Config::new(format!("sqlite://{database}"));
        config.journal_size = journal;
        let state = switchboard::state::AppState::open(config)
            .await
            .expect("the server state");
        // The journal's layer as the server puts it on each connection, around the router.
        let record = switchboard::journal::Record(state.journal.clone());
        let app = record.layer(switchboard::api::router(state));
        let credentials = base64::engine::general_purpose::STANDARD.encode("bench.agent.0:bench");
        let auth: Arc<str> = format!("Basic {credentials}").into();
        let read = move |i: usize| {
            let request =
                Request::get(format!("/api/now/table/interaction/{}", ids[i % ids.len()]))
                    .header("host", "127.0.0.1:8080")
                    .header("authorization", &*auth)
                    .header("accept", "application/json")
                    .header("user-agent", "stack_cost")
                    .body(Body::empty())
                    .expect("a request");
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await.expect("an answer");
                assert_eq!(response.status(), 200);
                axum::body::to_bytes(Body::new(response.into_body()), usize::MAX)
                    .await
                    .expect("the body")
                    .len()
            }
        };
        // `tasks` tasks, each sending every `tasks`-th of `count` requests.
        let run = |count: usize, tasks: usize| {
            let read = read.clone();
            async move {
                let mut running = tokio::task::JoinSet::new();
                for task in 0..tasks {
                    let read = read.clone();
                    running.spawn(async move {
                        for i in (task..count).step_by(tasks) {
                            read(i).await;
                        }
                    });
                }
                running.join_all().await;
            }
        };
        run(2000, concurrency).await;
        for round in 0..3 {
            let started = Instant::now();
            run(requests, concurrency).await;
            let each = started.elapsed().as_secs_f64() * 1e6 / requests as f64;
            println!("journal={journal} round {round}: {each:.2} µs/request");
        }
    });
}
