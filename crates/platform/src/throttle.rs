//! Throttling of guesses: failed logins, registrations, and invitation codes tried for
//! families and drawings. Each is counted per client address and (where there is one) per
//! account; past a few free tries within a window, every further failure blocks that key for
//! a backoff that doubles up to a cap, and a blocked key is refused before any work is done
//! (no password is hashed for it). The counters live in this process: with N API nodes behind
//! a load balancer a client gets at most N times the budget, which still turns thousands of
//! guesses a second into a handful a minute.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// One limit: `free` failures within `window` cost nothing; each failure past them blocks the
/// key for `base × 2^(n−1)` (the n-th excess failure), at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Failures allowed within the window before blocking starts.
    pub free: u32,
    /// How long failures are remembered after the last one.
    pub window: Duration,
    /// The first block.
    pub base: Duration,
    /// The longest block.
    pub max: Duration,
}

impl Rule {
    const fn new(free: u32, window_secs: u64, base_secs: u64, max_secs: u64) -> Self {
        Self {
            free,
            window: Duration::from_secs(window_secs),
            base: Duration::from_secs(base_secs),
            max: Duration::from_secs(max_secs),
        }
    }

    fn block_after(&self, failures: u32) -> Option<Duration> {
        let excess = failures.checked_sub(self.free).filter(|e| *e > 0)?;
        let factor = 2u32.saturating_pow((excess - 1).min(30));
        Some(self.base.saturating_mul(factor).min(self.max))
    }
}

/// The throttling settings (`[rate_limits]` in the settings file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failed logins per account. Default 5 free in 15 min, then 2 s doubling to 15 min.
    pub login_per_account: Rule,
    /// Failed logins per client address. Default 20 free in 15 min, then 2 s doubling to 15 min.
    pub login_per_ip: Rule,
    /// Registrations (successful or not) per client address. Default 20 free in 1 h, then
    /// 60 s doubling to 1 h.
    pub register_per_ip: Rule,
    /// Wrong family or drawing invitation codes per account. Default 10 free in 15 min, then
    /// 2 s doubling to 15 min.
    pub join_per_account: Rule,
    /// Wrong invitation codes per client address. Default 30 free in 15 min, then 2 s doubling
    /// to 15 min.
    pub join_per_ip: Rule,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            login_per_account: Rule::new(5, 900, 2, 900),
            login_per_ip: Rule::new(20, 900, 2, 900),
            register_per_ip: Rule::new(20, 3600, 60, 3600),
            join_per_account: Rule::new(10, 900, 2, 900),
            join_per_ip: Rule::new(30, 900, 2, 900),
        }
    }
}

/// What is being tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `POST /auth/login` (and the LittleStudio login).
    Login,
    /// `POST /auth/register` (and the LittleStudio registration).
    Register,
    /// Joining a family or a drawing with an invitation code.
    Join,
}

/// Who is trying: a client address or an account (a username for logins, a user id for joins).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// The client's address.
    Ip(std::net::IpAddr),
    /// The account.
    Account(String),
}

/// Too many failures: try again after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many attempts; try again in {} s", retry_after_secs(*.retry_after))]
pub struct Throttled {
    /// How long the caller must wait.
    pub retry_after: Duration,
}

/// Whole seconds to wait, rounded up, at least 1 (for `Retry-After`).
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    blocked_until: Option<Instant>,
}

/// Keys remembered at most; past this, forgotten entries are dropped first.
const MAX_ENTRIES: usize = 100_000;

/// The per-process failure counters.
#[derive(Debug, Default)]
pub struct Throttle {
    config: ThrottleConfig,
    entries: Mutex<HashMap<(Action, Subject), Entry>>,
}

impl Throttle {
    /// Counters under `config`.
    pub fn new(config: ThrottleConfig) -> Self {
        Self {
            config,
            entries: Mutex::default(),
        }
    }

    fn rule(&self, action: Action, subject: &Subject) -> Rule {
        match (action, subject) {
            (Action::Login, Subject::Account(_)) => self.config.login_per_account,
            (Action::Login, Subject::Ip(_)) => self.config.login_per_ip,
            (Action::Register, _) => self.config.register_per_ip,
            (Action::Join, Subject::Account(_)) => self.config.join_per_account,
            (Action::Join, Subject::Ip(_)) => self.config.join_per_ip,
        }
    }

    /// Refuses when any of `subjects` is blocked for `action`, with the longest wait.
    pub fn check(&self, action: Action, subjects: &[Subject]) -> Result<(), Throttled> {
        let now = Instant::now();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let wait = subjects
            .iter()
            .filter_map(|s| entries.get(&(action, s.clone()))?.blocked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max();
        match wait {
            Some(retry_after) => Err(Throttled { retry_after }),
            None => Ok(()),
        }
    }

    /// Counts a failure (or, for registrations, any attempt) against each of `subjects`.
    pub fn failed(&self, action: Action, subjects: &[Subject]) {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|(action, subject), entry| {
                let window = self.rule(*action, subject).window;
                entry.blocked_until.is_some_and(|until| until > now)
                    || now.duration_since(entry.last_failure) < window
            });
        }
        for subject in subjects {
            let rule = self.rule(action, subject);
            let entry = entries.entry((action, subject.clone())).or_insert(Entry {
                failures: 0,
                last_failure: now,
                blocked_until: None,
            });
            if now.duration_since(entry.last_failure) > rule.window
                && entry.blocked_until.is_none_or(|until| until <= now)
            {
                entry.failures = 0;
            }
            entry.failures = entry.failures.saturating_add(1);
            entry.last_failure = now;
            if let Some(block) = rule.block_after(entry.failures) {
                entry.blocked_until = Some(now + block);
            }
        }
    }

    /// Forgets the failures of `subjects` (a successful login clears its account's count).
    pub fn succeeded(&self, action: Action, subjects: &[Subject]) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        for subject in subjects {
            entries.remove(&(action, subject.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Vec<Subject> {
        vec![Subject::Account("ann".into())]
    }

    #[test]
    fn free_failures_pass_and_later_ones_block_with_doubling_waits() {
        let rule = Rule::new(3, 60, 2, 10);
        assert_eq!(rule.block_after(3), None);
        assert_eq!(rule.block_after(4), Some(Duration::from_secs(2)));
        assert_eq!(rule.block_after(5), Some(Duration::from_secs(4)));
        assert_eq!(rule.block_after(7), Some(Duration::from_secs(10)));
    }

    #[test]
    fn a_blocked_account_is_refused_and_a_success_clears_it() {
        let throttle = Throttle::new(ThrottleConfig::default());
        for _ in 0..5 {
            assert!(throttle.check(Action::Login, &account()).is_ok());
            throttle.failed(Action::Login, &account());
        }
        assert!(throttle.check(Action::Login, &account()).is_ok());
        throttle.failed(Action::Login, &account());
        let refused = throttle
            .check(Action::Login, &account())
            .expect_err("blocked");
        assert_eq!(retry_after_secs(refused.retry_after), 2);
        // Another account and another action are not affected.
        assert!(
            throttle
                .check(Action::Login, &[Subject::Account("bob".into())])
                .is_ok()
        );
        assert!(throttle.check(Action::Join, &account()).is_ok());
        throttle.succeeded(Action::Login, &account());
        assert!(throttle.check(Action::Login, &account()).is_ok());
    }
}
