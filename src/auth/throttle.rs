//! Login throttling: failed logins are counted per account (a user name, or an OAuth client id)
//! and per client address. Past a limit, further attempts are refused (429 with `Retry-After`)
//! before anything is looked up or hashed, so a flood of guesses costs no Argon2 time.
//!
//! A lockout starts at [`LoginLimits::lockout`] and doubles with every failure that follows it,
//! up to [`LoginLimits::window`]; a key with neither a failure nor a lockout for a whole window
//! is forgotten, and a successful login forgets its account at once. Nothing is locked for ever: once a lockout
//! ends, the right password works again.
//!
//! Memory is bounded: each tracker keeps at most [`CAPACITY`] keys (account keys are SHA-256
//! digests, so a long user name costs no more than a short one) and evicts the least recently
//! seen when full.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Keys each tracker (accounts, addresses) holds at most.
pub const CAPACITY: usize = 10_000;

/// When failed logins lock an account or an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failures for one account within `window` that lock it (0: never).
    pub per_account: u32,
    /// Failures from one address within `window` that lock it (0: never).
    pub per_address: u32,
    /// How long failures are remembered, and the longest lockout.
    pub window: Duration,
    /// The first lockout; each further failure while remembered doubles it, up to `window`.
    pub lockout: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            per_account: 5,
            per_address: 50,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(30),
        }
    }
}

impl LoginLimits {
    /// No throttling at all.
    pub fn off() -> Self {
        LoginLimits {
            per_account: 0,
            per_address: 0,
            ..Self::default()
        }
    }
}

/// Who is logging in: a user (Basic, or the OAuth password grant), an OAuth application, or
/// an application's JWT bearer assertions (counted apart from its secret: the secret's
/// success must not forget the assertions' failures). None shares a counter.
#[derive(Debug, Clone, Copy)]
pub enum Account<'a> {
    User(&'a str),
    Client(&'a str),
    Assertion(&'a str),
}

impl Account<'_> {
    fn key(&self) -> [u8; 32] {
        let (domain, name) = match self {
            Account::User(name) => (b"user\0", name),
            Account::Client(name) => (b"clnt\0", name),
            Account::Assertion(name) => (b"jwtb\0", name),
        };
        let mut h = Sha256::new();
        h.update(domain);
        h.update(name.as_bytes());
        h.finalize().into()
    }

    /// The name as a log shows it: at most 64 characters.
    pub fn name(&self) -> &str {
        let name = match self {
            Account::User(name) | Account::Client(name) | Account::Assertion(name) => name,
        };
        match name.char_indices().nth(64) {
            Some((end, _)) => &name[..end],
            None => name,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Account::User(_) => "user",
            Account::Client(_) => "OAuth client",
            Account::Assertion(_) => "OAuth JWT bearer assertion",
        }
    }
}

/// Why an attempt is refused, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lockout {
    /// The account; `kind` is `user` or `OAuth client`.
    Account {
        kind: &'static str,
        wait: Duration,
    },
    Address(Duration),
}

impl Lockout {
    pub fn retry_after(&self) -> Duration {
        match self {
            Lockout::Account { wait, .. } | Lockout::Address(wait) => *wait,
        }
    }

    /// What the client is told (the 429's detail): which lock, and for how long.
    pub fn detail(&self) -> String {
        let seconds = crate::http::error::retry_after_seconds(self.retry_after());
        let whose = match self {
            Lockout::Account { kind, .. } => format!("for this {kind}"),
            Lockout::Address(_) => "from this address".to_owned(),
        };
        let unit = if seconds == 1 { "second" } else { "seconds" };
        format!("Too many failed login attempts {whose}; retry in {seconds} {unit}")
    }
}

pub struct LoginThrottle {
    limits: LoginLimits,
    accounts: Keys<[u8; 32]>,
    addresses: Keys<IpAddr>,
}

impl LoginThrottle {
    pub fn new(limits: LoginLimits) -> Self {
        LoginThrottle {
            limits,
            accounts: Keys::new(),
            addresses: Keys::new(),
        }
    }

    /// Whether an attempt may be checked at all: refused while its account or its address is
    /// locked. Refused attempts are not failures (they verified nothing) and extend nothing.
    pub fn admit(&self, account: Account<'_>, from: Option<IpAddr>) -> Result<(), Lockout> {
        let now = Instant::now();
        if self.limits.per_address > 0
            && let Some(ip) = from
            && let Some(left) = self.addresses.locked(|| ip, now, self.limits.window)
        {
            return Err(Lockout::Address(left));
        }
        if self.limits.per_account > 0
            && let Some(left) = self
                .accounts
                .locked(|| account.key(), now, self.limits.window)
        {
            return Err(Lockout::Account {
                kind: account.kind(),
                wait: left,
            });
        }
        Ok(())
    }

