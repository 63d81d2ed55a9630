//! The real `switchboard` binary as a test's server: started on a free port, stopped by signal.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A `switchboard serve` process.
pub struct Binary {
    child: Child,
    /// `http://ADDR` (`https://` with TLS), from the `listening on` line.
    pub base: String,
    stdout: Receiver<String>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Binary {
    /// Starts `serve --listen 127.0.0.1:0 --database DATABASE ARGS...` with only the given
    /// `SWITCHBOARD_*` variables (none inherited), and waits for its address.
    pub fn serve(database: &str, args: &[&str], env: &[(&str, &str)]) -> Binary {
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("SWITCHBOARD_")) {
            command.env_remove(name);
        }
        command.envs(env.iter().copied());
        let mut child = command.spawn().expect("start switchboard");
        let stdout = lines_of(child.stdout.take().unwrap());
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let collected = stderr.clone();
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            collected
                .lock()
                .unwrap()
                .extend(text.lines().map(str::to_owned));
        });
        let first = stdout
            .recv_timeout(Duration::from_secs(120))
            .expect("the server printed its address");
        let base = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
            .to_owned();
        Binary {
            child,
            base,
            stdout,
            stderr,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The next line the server prints on stdout, if one comes within `wait`.
    pub fn next_line(&self, wait: Duration) -> Option<String> {
        self.stdout.recv_timeout(wait).ok()
    }

    /// What the server wrote on stderr; complete once it has exited.
    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name}");
    }

    /// Waits (up to 10 s) for the process to exit.
    pub fn wait(&mut self) -> ExitStatus {
        for _ in 0..400 {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the stderr reader take the last lines.
                std::thread::sleep(Duration::from_millis(50));
                return status;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "the server did not stop within 10 s; its log so far:\n{}",
            self.stderr().join("\n")
        );
    }

    /// SIGTERM, and a clean exit.
    pub fn stop(mut self) {
        self.signal("TERM");
        let status = self.wait();
        assert!(
            status.success(),
            "exit after SIGTERM: {status}; its log:\n{}",
            self.stderr().join("\n")
        );
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn lines_of(stream: impl Read + Send + 'static) -> Receiver<String> {
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    received
}
