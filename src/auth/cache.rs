//! A short-lived cache of verified Basic credentials, so steady traffic does not pay an Argon2
//! verification per request.
//!
//! Keys are SHA-256 digests of `user \0 password`; no password is held in memory. Any write to
//! users, roles or grants bumps the epoch, which invalidates every entry at once; entries also
//! expire after a TTL, which bounds staleness should a change happen outside this process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::Caller;

pub type Key = [u8; 32];

pub struct CredentialCache {
    entries: Mutex<HashMap<Key, Entry>>,
    epoch: AtomicU64,
    ttl: Duration,
    capacity: usize,
}

struct Entry {
    caller: Caller,
    epoch: u64,
    stored: Instant,
    /// When the credential itself expires (an OAuth token), if sooner than the TTL.
    until: Option<Instant>,
}

impl CredentialCache {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        CredentialCache {
            entries: Mutex::new(HashMap::new()),
            epoch: AtomicU64::new(0),
            ttl,
            capacity,
        }
    }

    /// The key of a Basic credential.
    pub fn key(user: &str, password: &str) -> Key {
        let mut h = Sha256::new();
        h.update(b"basic\0");
        h.update(user.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// The key of a bearer token (a separate domain: no Basic credential shares it).
    pub fn bearer_key(token: &str) -> Key {
        let mut h = Sha256::new();
        h.update(b"bearer\0");
        h.update(token.as_bytes());
        h.finalize().into()
    }

    /// The current epoch; read it before loading a user, and store with it.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub fn get(&self, key: &Key) -> Option<Caller> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let e = entries.get(key)?;
        let fresh = e.epoch == self.epoch()
            && e.stored.elapsed() < self.ttl
            && e.until.is_none_or(|until| Instant::now() < until);
        fresh.then(|| e.caller.clone())
    }

    /// Stores a verified caller, unless the epoch moved since `epoch` was read.
    pub fn put(&self, key: Key, caller: Caller, epoch: u64) {
        self.put_until(key, caller, epoch, None);
    }

    /// Like [`CredentialCache::put`], for a credential that expires at `until`.
    pub fn put_until(&self, key: Key, caller: Caller, epoch: u64, until: Option<Instant>) {
        if self.ttl.is_zero() || epoch != self.epoch() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.capacity {
            entries.clear();
        }
        let stored = Instant::now();
        entries.insert(
            key,
            Entry {
                caller,
                epoch,
                stored,
                until,
            },
        );
    }

    /// Forgets every entry: a user, password, role or grant changed.
    pub fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Caller {
        Caller {
            sys_id: "1".into(),
            user_name: "u".into(),
            roles: String::new(),
        }
    }

    #[test]
    fn hits_until_invalidated() {
        let c = CredentialCache::new(Duration::from_secs(60), 10);
        let k = CredentialCache::key("u", "p");
        assert_ne!(k, CredentialCache::key("u", "q"));
        c.put(k, caller(), c.epoch());
        assert!(c.get(&k).is_some());
        c.invalidate();
        assert!(c.get(&k).is_none());
    }

    #[test]
    fn a_verification_racing_an_invalidation_is_not_stored() {
        let c = CredentialCache::new(Duration::from_secs(60), 10);
        let k = CredentialCache::key("u", "p");
        let before = c.epoch();
        c.invalidate();
        c.put(k, caller(), before);
        assert!(c.get(&k).is_none());
    }

    #[test]
    fn basic_and_bearer_keys_never_collide() {
        assert_ne!(
            CredentialCache::key("bearer", "t"),
            CredentialCache::bearer_key("t")
        );
    }

    #[test]
    fn an_entry_ends_with_its_credential() {
        let c = CredentialCache::new(Duration::from_secs(60), 10);
        let k = CredentialCache::bearer_key("t");
        c.put_until(k, caller(), c.epoch(), Some(Instant::now()));
        assert!(c.get(&k).is_none());
    }

    #[test]
    fn entries_expire() {
        let c = CredentialCache::new(Duration::from_millis(0), 10);
        let k = CredentialCache::key("u", "p");
        c.put(k, caller(), c.epoch());
        assert!(c.get(&k).is_none());
    }
}