    /// Counts a failed attempt against its account and its address; logs a lockout it starts.
    pub fn failed(&self, account: Account<'_>, from: Option<IpAddr>) {
        let now = Instant::now();
        if self.limits.per_account > 0
            && let Some(lockout) = self
                .accounts
                .with(|t| t.fail(account.key(), now, self.limits.per_account, &self.limits))
        {
            tracing::warn!(
                account = ?account.name(),
                kind = account.kind(),
                address = %show_address(from),
                seconds = lockout.as_secs(),
                "login locked: too many failed attempts for this account"
            );
        }
        if self.limits.per_address > 0
            && let Some(ip) = from
            && let Some(lockout) = self
                .addresses
                .with(|t| t.fail(ip, now, self.limits.per_address, &self.limits))
        {
            tracing::warn!(
                address = %ip,
                seconds = lockout.as_secs(),
                "login locked: too many failed attempts from this address"
            );
        }
    }

    /// A successful login forgets its account's failures (not its address's: an attacker with
    /// one valid account must not be able to clear the address's count).
    pub fn succeeded(&self, account: Account<'_>) {
        if self.limits.per_account > 0 && !self.accounts.is_empty() {
            self.accounts.with(|t| t.forget(&account.key()));
        }
    }
}

/// An address as a log shows it.
pub fn show_address(from: Option<IpAddr>) -> String {
    from.map_or_else(|| "-".to_owned(), |ip| ip.to_string())
}

/// A tracker behind a lock, with its size readable without the lock: while nothing is tracked
/// (the usual case), a login's checks take no lock and compute no digest.
struct Keys<K> {
    tracker: Mutex<Tracker<K>>,
    len: AtomicUsize,
}

impl<K: Hash + Eq + Copy> Keys<K> {
    fn new() -> Self {
        Keys {
            tracker: Mutex::new(Tracker::new(CAPACITY)),
            len: AtomicUsize::new(0),
        }
    }

    fn is_empty(&self) -> bool {
        self.len.load(Ordering::Acquire) == 0
    }

    fn with<R>(&self, f: impl FnOnce(&mut Tracker<K>) -> R) -> R {
        let mut tracker = self.tracker.lock().unwrap_or_else(|e| e.into_inner());
        let result = f(&mut tracker);
        self.len.store(tracker.entries.len(), Ordering::Release);
        result
    }

    /// How long the key `key()` makes stays locked, if it is.
    fn locked(&self, key: impl FnOnce() -> K, now: Instant, window: Duration) -> Option<Duration> {
        if self.is_empty() {
            return None;
        }
        self.with(|t| t.locked(&key(), now, window))
    }
}

/// Failures per key.
struct Tracker<K> {
    entries: HashMap<K, Entry>,
    capacity: usize,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Failures since `first` (while not yet locked).
    failures: u32,
    first: Instant,
    last: Instant,
    /// Lockouts so far: once locked, every further failure locks again, twice as long.
    lockouts: u32,
    locked_until: Option<Instant>,
}

impl Entry {
    fn new(now: Instant) -> Self {
        Entry {
            failures: 0,
            first: now,
            last: now,
            lockouts: 0,
            locked_until: None,
        }
    }

    /// Nothing worth remembering: no failure and no lockout for a whole window.
    fn stale(&self, now: Instant, window: Duration) -> bool {
        let quiet_since = self
            .locked_until
            .map_or(self.last, |until| until.max(self.last));
        now.saturating_duration_since(quiet_since) >= window
    }
}

impl<K: Hash + Eq + Copy> Tracker<K> {
    fn new(capacity: usize) -> Self {
        Tracker {
            entries: HashMap::new(),
            capacity,
        }
    }

    /// How long `key` stays locked, if it is. A key found stale is dropped on the way.
    fn locked(&mut self, key: &K, now: Instant, window: Duration) -> Option<Duration> {
        let entry = self.entries.get(key)?;
        if entry.stale(now, window) {
            self.entries.remove(key);
            return None;
        }
        let until = entry.locked_until?;
        (now < until).then(|| until - now)
    }

