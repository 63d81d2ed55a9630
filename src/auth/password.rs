//! Argon2id password hashing, always off the async runtime (it takes tens of milliseconds).

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes a secret as an Argon2id PHC string (`$argon2id$...`).
pub async fn hash(secret: String) -> Result<String, HashError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(secret.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| HashError(e.to_string()))
    })
    .await
    .map_err(|e| HashError(e.to_string()))?
}

/// A hash of a random secret, verified against when there is no real hash, so that an unknown
/// user name costs as much time as a wrong password and timing does not tell them apart.
static DUMMY: LazyLock<String> = LazyLock::new(|| {
    let secret = crate::record::new_sys_id();
    Argon2::default()
        .hash_password(secret.as_bytes())
        .expect("hashing a random secret succeeds")
        .to_string()
});

/// Whether `secret` matches `hash`; with no hash, spends the same time and answers false.
pub async fn verify(secret: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
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
}
