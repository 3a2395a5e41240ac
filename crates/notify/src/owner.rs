//! Who a Subscription acts for. Recorded inside the write job that stores the Subscription
//! (by the trust layer, which knows the caller), so that a notification shows its receiver
//! only what the subscriber could have read with a search at that moment: the same compiled
//! access filter, agreements, relationships, consent and labels as any other read.
use lantern_audit::Agent;
use lantern_policy::{Policy, Purpose, Requester, RequesterKind, TypeSet};
use lantern_store::{AccessFilter, Conn, StoreError, WriteTx};
use serde::{Deserialize, Serialize};

/// The subscriber, as the policy and the audit need them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// `system`, `user`, `patient` or `feed`.
    pub kind: String,
    /// The caller's stable id (token `sub`).
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The v3 ActReason code the token carried (or its kind's default).
    pub purpose: String,
    /// For a patient: their own records' ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patients: Vec<String>,
    /// The types the token's scopes could read; `None` for all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<Vec<String>>,
}

impl Owner {
    /// For a Subscription stored without a caller (written by a tool on the store itself, or
    /// on a server without trust): full access, as the writer had.
    pub fn system() -> Owner {
        Owner {
            kind: "system".into(),
            user: "lantern".into(),
            org: None,
            role: None,
            purpose: Purpose::Operations.code().into(),
            patients: Vec::new(),
            types: None,
        }
    }

    pub fn from_requester(r: &Requester) -> Owner {
        let kind = match r.kind {
            RequesterKind::System => "system",
            RequesterKind::User => "user",
            RequesterKind::Patient => "patient",
            RequesterKind::Feed => "feed",
        };
        Owner {
            kind: kind.into(),
            user: r.user.clone(),
            org: r.org.clone(),
            role: r.role.clone(),
            purpose: r.purpose.code().into(),
            patients: r.patients.clone(),
            types: match &r.readable {
                TypeSet::All => None,
                TypeSet::Only(s) => Some(s.iter().cloned().collect()),
            },
        }
    }

    pub fn requester(&self) -> Requester {
        let kind = match self.kind.as_str() {
            "system" => RequesterKind::System,
            "patient" => RequesterKind::Patient,
            "feed" => RequesterKind::Feed,
            _ => RequesterKind::User,
        };
        Requester {
            kind,
            user: self.user.clone(),
            org: self.org.clone(),
            role: self.role.clone(),
            purpose: Purpose::parse(&self.purpose).unwrap_or(Purpose::Treatment),
            patients: self.patients.clone(),
            readable: match &self.types {
                None => TypeSet::All,
                Some(t) => TypeSet::Only(t.iter().cloned().collect()),
            },
        }
    }

    /// The filter a search by this owner runs under now (`None` policy: trust is off).
    pub fn access(
        &self,
        policy: Option<&Policy>,
        type_id: &dyn Fn(&str) -> Option<i64>,
        now: i64,
    ) -> AccessFilter {
        match policy {
            Some(p) => p.compile(&self.requester(), type_id, now),
            None => AccessFilter::All,
        }
    }

    /// The audit's name for the receiver of a notification.
    pub fn agent(&self) -> Agent {
        let a = match self.kind.as_str() {
            "system" => Agent::system(self.user.clone()),
            "patient" => {
                let mut a = Agent::patient(self.patients.first().map_or("", String::as_str));
                a.user = Some(self.user.clone());
                a
            }
            "feed" => Agent::feed(self.user.clone(), self.org.clone()),
            _ => Agent::user(self.user.clone(), self.role.clone(), self.org.clone()),
        };
        a.with_purpose(self.purpose.clone())
    }
}

/// Records (or replaces) the owner of Subscription `id`, inside the job that writes it.
pub fn record(tx: &mut WriteTx<'_>, id: &str, owner: &Owner) -> Result<(), StoreError> {
    let text = serde_json::to_string(owner).map_err(|e| StoreError::Database(e.to_string()))?;
    tx.conn().execute(
        "INSERT INTO subscription_owner (id, owner) VALUES (?, ?) \
         ON CONFLICT (id) DO UPDATE SET owner = excluded.owner",
        &[id.into(), text.into()],
    )?;
    Ok(())
}

/// The recorded owner of Subscription `id`, if any.
pub fn load(conn: &mut dyn Conn, id: &str) -> Result<Option<Owner>, StoreError> {
    let mut out = None;
    conn.query("SELECT owner FROM subscription_owner WHERE id = ?", &[id.into()], &mut |r| {
        if let Some(t) = r.text(0)? {
            out = Some(serde_json::from_str(&t).map_err(|e| {
                StoreError::Database(format!("Subscription/{id}'s owner is unreadable: {e}"))
            })?);
        }
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_round_trips_through_its_requester() {
        let o = Owner {
            kind: "user".into(),
            user: "dr-gp".into(),
            org: Some("A81001".into()),
            role: Some("gp".into()),
            purpose: "TREAT".into(),
            patients: Vec::new(),
            types: Some(vec!["Encounter".into()]),
        };
        assert_eq!(Owner::from_requester(&o.requester()), o);
        let back: Owner = serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
        assert_eq!(back, o);
        assert_eq!(Owner::from_requester(&Owner::system().requester()), Owner::system());
    }
}
