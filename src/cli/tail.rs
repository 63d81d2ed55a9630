//! `switchboard tail`: a running server's request journal, one line an entry as requests are
//! answered, read from its Server-Sent Events stream (`GET /_switchboard/journal/stream`).

use clap::Args;

use crate::state::StartError;

#[derive(Debug, Args)]
pub struct TailArgs {
    /// The server's base URL.
    #[arg(long, env = "SWITCHBOARD_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An admin's user name (Basic authentication).
    #[arg(long, env = "SWITCHBOARD_ADMIN_USER", default_value = "admin")]
    pub user: String,
    /// That admin's password.
    #[arg(long, env = "SWITCHBOARD_ADMIN_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Only this HTTP method.
    #[arg(long)]
    pub method: Option<String>,
    /// Only paths matching this glob (`*` is any run of characters): `/api/now/table/*`.
    #[arg(long)]
    pub path: Option<String>,
    /// Only this status (`404`) or class (`4xx`).
    #[arg(long)]
    pub status: Option<String>,
    /// Only requests of this authenticated user.
    #[arg(long)]
    pub caller: Option<String>,
    /// Only this API (`table`, `interaction`, ..., `switchboard`).
    #[arg(long)]
    pub api: Option<String>,
    /// Only `inbound` requests or `outbound` deliveries.
    #[arg(long)]
    pub kind: Option<String>,
    /// Only requests no route matched.
    #[arg(long)]
    pub unmatched: bool,
    /// Print each entry's JSON, one a line, instead of a summary.
    #[arg(long)]
    pub json: bool,
}

fn failed(what: impl std::fmt::Display) -> StartError {
    StartError::Client(what.to_string())
}

/// Follows the stream until the server closes it.
pub async fn run(args: TailArgs) -> Result<(), StartError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(failed)?;
    let mut query: Vec<(&str, String)> = Vec::new();
    let filters = [
        ("method", &args.method),
        ("path", &args.path),
        ("status", &args.status),
        ("user", &args.caller),
        ("api", &args.api),
        ("kind", &args.kind),
    ];
    for (name, value) in filters {
        if let Some(v) = value {
            query.push((name, v.clone()));
        }
    }
    if args.unmatched {
        query.push(("unmatched", "true".into()));
    }
    let mut url = format!(
        "{}/_switchboard/journal/stream",
        args.url.trim_end_matches('/')
    );
    if !query.is_empty() {
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&query)
            .finish();
        url = format!("{url}?{encoded}");
    }
    let mut response = client
        .get(&url)
        .basic_auth(&args.user, args.password.as_deref())
        .header(reqwest::header::ACCEPT, "text/event-stream")
        .send()
        .await
        .map_err(|e| failed(format!("could not reach {url}: {e}")))?;
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        return Err(failed(format!("{url} answered {status}: {body}")));
    }
    let mut pending: Vec<u8> = Vec::new();
    let mut event = Event::default();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| failed(format!("the stream broke: {e}")))?
    {
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                std::mem::take(&mut event).show(args.json);
            } else if let Some(name) = line.strip_prefix("event:") {
                event.name = name.trim().to_owned();
            } else if let Some(data) = line.strip_prefix("data:") {
                let data = data.strip_prefix(' ').unwrap_or(data);
                if !event.data.is_empty() {
                    event.data.push('\n');
                }
                event.data.push_str(data);
            }
            // Comments (`:`, the keep-alives) and other fields are ignored.
        }
    }
    Ok(())
}

/// One Server-Sent Event, as its lines arrive.
#[derive(Debug, Default)]
struct Event {
    name: String,
    data: String,
}

impl Event {
    fn show(self, json: bool) {
        match self.name.as_str() {
            "entry" if json => println!("{}", self.data),
            "entry" => match serde_json::from_str::<serde_json::Value>(&self.data) {
                Ok(entry) => println!("{}", summary(&entry)),
                Err(_) => println!("{}", self.data),
            },
            "lagged" => eprintln!("(fell behind: {} entries not shown)", self.data),
            _ => {}
        }
    }
}

/// `time method path status duration user api`, `-` for what an entry lacks.
fn summary(entry: &serde_json::Value) -> String {
    let text = |name: &str| match &entry[name] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    let mut path = text("path");
    if let Some(query) = entry["query"].as_str() {
        path = format!("{path}?{query}");
    }
    let duration = entry["duration_ms"]
        .as_f64()
        .map_or("-".to_owned(), |ms| format!("{ms:.1}ms"));
    let api = match entry["kind"].as_str() {
        Some("outbound") => format!("outbound:{}", text("provider")),
        _ => text("api"),
    };
    format!(
        "{} {} {} {} {duration} {} {api}",
        text("time"),
        text("method"),
        path,
        text("status"),
        text("user"),
    )
}
