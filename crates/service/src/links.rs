//! `Patient.link` as the patient index sees it now: every read, search and `$everything` that
//! returns a Patient adds `seealso` links to the other source records of its person, read from
//! `person_link` at that moment (see `lantern_store::person`). Rendering at read time, rather
//! than writing a new Patient version whenever a link changes, keeps the links current and the
//! history honest: versions say what the source sent.
use crate::error::Error;
use crate::{Ctx, Fhir};
use lantern_store::person::with_links;
use lantern_store::Stored;

impl Fhir {
    /// Adds the person's links to the Patients among `stored`.
    pub(crate) async fn render_person_links(&self, ctx: &Ctx, stored: &mut [Stored]) -> Result<(), Error> {
        let ids: Vec<String> = stored
            .iter()
            .filter(|s| s.rtype == "Patient" && s.body.is_some())
            .map(|s| s.id.clone())
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let linked = self.store.linked_patients(ids, ctx.access.clone()).await?;
        for s in stored.iter_mut().filter(|s| s.rtype == "Patient") {
            if let (Some(b), Some(others)) = (&s.body, linked.get(&s.id)) {
                s.body = Some(with_links(b, others));
            }
        }
        Ok(())
    }
}
