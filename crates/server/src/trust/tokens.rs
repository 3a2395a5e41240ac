//! Verified bearer tokens, remembered for a moment: a client sends the same token with every
//! request, and checking its signature and parsing its claims again each time is work whose
//! answer cannot change within a second — except by the clock, so the expiry is checked again
//! on every use, exactly as the verifier checks it.
//!
//! The caller resolved from the token (its policy-compiled access filter, its break-glass
//! list, a patient's records) is kept beside it for the same second: the filter's clock is
//! set afresh for each request (see `http::request::caller_ctx`), and creating a break-glass
//! drops the user's callers at once, so what can be a second old is only a change made
//! elsewhere (an identity link, a grant ending).
use super::Caller;
use lantern_auth::{Principal, LEEWAY_SECONDS};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a verified token's principal is reused.
pub(crate) const TOKEN_TTL: Duration = Duration::from_secs(1);
/// Past this many tokens the memory is cleared (at worst a token is verified again).
const MAX_TOKENS: usize = 10_000;

/// See [`Tokens::remembered`].
pub(crate) enum Remembered {
    Caller(Arc<Caller>),
    Principal(Box<Principal>),
}

#[derive(Default)]
pub(crate) struct Tokens {
    seen: Mutex<HashMap<String, Seen>>,
}

struct Seen {
    at: Instant,
    principal: Principal,
    caller: Option<(Instant, Arc<Caller>)>,
}

impl Tokens {
    /// What is remembered of `header` (the whole `Authorization` value), in one lookup: nothing
    /// unless it was verified less than [`TOKEN_TTL`] ago and has not expired by `now` (seconds
    /// since 1970); then the caller resolved from it less than [`TOKEN_TTL`] ago, or else its
    /// principal.
    pub(crate) fn remembered(&self, header: &str, now: i64) -> Option<Remembered> {
        let seen = self.seen.lock().ok()?;
        let s = seen.get(header)?;
        let p = &s.principal;
        if s.at.elapsed() >= TOKEN_TTL || now > p.expires.saturating_add(LEEWAY_SECONDS) {
            return None;
        }
        Some(match &s.caller {
            Some((at, c)) if at.elapsed() < TOKEN_TTL => Remembered::Caller(c.clone()),
            _ => Remembered::Principal(Box::new(p.clone())),
        })
    }

    /// Remembers the caller resolved for a remembered token.
    pub(crate) fn put_caller(&self, header: &str, c: &Arc<Caller>) {
        let Ok(mut seen) = self.seen.lock() else { return };
        if let Some(s) = seen.get_mut(header) {
            s.caller = Some((Instant::now(), c.clone()));
        }
    }

    /// Forgets the resolved callers of `user` (their break-glass list changed).
    pub(crate) fn forget_callers_of(&self, user: &str) {
        let Ok(mut seen) = self.seen.lock() else { return };
        for s in seen.values_mut() {
            if s.caller.as_ref().is_some_and(|(_, c)| c.requester.user == user) {
                s.caller = None;
            }
        }
    }

    /// Remembers a principal its token was just verified to.
    pub(crate) fn put(&self, header: &str, p: &Principal) {
        let Ok(mut seen) = self.seen.lock() else { return };
        if seen.len() >= MAX_TOKENS {
            seen.retain(|_, s| s.at.elapsed() < TOKEN_TTL);
            if seen.len() >= MAX_TOKENS {
                seen.clear();
            }
        }
        seen.insert(header.to_string(), Seen { at: Instant::now(), principal: p.clone(), caller: None });
    }
}

/// Seconds since 1970, as the verifier counts them.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lantern_auth::{DevClaims, DevIssuer, Verifier};

    fn principal() -> Principal {
        let dir = std::env::temp_dir().join(format!("lantern-tokens-{}", std::process::id()));
        let dev = DevIssuer::open(&dir).unwrap();
        let token = dev.issue(&DevClaims::user("dr-a", "RVJ", "ae-doctor").unwrap(), Duration::from_secs(60));
        Verifier::dev_only(&dev).verify(&token).unwrap()
    }

    fn subject(t: &Tokens, header: &str, now: i64) -> Option<String> {
        match t.remembered(header, now)? {
            Remembered::Principal(p) => Some(p.subject),
            Remembered::Caller(c) => Some(c.principal.subject.clone()),
        }
    }

    #[test]
    fn remembers_a_token_until_it_expires() {
        let t = Tokens::default();
        let p = principal();
        let now = unix_now();
        assert!(subject(&t, "Bearer x", now).is_none());
        t.put("Bearer x", &p);
        assert_eq!(subject(&t, "Bearer x", now), Some("dr-a".into()));
        assert!(subject(&t, "Bearer y", now).is_none(), "only the same token");
        assert!(subject(&t, "Bearer x", p.expires + LEEWAY_SECONDS).is_some());
        assert!(
            subject(&t, "Bearer x", p.expires + LEEWAY_SECONDS + 1).is_none(),
            "expired, as the verifier says"
        );
    }

    #[test]
    fn forgets_after_the_ttl() {
        let t = Tokens::default();
        t.put("Bearer x", &principal());
        std::thread::sleep(TOKEN_TTL + Duration::from_millis(50));
        assert!(subject(&t, "Bearer x", unix_now()).is_none());
    }
}
