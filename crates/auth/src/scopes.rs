//! SMART App Launch v2 scopes (<https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html>).
//!
//! Grammar, per space-separated token:
//!
//! ```text
//! resource-scope = context "/" (ResourceType | "*") "." permissions [ "?" param "=" value *( "&" param "=" value ) ]
//! context        = "patient" | "user" | "system"
//! permissions    = v2: one or more of c r u d s, in that order
//!                | v1: "read" (= rs) | "write" (= cud) | "*" (= cruds)
//! ```
//!
//! Tokens that do not start with `patient/`, `user/` or `system/` (`openid`, `fhirUser`, `launch`,
//! `launch/patient`, `offline_access`, an issuer's own scopes) are kept in [`Scopes::other`] and
//! grant nothing. A token that does start with a context must parse, or the whole claim is
//! rejected: silently dropping a mistyped scope would hide the mistake from the client developer.
//!
//! **Query restrictions** (`patient/Observation.rs?category=laboratory`) are parsed and kept on the
//! [`Scope`], but a restricted scope grants nothing through [`Scopes::allows`] or
//! [`Scopes::readable_types`]: honouring one means compiling its parameters into the search, which
//! the access filter does not do yet, and granting the unrestricted right instead would widen what
//! the issuer meant to allow. Failing closed is the safe reading.
use std::collections::BTreeSet;
use std::fmt;

/// An interaction a scope may allow (SMART v2 permission letters c, r, u, d, s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Create,
    Read,
    Update,
    Delete,
    Search,
}

impl Op {
    const ALL: [Op; 5] = [Op::Create, Op::Read, Op::Update, Op::Delete, Op::Search];

    fn bit(self) -> u8 {
        match self {
            Op::Create => 1,
            Op::Read => 2,
            Op::Update => 4,
            Op::Delete => 8,
            Op::Search => 16,
        }
    }

    fn letter(self) -> char {
        match self {
            Op::Create => 'c',
            Op::Read => 'r',
            Op::Update => 'u',
            Op::Delete => 'd',
            Op::Search => 's',
        }
    }
}

/// The launch context a scope is granted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    /// `patient/`: data about the patient in context (for Lantern, the token's NHS number).
    Patient,
    /// `user/`: whatever the user may see (policy decides which patients).
    User,
    /// `system/`: a backend service with no user.
    System,
}

impl Context {
    pub fn as_str(self) -> &'static str {
        match self {
            Context::Patient => "patient",
            Context::User => "user",
            Context::System => "system",
        }
    }
}

/// Which contexts appear among a token's resource scopes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Contexts {
    pub patient: bool,
    pub user: bool,
    pub system: bool,
}

/// A set of resource types, for compiling scopes into a query filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeSet {
    /// Every type (a `*` scope).
    All,
    /// Exactly these types; empty means none.
    Only(BTreeSet<String>),
}

impl TypeSet {
    pub fn contains(&self, rtype: &str) -> bool {
        match self {
            TypeSet::All => true,
            TypeSet::Only(set) => set.contains(rtype),
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, TypeSet::Only(set) if set.is_empty())
    }
}

/// One resource scope, e.g. `user/Observation.rs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    context: Context,
    /// `None` for `*`.
    resource: Option<String>,
    perms: u8,
    restrictions: Vec<(String, String)>,
}

impl Scope {
    pub fn context(&self) -> Context {
        self.context
    }

    /// The resource type, or `None` for `*` (every type).
    pub fn resource_type(&self) -> Option<&str> {
        self.resource.as_deref()
    }

    /// Whether the permission letters include `op` (ignoring any restriction).
    pub fn permits(&self, op: Op) -> bool {
        self.perms & op.bit() != 0
    }

    /// `?param=value` restrictions, as written (not percent-decoded). See the module docs.
    pub fn restrictions(&self) -> &[(String, String)] {
        &self.restrictions
    }

    fn covers(&self, rtype: &str) -> bool {
        self.resource.as_deref().is_none_or(|t| t == rtype)
    }
}

