//! `lantern token`: print a bearer token signed by Lantern's development issuer, whose secret is
//! `DIR/auth/dev-issuer.key` (created on first use). `lantern serve` on the same data directory
//! trusts these tokens unless `[auth] dev_issuer = false`.
//!
//! ```text
//! lantern token --system
//! lantern token --user dr-jones --org A81001 --role gp [--purpose emergency]
//! lantern token --patient 9434765919
//! lantern token --feed pas-adt --org RR8
//! ```
//!
//! Only the token and a newline go to stdout, so `TOKEN=$(lantern token --system)` works.
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use lantern_auth::{DevClaims, DevIssuer, Purpose};

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("who").required(true).args(["system", "user", "patient", "feed"])))]
pub(crate) struct Args {
    /// Data directory (as for `serve`); the issuer's key lives in DIR/auth/.
    #[arg(long, default_value = "./lantern-data")]
    data: PathBuf,
    /// Full system access for tools (scope system/*.cruds).
    #[arg(long)]
    system: bool,
    /// A user id; needs --org and --role (scope user/*.cruds, purpose TREAT).
    #[arg(long, value_name = "ID", requires_all = ["org", "role"])]
    user: Option<String>,
    /// A patient, by NHS number (scope patient/*.rs, purpose PATRQT).
    #[arg(long, value_name = "NHSNUMBER")]
    patient: Option<String>,
    /// A feed id; needs --org (scope system/*.cu: writes only).
    #[arg(long, value_name = "ID", requires = "org")]
    feed: Option<String>,
    /// ODS code of the user's or feed's organisation.
    #[arg(long, value_name = "ODS")]
    org: Option<String>,
    /// The user's role, e.g. gp, ae-doctor, nurse, social-worker, privacy-officer, admin.
    #[arg(long, requires = "user")]
    role: Option<String>,
    /// Purpose of use: TREAT, ETREAT, PATRQT, HOPERAT, HRESCH, PUBHLTH, or direct-care,
    /// emergency, patient-access, secondary-use.
    #[arg(long, value_name = "P")]
    purpose: Option<String>,
    /// Display name (`name` claim).
    #[arg(long)]
    name: Option<String>,
    /// SMART scopes instead of the default, e.g. "user/Observation.rs user/Patient.r".
    #[arg(long)]
    scope: Option<String>,
    /// Lifetime: a number with s, m, h or d, e.g. 90s, 30m, 8h, 7d.
    #[arg(long, default_value = "8h", value_parser = parse_ttl)]
    ttl: Duration,
}

pub(crate) fn run(a: Args) -> anyhow::Result<()> {
    let claims = claims(&a)?;
    let key = DevIssuer::key_path(&a.data);
    if !key.exists() {
        // A mistyped --data would otherwise yield a token no running server accepts.
        eprintln!(
            "lantern token: created a new signing key {}; only a server on {} will accept this token",
            key.display(),
            a.data.display()
        );
    }
    let issuer = DevIssuer::open(&a.data).with_context(|| {
        format!("opening the development issuer key {}", DevIssuer::key_path(&a.data).display())
    })?;
    println!("{}", issuer.issue(&claims, a.ttl));
    Ok(())
}

/// Raw arguments to checked claims (clap has already enforced which flags go together).
fn claims(a: &Args) -> anyhow::Result<DevClaims> {
    let org = a.org.as_deref().unwrap_or_default();
    let mut c = if a.system {
        if a.org.is_some() {
            bail!("--org is for --user and --feed tokens");
        }
        DevClaims::system()
    } else if let Some(id) = &a.user {
        DevClaims::user(id, org, a.role.as_deref().unwrap_or_default())?
    } else if let Some(nhs) = &a.patient {
        if a.org.is_some() {
            bail!("--org is for --user and --feed tokens");
        }
        DevClaims::patient(nhs)?
    } else if let Some(id) = &a.feed {
        DevClaims::feed(id, org)?
    } else {
        bail!("say who the token is for: --system, --user, --patient or --feed");
    };
    if let Some(p) = &a.purpose {
        let purpose = Purpose::parse(p).ok_or_else(|| {
            anyhow!("unknown purpose `{p}`: use TREAT, ETREAT, PATRQT, HOPERAT, HRESCH, PUBHLTH or direct-care, emergency, patient-access, secondary-use")
        })?;
        c = c.with_purpose(purpose);
    }
    if let Some(name) = &a.name {
        c = c.with_name(name);
    }
    if let Some(scope) = &a.scope {
        c = c.with_scope(scope)?;
    }
    Ok(c)
}

fn parse_ttl(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a lifetime: use a number with s, m, h or d, e.g. 90s, 30m, 8h, 7d");
    let unit_at = s.len().checked_sub(1).filter(|_| s.is_ascii()).ok_or_else(bad)?;
    let (n, unit) = s.split_at(unit_at);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => None,
    }
    .ok_or_else(bad)?;
    if secs == 0 {
        return Err("the lifetime must be more than zero".into());
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_forms() {
        assert_eq!(parse_ttl("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_ttl("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_ttl("8h").unwrap(), Duration::from_secs(28_800));
        assert_eq!(parse_ttl("7d").unwrap(), Duration::from_secs(604_800));
        for bad in ["", "8", "h", "8x", "-1h", "0s", "1.5h", "8é", "99999999999999999999d"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }
}
