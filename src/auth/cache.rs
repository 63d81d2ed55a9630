//! A short-lived cache of verified Basic credentials, so steady traffic does not pay an Argon2
//! verification per request.
//!
//! Keys are SHA-256 digests of `user \0 password`; no password is held in memory. Any write to
//! users, roles or grants bumps the epoch, which invalidates every entry at once; entries also
//! expire after a TTL, which bounds staleness should a change happen outside this process.
//!
//! While the cache cannot know whether an entry is still true it is *held* ([`Self::hold`]):
//! it answers nothing and stores nothing. That is the case while an identity change is being
//! committed (between the commit and the invalidation after it, a stale entry could otherwise
//! be served), and, with several nodes, while this node cannot hear the others' changes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::Caller;

pub type Key = [u8; 32];

pub struct CredentialCache {
    entries: Mutex<HashMap<Key, Entry>>,
    epoch: AtomicU64,
    /// Holds in force: while any is, nothing is answered or stored.
    holds: AtomicUsize,
    ttl: Duration,
    capacity: usize,
}

/// A verified credential as the cache keeps it.
#[derive(Debug, Clone)]
pub struct Verified {
    pub caller: Caller,
    /// What the credential was verified against (a user's password hash): the token endpoint
    /// checks, inside the transaction that issues a token, that it still holds.
    pub stamp: Option<Arc<str>>,
}

struct Entry {
    verified: Verified,
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
            holds: AtomicUsize::new(0),
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

    /// Whether the cache is held: it answers and keeps nothing.
    pub fn held(&self) -> bool {
        self.holds.load(Ordering::Acquire) > 0
    }

    pub fn get(&self, key: &Key) -> Option<Caller> {
        self.get_verified(key).map(|v| v.caller)
    }

    /// The cached credential with what it was verified against.
    pub fn get_verified(&self, key: &Key) -> Option<Verified> {
        if self.held() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let found = entries.get(key).filter(|e| {
            e.epoch == self.epoch()
                && e.stored.elapsed() < self.ttl
                && e.until.is_none_or(|until| Instant::now() < until)
        });
        // Registered once: building the labels and finding the metric cost more than the lookup.
        static LOOKUPS: LazyLock<[metrics::Counter; 2]> = LazyLock::new(|| {
            ["miss", "hit"].map(|outcome| {
                metrics::counter!(crate::http::metrics::CREDENTIAL_CACHE, "outcome" => outcome)
            })
        });
        LOOKUPS[usize::from(found.is_some())].increment(1);
        found.map(|e| e.verified.clone())
    }

    /// Stores a verified caller, unless the epoch moved since `epoch` was read.
    pub fn put(&self, key: Key, caller: Caller, epoch: u64) {
        self.put_until(key, caller, epoch, None);
    }

    /// Like [`CredentialCache::put`], for a credential that expires at `until`.
    pub fn put_until(&self, key: Key, caller: Caller, epoch: u64, until: Option<Instant>) {
        let verified = Verified {
            caller,
            stamp: None,
        };
        self.put_verified(key, verified, epoch, until);
    }

    /// Stores a verified credential, unless the epoch moved since `epoch` was read (a change
    /// may have happened after it was checked) or the cache is held.
    pub fn put_verified(&self, key: Key, verified: Verified, epoch: u64, until: Option<Instant>) {
        if self.ttl.is_zero() || self.held() || epoch != self.epoch() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Checked again under the lock: an invalidation may have come in between.
        if self.held() || epoch != self.epoch() {
            return;
        }
        if entries.len() >= self.capacity {
            entries.clear();
        }
        let stored = Instant::now();
        entries.insert(
            key,
            Entry {
                verified,
                epoch,
                stored,
                until,
            },
        );
    }

    /// Forgets every entry: a user, password, role or grant changed.
    pub fn invalidate(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    /// Stops answering and storing until [`Self::release`]; every check that started before
    /// is not stored either.
    pub fn hold(&self) {
        self.holds.fetch_add(1, Ordering::AcqRel);
        self.invalidate();
    }

    /// Ends one [`Self::hold`], forgetting every entry (what was learnt while held may be
    /// stale).
    pub fn release(&self) {
        self.invalidate();
        self.holds.fetch_sub(1, Ordering::AcqRel);
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
    fn a_held_cache_answers_and_keeps_nothing() {
        let c = CredentialCache::new(Duration::from_secs(60), 10);
        let k = CredentialCache::key("u", "p");
        c.put(k, caller(), c.epoch());
        c.hold();
        assert!(c.get(&k).is_none(), "held: nothing is answered");
        c.put(k, caller(), c.epoch());
        assert!(c.get(&k).is_none());
        let during = c.epoch();
        c.release();
        assert!(c.get(&k).is_none(), "nothing stored while held survives");
        c.put(k, caller(), during);
        assert!(
            c.get(&k).is_none(),
            "a check begun while held is not stored"
        );
        c.put(k, caller(), c.epoch());
        assert!(c.get(&k).is_some());
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
