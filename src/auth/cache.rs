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

    pub fn key(user: &str, password: &str) -> Key {
        let mut h = Sha256::new();
        h.update(user.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// The current epoch; read it before loading a user, and store with it.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub fn get(&self, key: &Key) -> Option<Caller> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let e = entries.get(key)?;
        (e.epoch == self.epoch() && e.stored.elapsed() < self.ttl).then(|| e.caller.clone())
    }

    /// Stores a verified caller, unless the epoch moved since `epoch` was read.
    pub fn put(&self, key: Key, caller: Caller, epoch: u64) {
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
    fn entries_expire() {
        let c = CredentialCache::new(Duration::from_millis(0), 10);
        let k = CredentialCache::key("u", "p");
        c.put(k, caller(), c.epoch());
        assert!(c.get(&k).is_none());
    }
}
