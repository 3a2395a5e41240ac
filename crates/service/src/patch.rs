//! Patch (R4 §3.1.0.4.4) with JSON Patch (RFC 6902). The patched resource is validated like
//! any update and written with a compare-and-set on the version it was patched from, so a
//! concurrent writer makes the patch fail (412) rather than be lost.
use crate::error::Error;
use crate::{Ctx, Fhir};
use lantern_store::{StoreError, Written};
use serde_json::Value;

impl Fhir {
    pub async fn patch(
        &self,
        ctx: &Ctx,
        rtype: &str,
        id: &str,
        patch: Value,
        if_match: Option<i64>,
    ) -> Result<Written, Error> {
        let ops: json_patch::Patch = serde_json::from_value(patch).map_err(|e| {
            Error::bad("invalid", None, format!("the body is not a JSON Patch document: {e}"))
        })?;
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
        let mut doc: Value =
            serde_json::from_str(current.body.as_deref().unwrap_or("{}")).map_err(StoreError::db)?;
        json_patch::patch(&mut doc, &ops).map_err(|e| {
            Error::Store(StoreError::Unprocessable(vec![lantern_fhir::Issue::error(
                "processing",
                None,
                format!("the patch could not be applied: {e}"),
            )]))
        })?;
        if doc.get("id").and_then(Value::as_str) != Some(id)
            || doc.get("resourceType").and_then(Value::as_str) != Some(rtype)
        {
            return Err(Error::bad("invalid", None, "a patch may not change the resource's type or id"));
        }
        self.update(ctx, rtype, id, doc, Some(current.version)).await
    }
}
