//! Verified bearer tokens, remembered for a moment: a client sends the same token with every
//! request, and checking its signature and parsing its claims again each time is work whose
//! answer cannot change within a second — except by the clock, so the expiry is checked again
//! on every use, exactly as the verifier checks it.
use lantern_auth::{Principal, LEEWAY_SECONDS};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a verified token's principal is reused.
pub(crate) const TOKEN_TTL: Duration = Duration::from_secs(1);
/// Past this many tokens the memory is cleared (at worst a token is verified again).
const MAX_TOKENS: usize = 10_000;

#[derive(Default)]
pub(crate) struct Tokens {
    seen: Mutex<HashMap<String, (Instant, Principal)>>,
}

impl Tokens {
    /// The principal of `header` (the whole `Authorization` value) if it was verified less than
    /// [`TOKEN_TTL`] ago and has not expired by `now` (seconds since 1970).
    pub(crate) fn get(&self, header: &str, now: i64) -> Option<Principal> {
        let seen = self.seen.lock().ok()?;
        let (at, p) = seen.get(header)?;
        (at.elapsed() < TOKEN_TTL && now <= p.expires.saturating_add(LEEWAY_SECONDS)).then(|| p.clone())
    }

    /// Remembers a principal its token was just verified to.
    pub(crate) fn put(&self, header: &str, p: &Principal) {
        let Ok(mut seen) = self.seen.lock() else { return };
        if seen.len() >= MAX_TOKENS {
            seen.retain(|_, (at, _)| at.elapsed() < TOKEN_TTL);
            if seen.len() >= MAX_TOKENS {
                seen.clear();
            }
        }
        seen.insert(header.to_string(), (Instant::now(), p.clone()));
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

    #[test]
    fn remembers_a_token_until_it_expires() {
        let t = Tokens::default();
        let p = principal();
        let now = unix_now();
        assert!(t.get("Bearer x", now).is_none());
        t.put("Bearer x", &p);
        assert_eq!(t.get("Bearer x", now).map(|q| q.subject), Some("dr-a".into()));
        assert!(t.get("Bearer y", now).is_none(), "only the same token");
        assert!(t.get("Bearer x", p.expires + LEEWAY_SECONDS).is_some());
        assert!(t.get("Bearer x", p.expires + LEEWAY_SECONDS + 1).is_none(), "expired, as the verifier says");
    }

    #[test]
    fn forgets_after_the_ttl() {
        let t = Tokens::default();
        t.put("Bearer x", &principal());
        std::thread::sleep(TOKEN_TTL + Duration::from_millis(50));
        assert!(t.get("Bearer x", unix_now()).is_none());
    }
}