impl fmt::Display for Scope {
    /// The canonical v2 form (`read` is written `rs`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}.", self.context.as_str(), self.resource.as_deref().unwrap_or("*"))?;
        for op in Op::ALL {
            if self.permits(op) {
                write!(f, "{}", op.letter())?;
            }
        }
        for (i, (k, v)) in self.restrictions.iter().enumerate() {
            write!(f, "{}{k}={v}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

/// A scope string that does not follow the SMART grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scope `{scope}` is not a valid SMART scope: {reason}")]
pub struct ScopeError {
    /// The offending space-separated token.
    pub scope: String,
    pub reason: String,
}

/// The scopes of a token: resource scopes plus any others, kept for the record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes {
    scopes: Vec<Scope>,
    other: Vec<String>,
}

impl Scopes {
    /// Parses a space-separated `scope` claim. Never panics.
    pub fn parse(s: &str) -> Result<Scopes, ScopeError> {
        let mut out = Scopes::default();
        for token in s.split_ascii_whitespace() {
            match parse_scope(token) {
                Some(Ok(scope)) => out.scopes.push(scope),
                Some(Err(reason)) => {
                    return Err(ScopeError { scope: token.to_string(), reason: reason.to_string() })
                }
                None => out.other.push(token.to_string()),
            }
        }
        Ok(out)
    }

    /// Whether any unrestricted scope allows `op` on `rtype`, in any context. Which patients the
    /// caller may see is policy's business, not this.
    pub fn allows(&self, rtype: &str, op: Op) -> bool {
        self.unrestricted().any(|s| s.permits(op) && s.covers(rtype))
    }

    /// The types whose content the scopes expose: granted read (`r`) or search (`s`).
    pub fn readable_types(&self) -> TypeSet {
        self.types_where(|s| s.permits(Op::Read) || s.permits(Op::Search))
    }

    /// The types on which `op` is allowed.
    pub fn types_allowing(&self, op: Op) -> TypeSet {
        self.types_where(|s| s.permits(op))
    }

    /// The contexts that appear among the resource scopes (restricted ones included).
    pub fn contexts(&self) -> Contexts {
        let mut c = Contexts::default();
        for s in &self.scopes {
            match s.context {
                Context::Patient => c.patient = true,
                Context::User => c.user = true,
                Context::System => c.system = true,
            }
        }
        c
    }

    /// The resource scopes, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.scopes.iter()
    }

    /// Scopes that are not resource scopes (`openid`, `launch/patient`, ...).
    pub fn other(&self) -> &[String] {
        &self.other
    }

    /// No resource scopes at all.
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }

    fn unrestricted(&self) -> impl Iterator<Item = &Scope> {
        self.scopes.iter().filter(|s| s.restrictions.is_empty())
    }

    fn types_where(&self, pick: impl Fn(&Scope) -> bool) -> TypeSet {
        let mut set = BTreeSet::new();
        for s in self.unrestricted().filter(|s| pick(s)) {
            match &s.resource {
                None => return TypeSet::All,
                Some(t) => {
                    set.insert(t.clone());
                }
            }
        }
        TypeSet::Only(set)
    }
}

impl fmt::Display for Scopes {
    /// Canonical v2 resource scopes, then the others, space-separated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut sep = |f: &mut fmt::Formatter<'_>| {
            let r = if first { Ok(()) } else { f.write_str(" ") };
            first = false;
            r
        };
        for s in &self.scopes {
            sep(f)?;
            write!(f, "{s}")?;
        }
        for o in &self.other {
            sep(f)?;
            f.write_str(o)?;
        }
        Ok(())
    }
}

/// `None` when the token is not a resource scope at all.
fn parse_scope(token: &str) -> Option<Result<Scope, &'static str>> {
    let (context, rest) = token.split_once('/')?;
    let context = match context {
        "patient" => Context::Patient,
        "user" => Context::User,
        "system" => Context::System,
        _ => return None,
    };
    Some(parse_resource_scope(context, rest))
}

fn parse_resource_scope(context: Context, rest: &str) -> Result<Scope, &'static str> {
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (rest, None),
    };
    let (rtype, perms) =
        main.split_once('.').ok_or("expected `context/Type.permissions`, e.g. `user/Observation.rs`")?;
    let resource = match rtype {
        "*" => None,
        t if is_type_name(t) => Some(t.to_string()),
        "" => return Err("the resource type is missing; use a type name or `*`"),
        _ => return Err("the resource type must be a FHIR type name (e.g. `Patient`) or `*`"),
    };
    let perms = parse_perms(perms)?;
    let restrictions = match query {
        None => Vec::new(),
        Some(q) => parse_query(q)?,
    };
    Ok(Scope { context, resource, perms, restrictions })
}

fn is_type_name(t: &str) -> bool {
    let mut chars = t.chars();
    t.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_alphanumeric())
}

fn parse_perms(p: &str) -> Result<u8, &'static str> {
    const BAD: &str =
        "permissions must be `read`, `write`, `*` (SMART v1) or some of c, r, u, d, s in that order (v2)";
    match p {
        "read" => return Ok(Op::Read.bit() | Op::Search.bit()),
        "write" => return Ok(Op::Create.bit() | Op::Update.bit() | Op::Delete.bit()),
        "*" => return Ok(Op::ALL.iter().fold(0, |acc, op| acc | op.bit())),
        "" => return Err(BAD),
        _ => {}
    }
    // v2 letters must appear in the order c r u d s, each at most once.
    let mut bits = 0u8;
    let mut next = 0; // index into Op::ALL of the earliest letter still allowed
    for ch in p.chars() {
        let pos = Op::ALL[next..].iter().position(|op| op.letter() == ch).ok_or(BAD)?;
        bits |= Op::ALL[next + pos].bit();
        next += pos + 1;
    }
    Ok(bits)
}

