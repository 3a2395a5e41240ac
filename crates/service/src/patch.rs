//! Patch (R4 §3.1.0.4.4) with JSON Patch (RFC 6902, an array of operations) or FHIRPath Patch
//! (a `Parameters` resource, see `lantern_fhir::fhirpath_patch`), told apart by the body's
//! shape. The patched resource is validated like any update and written with a compare-and-set
//! on the version it was patched from, so a concurrent writer makes the patch fail (412)
//! rather than be lost.
use crate::error::Error;
use crate::{Ctx, Fhir};
use lantern_fhir::fhirpath_patch::{FhirPathPatch, PatchError};
use lantern_store::{StoreError, Written};
use serde_json::Value;

/// A patch document, parsed (and so checked for form) before the resource is read.
pub(crate) enum Edit {
    Json(json_patch::Patch),
    FhirPath(FhirPathPatch),
}

impl Edit {
    /// Parses a PATCH body: an array is JSON Patch, a `Parameters` resource FHIRPath Patch.
    pub(crate) fn parse(body: &Value) -> Result<Edit, Error> {
        if lantern_fhir::fhirpath_patch::is_fhirpath_patch(body) {
            return FhirPathPatch::parse(body).map(Edit::FhirPath).map_err(|e| {
                Error::bad("invalid", None, format!("the body is not a valid FHIRPath Patch: {e}"))
            });
        }
        if !body.is_array() {
            return Err(Error::bad(
                "invalid",
                None,
                "a patch is a JSON Patch array (application/json-patch+json) or a FHIRPath Patch \
                 Parameters resource (application/fhir+json)",
            ));
        }
        serde_json::from_value(body.clone())
            .map(Edit::Json)
            .map_err(|e| Error::bad("invalid", None, format!("the body is not a JSON Patch document: {e}")))
    }

    /// Applies the patch to `doc`, refusing one that would change the resource's type or id.
    pub(crate) fn apply(&self, doc: &mut Value, rtype: &str, id: &str) -> Result<(), Error> {
        let applied = match self {
            Edit::Json(ops) => json_patch::patch(doc, ops).map_err(|e| e.to_string()),
            Edit::FhirPath(p) => p.apply(doc).map_err(|e| match e {
                PatchError::Invalid(m) | PatchError::Unprocessable(m) => m,
            }),
        };
        applied.map_err(|m| {
            Error::Store(StoreError::Unprocessable(vec![lantern_fhir::Issue::error(
                "processing",
                None,
                format!("the patch could not be applied: {m}"),
            )]))
        })?;
        if doc.get("id").and_then(Value::as_str) != Some(id)
            || doc.get("resourceType").and_then(Value::as_str) != Some(rtype)
        {
            return Err(Error::bad("invalid", None, "a patch may not change the resource's type or id"));
        }
        Ok(())
    }
}

/// The patch document a Bundle entry carries: a FHIRPath Patch `Parameters` as it is, or a
/// `Binary` whose `data` is a JSON Patch (R4 §3.1.0.11.2: the JSON Patch format has no FHIR
/// resource form, so a transaction wraps it in a Binary).
pub(crate) fn patch_document(resource: &Value) -> Result<Value, String> {
    use base64::Engine;
    match resource.get("resourceType").and_then(Value::as_str) {
        Some("Parameters") => Ok(resource.clone()),
        Some("Binary") => {
            let ct = resource.get("contentType").and_then(Value::as_str).unwrap_or("");
            if !matches!(
                ct.split(';').next().unwrap_or("").trim(),
                "application/json-patch+json" | "application/json"
            ) {
                return Err(format!(
                    "a Binary patch must have contentType application/json-patch+json, not '{ct}'"
                ));
            }
            let data = resource.get("data").and_then(Value::as_str).ok_or("the Binary patch has no data")?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|e| format!("the Binary patch's data is not base64: {e}"))?;
            serde_json::from_slice(&bytes).map_err(|e| format!("the Binary patch's data is not JSON: {e}"))
        }
        other => Err(format!(
            "a PATCH entry's resource is a Parameters (FHIRPath Patch) or a Binary (JSON Patch), not {}",
            other.unwrap_or("a resource without resourceType")
        )),
    }
}

impl Fhir {
    pub async fn patch(
        &self,
        ctx: &Ctx,
        rtype: &str,
        id: &str,
        patch: Value,
        if_match: Option<i64>,
    ) -> Result<Written, Error> {
        let edit = Edit::parse(&patch)?;
        let (doc, version) = self.patched(ctx, rtype, id, &edit, if_match).await?;
        self.update(ctx, rtype, id, doc, Some(version)).await
    }

    /// Conditional patch, `PATCH Type?criteria`: the one resource the criteria find is patched
    /// (none: 404; more than one: 412). The search and the patch are two steps; the patch is
    /// written only if the version it was made from is still current.
    pub async fn conditional_patch(
        &self,
        ctx: &Ctx,
        rtype: &str,
        query: &str,
        patch: Value,
        if_match: Option<i64>,
    ) -> Result<Written, Error> {
        crate::prepare::check_type(rtype)?;
        let edit = Edit::parse(&patch)?;
        let cond = crate::crud::parse_query(rtype, query)?;
        let job_ctx = ctx.clone();
        let ids = self
            .store
            .write(move |tx| {
                job_ctx.begin(tx);
                tx.search_ids(&cond, 2)
            })
            .await?;
        let id = match ids.as_slice() {
            [id] => id.clone(),
            [] => {
                return Err(StoreError::NotFound(format!(
                    "no {rtype} matches the conditional patch's criteria"
                ))
                .into())
            }
            _ => {
                return Err(StoreError::PreconditionFailed(
                    "the conditional patch's criteria matched more than one resource".into(),
                )
                .into())
            }
        };
        let (doc, version) = self.patched(ctx, rtype, &id, &edit, if_match).await?;
        self.update(ctx, rtype, &id, doc, Some(version)).await
    }

    /// The resource as `edit` leaves it, and the version it was patched from (to be written
    /// only if that version is still current). `if_match` is checked against the version read.
    pub(crate) async fn patched(
        &self,
        ctx: &Ctx,
        rtype: &str,
        id: &str,
        edit: &Edit,
        if_match: Option<i64>,
    ) -> Result<(Value, i64), Error> {
        let current = self.read(ctx, rtype, id).await?;
        if let Some(v) = if_match {
            if v != current.version {
                return Err(StoreError::VersionConflict {
                    what: format!("{rtype}/{id}"),
                    expected: v.to_string(),
                    current: current.version.to_string(),
                }
                .into());
            }
        }
        let mut doc = crate::crud::resource_of(&current)?;
        edit.apply(&mut doc, rtype, id)?;
        Ok((doc, current.version))
    }
}
