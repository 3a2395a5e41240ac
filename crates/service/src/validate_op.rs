//! `$validate` (R4 operation Resource-validate): would this content be accepted, in general, as
//! a create, as an update of `Type/id`, or would `Type/id` be deleted? The answer is an
//! OperationOutcome listing every problem (warnings too), or "All OK"; the same validator and
//! write permissions a real write meets, with nothing stored.
//!
//! Validation runs against the core R4 definitions; a `profile` other than the core one is
//! not checked, and the outcome says so rather than implying it was.
use crate::error::Error;
use crate::prepare::{check_type, valid_id};
use crate::{Ctx, Fhir};
use lantern_fhir::Issue;
use lantern_store::{StoreError, WriteKind};
use serde_json::Value;

/// `mode` of `$validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    General,
    Create,
    Update,
    Delete,
}

impl Fhir {
    /// `$validate` on `rtype` (or on `rtype/id` when `id` is given). `body` is the resource
    /// itself or a `Parameters` holding `resource`, `mode` and `profile`; `query` may give
    /// `mode` and `profile` too (as HAPI accepts). Returns the OperationOutcome; an error only
    /// when validation could not be run (bad parameters, an unknown type).
    pub async fn validate_resource(
        &self,
        ctx: &Ctx,
        rtype: &str,
        id: Option<&str>,
        body: Option<Value>,
        query: &[(String, String)],
    ) -> Result<Value, Error> {
        check_type(rtype)?;
        let from_query = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let (resource, mode, profile) = match body {
            Some(b)
                if rtype != "Parameters"
                    && b.get("resourceType").and_then(Value::as_str) == Some("Parameters") =>
            {
                let param = |name: &str| {
                    b.get("parameter").and_then(Value::as_array).and_then(|ps| {
                        ps.iter().find(|p| p.get("name").and_then(Value::as_str) == Some(name))
                    })
                };
                let text = |name: &str| {
                    param(name).and_then(|p| {
                        ["valueCode", "valueUri", "valueCanonical", "valueString"]
                            .iter()
                            .find_map(|k| p.get(*k).and_then(Value::as_str).map(str::to_string))
                    })
                };
                let resource = param("resource").and_then(|p| p.get("resource")).cloned();
                (
                    resource,
                    text("mode").or_else(|| from_query("mode")),
                    text("profile").or_else(|| from_query("profile")),
                )
            }
            b => (b, from_query("mode"), from_query("profile")),
        };
        let mode = match mode.as_deref() {
            None => Mode::General,
            Some("create") => Mode::Create,
            Some("update") => Mode::Update,
            Some("delete") => Mode::Delete,
            Some(m) => {
                return Err(Error::bad(
                    "value",
                    None,
                    format!(
                        "mode '{m}' is not one of create, update, delete (or none, to validate in general)"
                    ),
                ))
            }
        };
        if matches!(mode, Mode::Update | Mode::Delete) && id.is_none() {
            return Err(Error::bad(
                "invalid",
                None,
                "modes update and delete are for an instance: call Type/id/$validate",
            ));
        }
        if let Some(id) = id.filter(|i| !valid_id(i)) {
            return Err(Error::bad("invalid", None, format!("'{id}' is not a valid resource id")));
        }

        let mut issues = Vec::new();
        let kind = match mode {
            Mode::General => None,
            Mode::Create => Some(WriteKind::Create),
            Mode::Update => Some(WriteKind::Update),
            Mode::Delete => Some(WriteKind::Delete),
        };
        if let (Some(kind), Some(may)) = (kind, &ctx.may_write) {
            if let Err(why) = may(rtype, kind) {
                issues.push(Issue::error("forbidden", None, why));
            }
        }
        if mode == Mode::Delete {
            // Deleting something missing or deleted is allowed (R4 delete is idempotent); one
            // the caller may not see is as good as missing.
            match self.read(ctx, rtype, id.unwrap_or_default()).await {
                Ok(_) => {}
                Err(Error::Store(StoreError::NotFound(_) | StoreError::Gone(_))) => {
                    issues.push(Issue::warning(
                        "not-found",
                        None,
                        format!(
                            "{rtype}/{} does not exist: a delete would change nothing",
                            id.unwrap_or_default()
                        ),
                    ))
                }
                Err(e) => return Err(e),
            }
            return Ok(lantern_fhir::operation_outcome(&issues));
        }

        let resource = resource.ok_or_else(|| {
            Error::bad(
                "required",
                None,
                "$validate needs the resource: the body, or a Parameters with `resource`",
            )
        })?;
        match resource.get("resourceType").and_then(Value::as_str) {
            Some(t) if t != rtype => issues.push(Issue::error(
                "invalid",
                Some("resourceType".to_string()),
                format!("the resource is a {t}, not a {rtype}"),
            )),
            _ => {}
        }
        issues.extend(lantern_fhir::validate::validate(&resource));
        let body_id = resource.get("id").and_then(Value::as_str);
        match (mode, id, body_id) {
            (Mode::Update, Some(id), Some(b)) if b != id => issues.push(Issue::error(
                "invalid",
                Some(format!("{rtype}.id")),
                format!("the resource's id '{b}' is not the id in the URL ('{id}')"),
            )),
            (Mode::Update, _, None) => issues.push(Issue::error(
                "required",
                Some(format!("{rtype}.id")),
                "an update must carry the resource's id",
            )),
            (Mode::Create, _, Some(_)) => issues.push(Issue::warning(
                "informational",
                Some(format!("{rtype}.id")),
                "a create ignores the id it is sent and assigns its own",
            )),
            _ => {}
        }
        if let Some(p) = profile.filter(|p| {
            p.split('|').next() != Some(format!("http://hl7.org/fhir/StructureDefinition/{rtype}").as_str())
        }) {
            issues.push(Issue::warning(
                "not-supported",
                None,
                format!("not checked against the profile {p}: Lantern validates against the core R4 definitions only"),
            ));
        }
        Ok(lantern_fhir::operation_outcome(&issues))
    }
}