fn parse_query(q: &str) -> Result<Vec<(String, String)>, &'static str> {
    const BAD: &str = "a restriction must be `?param=value` pairs joined by `&`";
    if q.is_empty() {
        return Err(BAD);
    }
    q.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(BAD),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn perms_of(s: &str) -> String {
        let scopes = Scopes::parse(s).unwrap();
        let scope = scopes.iter().next().unwrap();
        Op::ALL.iter().filter(|op| scope.permits(**op)).map(|op| op.letter()).collect()
    }

    #[test]
    fn v2_and_v1_permission_forms() {
        let table = [
            ("user/Observation.rs", "rs"),
            ("user/Observation.cruds", "cruds"),
            ("user/Observation.c", "c"),
            ("user/Observation.cud", "cud"),
            ("user/Observation.rd", "rd"),
            ("user/Observation.read", "rs"),
            ("user/Observation.write", "cud"),
            ("user/Observation.*", "cruds"),
            ("system/*.cu", "cu"),
        ];
        for (scope, want) in table {
            assert_eq!(perms_of(scope), want, "{scope}");
        }
    }

    #[test]
    fn invalid_scopes_say_why() {
        let table = [
            ("user/Observation.sr", "in that order"),
            ("user/Observation.rr", "in that order"),
            ("user/Observation.x", "permissions"),
            ("user/Observation.", "permissions"),
            ("user/Observation", "context/Type.permissions"),
            ("user/.rs", "type is missing"),
            ("user/observation.rs", "FHIR type name"),
            ("user/Obs-ervation.rs", "FHIR type name"),
            ("patient/Observation.rs?", "param=value"),
            ("patient/Observation.rs?category", "param=value"),
            ("patient/Observation.rs?a=1&", "param=value"),
            ("patient/Observation.READ", "permissions"),
        ];
        for (scope, want) in table {
            let err = Scopes::parse(&format!("openid {scope}")).unwrap_err();
            assert_eq!(err.scope, scope);
            assert!(err.reason.contains(want), "{scope}: {}", err.reason);
        }
    }

    #[test]
    fn non_resource_scopes_are_kept_but_grant_nothing() {
        let s = Scopes::parse("openid fhirUser launch launch/patient offline_access Patient/x.rs").unwrap();
        assert!(s.is_empty());
        assert_eq!(s.other().len(), 6);
        assert!(!s.allows("Patient", Op::Read));
        assert_eq!(s.readable_types(), TypeSet::Only(BTreeSet::new()));
        assert!(s.readable_types().is_empty());
    }

    #[test]
    fn allows_by_type_and_op() {
        let s = Scopes::parse("user/Observation.rs user/Patient.r system/Encounter.cu").unwrap();
        assert!(s.allows("Observation", Op::Read));
        assert!(s.allows("Observation", Op::Search));
        assert!(!s.allows("Observation", Op::Create));
        assert!(s.allows("Patient", Op::Read));
        assert!(!s.allows("Patient", Op::Search));
        assert!(s.allows("Encounter", Op::Update));
        assert!(!s.allows("Encounter", Op::Read));
        assert!(!s.allows("Condition", Op::Read));
        let readable = s.readable_types();
        assert_eq!(readable, TypeSet::Only(["Observation".to_string(), "Patient".to_string()].into()));
        assert_eq!(s.contexts(), Contexts { patient: false, user: true, system: true });
    }

    #[test]
    fn wildcard_type_gives_all() {
        let s = Scopes::parse("patient/*.rs").unwrap();
        assert_eq!(s.readable_types(), TypeSet::All);
        assert!(s.allows("AllergyIntolerance", Op::Search));
        assert!(!s.allows("AllergyIntolerance", Op::Delete));
        assert_eq!(s.types_allowing(Op::Delete), TypeSet::Only(BTreeSet::new()));
    }

    #[test]
    fn restricted_scopes_are_kept_and_grant_nothing() {
        let s = Scopes::parse("patient/Observation.rs?category=laboratory&status=final").unwrap();
        let scope = s.iter().next().unwrap();
        assert_eq!(
            scope.restrictions(),
            &[
                ("category".to_string(), "laboratory".to_string()),
                ("status".to_string(), "final".to_string())
            ]
        );
        assert!(!s.allows("Observation", Op::Read));
        assert!(s.readable_types().is_empty());
        assert!(s.contexts().patient);
    }

    #[test]
    fn display_is_canonical_v2() {
        let s =
            Scopes::parse("openid  user/Observation.read\tsystem/*.* patient/Observation.r?code=x").unwrap();
        assert_eq!(s.to_string(), "user/Observation.rs system/*.cruds patient/Observation.r?code=x openid");
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = Scopes::parse(&s);
        }

        #[test]
        fn scope_shaped_strings_never_panic(s in "(patient|user|system|x)/[A-Za-z*]{0,6}\\.[crudsreadwt*]{0,6}(\\?[a-z=&]{0,8})?") {
            if let Ok(scopes) = Scopes::parse(&s) {
                // Whatever parses prints back to something that parses to the same grants.
                let again = Scopes::parse(&scopes.to_string()).unwrap();
                prop_assert_eq!(again.readable_types(), scopes.readable_types());
                prop_assert_eq!(again.contexts(), scopes.contexts());
            }
        }
    }
}
