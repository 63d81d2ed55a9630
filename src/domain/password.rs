//! Argon2id password hashing, always off the async runtime (it takes tens of milliseconds).
//!
//! Hashes run on a small pool of their own, one thread per core: a burst of logins (a client
//! opening 64 connections at once) queues there instead of occupying the runtime's blocking
//! threads, and memory stays bounded. Each hash takes 19 MiB; spread over many short-lived
//! threads, the allocator keeps such buffers per thread and the resident size balloons (265 MB
//! measured with glibc after a burst of 64 logins), while a fixed few threads reuse theirs.

use std::sync::mpsc::{self, Sender};
use std::sync::{LazyLock, Mutex};

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use tokio::sync::oneshot;

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads, fed through one queue.
static POOL: LazyLock<Mutex<Sender<Job>>> = LazyLock::new(|| {
    let (jobs, queue) = mpsc::channel::<Job>();
    let queue = std::sync::Arc::new(Mutex::new(queue));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    for i in 0..threads {
        let queue = queue.clone();
        std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                loop {
                    let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => break,
                    }
                }
            })
            .expect("starting a hashing thread succeeds");
    }
    Mutex::new(jobs)
});

/// Runs `work` on the hashing pool and awaits its result.
async fn on_pool<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, HashError> {
    let (done, result) = oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = done.send(work());
    });
    POOL.lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(job)
        .map_err(|e| HashError(e.to_string()))?;
    result.await.map_err(|e| HashError(e.to_string()))
}

/// Hashes a secret as an Argon2id PHC string (`$argon2id$...`).
pub async fn hash(secret: String) -> Result<String, HashError> {
    on_pool(move || {
        Argon2::default()
            .hash_password(secret.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| HashError(e.to_string()))
    })
    .await?
}

/// A hash of a random secret, verified against when there is no real hash, so that an unknown
/// user name costs as much time as a wrong password and timing does not tell them apart.
static DUMMY: LazyLock<String> = LazyLock::new(|| {
    let secret = crate::model::value::new_sys_id();
    Argon2::default()
        .hash_password(secret.as_bytes())
        .expect("hashing a random secret succeeds")
        .to_string()
});

/// Whether `secret` matches `hash`; with no hash, spends the same time and answers false.
pub async fn verify(secret: String, hash: Option<String>) -> bool {
    on_pool(move || {
        let real = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY.clone());
        let matches = Argon2::default()
            .verify_password(secret.as_bytes(), hash.as_str())
            .is_ok();
        real && matches
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_only_the_right_secret() {
        let h = hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse".into(), Some(h.clone())).await);
        assert!(!verify("wrong".into(), Some(h)).await);
        assert!(!verify("anything".into(), None).await);
        assert!(!verify("x".into(), Some("not a hash".into())).await);
    }

    #[tokio::test]
    async fn many_at_once_all_finish() {
        let h = hash("pw".into()).await.unwrap();
        let checks: Vec<_> = (0..8)
            .map(|i| {
                tokio::spawn(verify(
                    if i % 2 == 0 { "pw" } else { "no" }.into(),
                    Some(h.clone()),
                ))
            })
            .collect();
        for (i, check) in checks.into_iter().enumerate() {
            assert_eq!(check.await.unwrap(), i % 2 == 0);
        }
    }
}