    /// Counts a failure; returns the lockout it starts, if any.
    fn fail(&mut self, key: K, now: Instant, limit: u32, limits: &LoginLimits) -> Option<Duration> {
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.make_room(now, limits.window);
        }
        let entry = self.entries.entry(key).or_insert_with(|| Entry::new(now));
        if entry.stale(now, limits.window) {
            *entry = Entry::new(now);
        } else if entry.lockouts == 0 && now.duration_since(entry.first) >= limits.window {
            // A new window of counting.
            entry.failures = 0;
            entry.first = now;
        }
        entry.last = now;
        entry.failures += 1;
        if entry.lockouts == 0 && entry.failures < limit {
            return None;
        }
        let doubling = 2u32.saturating_pow(entry.lockouts);
        let lockout = limits
            .lockout
            .saturating_mul(doubling)
            .min(limits.window.max(limits.lockout));
        entry.lockouts += 1;
        entry.locked_until = Some(now + lockout);
        Some(lockout)
    }

    fn forget(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// Drops stale entries; if none were, the least recently seen one.
    fn make_room(&mut self, now: Instant, window: Duration) {
        self.entries.retain(|_, e| !e.stale(now, window));
        if self.entries.len() >= self.capacity
            && let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last)
                .map(|(k, _)| *k)
        {
            self.entries.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> LoginLimits {
        LoginLimits {
            per_account: 3,
            per_address: 5,
            window: Duration::from_secs(100),
            lockout: Duration::from_secs(10),
        }
    }

    #[test]
    fn locks_after_the_limit_and_doubles_up_to_the_window() {
        let mut t = Tracker::new(10);
        let l = limits();
        let start = Instant::now();
        assert_eq!(t.fail(1, start, 3, &l), None);
        assert_eq!(t.fail(1, start, 3, &l), None);
        assert_eq!(t.fail(1, start, 3, &l), Some(Duration::from_secs(10)));
        assert_eq!(t.locked(&1, start, l.window), Some(Duration::from_secs(10)));
        // Every failure after a lockout locks again, twice as long, capped at the window.
        let mut now = start;
        for expected in [20, 40, 80, 100, 100] {
            now += Duration::from_secs(11);
            assert_eq!(t.fail(1, now, 3, &l), Some(Duration::from_secs(expected)));
            now += Duration::from_secs(expected);
            assert_eq!(t.locked(&1, now, l.window), None, "a lockout ends");
        }
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_window() {
        let mut t = Tracker::new(10);
        let l = limits();
        let start = Instant::now();
        t.fail(1, start, 3, &l);
        t.fail(1, start, 3, &l);
        t.fail(1, start, 3, &l);
        // The lockout ends, then a window passes without failures: a fresh start.
        let later = start + Duration::from_secs(10 + 100);
        assert_eq!(t.fail(1, later, 3, &l), None);
        assert_eq!(t.fail(1, later, 3, &l), None);
    }

    #[test]
    fn only_failures_within_one_window_add_up() {
        let mut t = Tracker::new(10);
        let l = limits();
        let start = Instant::now();
        // Two failures, then two more just over a window after the first: no lockout.
        t.fail(1, start, 3, &l);
        t.fail(1, start + Duration::from_secs(60), 3, &l);
        assert_eq!(t.fail(1, start + Duration::from_secs(101), 3, &l), None);
        assert_eq!(t.fail(1, start + Duration::from_secs(102), 3, &l), None);
        assert!(t.fail(1, start + Duration::from_secs(103), 3, &l).is_some());
    }

    #[test]
    fn capacity_is_bounded_and_the_least_recently_seen_goes_first() {
        let mut t = Tracker::new(3);
        let l = limits();
        let start = Instant::now();
        for k in 0..3 {
            t.fail(k, start + Duration::from_secs(k as u64), 3, &l);
        }
        t.fail(0, start + Duration::from_secs(5), 3, &l);
        t.fail(9, start + Duration::from_secs(6), 3, &l);
        assert_eq!(t.entries.len(), 3);
        assert!(t.entries.contains_key(&0) && t.entries.contains_key(&9));
        assert!(
            !t.entries.contains_key(&1),
            "the least recently seen was evicted"
        );
    }

    #[test]
    fn accounts_and_addresses_lock_separately_and_success_resets_the_account() {
        let throttle = LoginThrottle::new(limits());
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..2 {
            throttle.failed(Account::User("ann"), Some(ip));
        }
        throttle.succeeded(Account::User("ann"));
        for _ in 0..2 {
            throttle.failed(Account::User("ann"), Some(ip));
        }
        assert!(throttle.admit(Account::User("ann"), Some(ip)).is_ok());
        throttle.failed(Account::User("ann"), Some(other));
        assert!(matches!(
            throttle.admit(Account::User("ann"), Some(other)),
            Err(Lockout::Account { kind: "user", .. })
        ));
        // A user and a client of the same name do not share a count.
        assert!(throttle.admit(Account::Client("ann"), Some(other)).is_ok());
        // Five failures from one address lock it for every account.
        throttle.failed(Account::User("bob"), Some(ip));
        assert!(matches!(
            throttle.admit(Account::User("carl"), Some(ip)),
            Err(Lockout::Address(_))
        ));
        assert!(throttle.admit(Account::User("carl"), Some(other)).is_ok());
    }

    #[test]
    fn zero_limits_turn_throttling_off() {
        let throttle = LoginThrottle::new(LoginLimits::off());
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..100 {
            throttle.failed(Account::User("ann"), Some(ip));
        }
        assert!(throttle.admit(Account::User("ann"), Some(ip)).is_ok());
    }

    #[test]
    fn long_names_are_cut_for_logs() {
        let long = "é".repeat(1000);
        assert_eq!(Account::User(&long).name().chars().count(), 64);
        assert_eq!(Account::User("ann").name(), "ann");
    }
}
