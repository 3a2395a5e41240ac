//! `lantern import`: the same feeds from files. HL7 v2 files (one or many messages, plain or
//! MLLP-framed, batch headers FHS/BHS ignored) go through [`Feeds::ingest_v2`] exactly as if
//! they had come over MLLP. FHIR JSON (a transaction, batch or collection Bundle, or a single
//! resource), NDJSON (Bulk Data: one resource per line, any types) and CSV with a mapping
//! ([`crate::tabular`]) become transaction bundles applied through the same inbox-recording
//! step: a chunk of resources is one inbox entry; if a chunk fails, each of its resources is
//! tried alone and those that still fail become dead letters. Resources with an id are
//! `PUT Type/id`; without one but with an identifier, `PUT Type?identifier=system|value`
//! (re-importing changes nothing); otherwise `POST`.
use crate::ids::content_hash;
use crate::ingest::{reason_of, service_issues, Disposition};
use crate::tabular::CsvMapping;
use crate::{Feeds, Route};
use lantern_store::inbox::{DEAD, PROCESSED};
use lantern_store::{NewInbox, StoreError};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The feed the data belongs to (HL7 v2: else routed by MSH-4; others: else `import`).
    pub feed: Option<String>,
    pub csv_mapping: Option<CsvMapping>,
    /// Resources per transaction for NDJSON, CSV and collection bundles (default 100).
    pub chunk: usize,
}

/// What an import did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImportReport {
    /// Messages (HL7 v2) or units (bundles, chunks, single resources) read.
    pub units: usize,
    pub processed: usize,
    pub duplicates: usize,
    /// (inbox seq, reason) of each dead letter.
    pub dead_letters: Vec<(i64, String)>,
    pub not_stored: usize,
    /// Resources sent in processed units.
    pub resources: usize,
}

impl ImportReport {
    pub fn add(&mut self, o: &ImportReport) {
        self.units += o.units;
        self.processed += o.processed;
        self.duplicates += o.duplicates;
        self.dead_letters.extend(o.dead_letters.iter().cloned());
        self.not_stored += o.not_stored;
        self.resources += o.resources;
    }
}

/// Splits a file into HL7 v2 messages.
pub fn split_v2(bytes: &[u8]) -> Vec<Vec<u8>> {
    if bytes.contains(&lantern_hl7v2::mllp::START_BLOCK) {
        let mut d = lantern_hl7v2::mllp::FrameDecoder::default();
        d.push(bytes);
        let mut out = Vec::new();
        while let Some(e) = d.next_event() {
            if let lantern_hl7v2::mllp::DecodeEvent::Frame(p) = e {
                out.push(p);
            }
        }
        return out;
    }
    let mut out: Vec<Vec<u8>> = Vec::new();
    for line in bytes.split(|b| *b == b'\r' || *b == b'\n') {
        let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        if [&b"FHS"[..], b"BHS", b"BTS", b"FTS"].iter().any(|s| line.starts_with(s)) {
            continue;
        }
        if line.starts_with(b"MSH") || out.is_empty() {
            out.push(Vec::new());
        }
        let m = out.last_mut().expect("pushed above");
        if !m.is_empty() {
            m.push(b'\r');
        }
        m.extend_from_slice(line);
    }
    out
}

fn enc(s: &str) -> String {
    s.replace('%', "%25").replace('&', "%26").replace('#', "%23").replace('+', "%2B").replace(' ', "%20")
}

/// A transaction entry for a resource (see the module docs).
pub fn entry_for(r: Value) -> Value {
    let t = r.get("resourceType").and_then(Value::as_str).unwrap_or_default().to_string();
    if let Some(id) = r.get("id").and_then(Value::as_str) {
        let url = format!("{t}/{id}");
        return json!({"resource": r, "request": {"method": "PUT", "url": url}});
    }
    let ident = r
        .pointer("/identifier/0")
        .and_then(|i| Some((i.get("system")?.as_str()?.to_string(), i.get("value")?.as_str()?.to_string())));
    match ident {
        Some((s, v)) => {
            let url = format!("{t}?identifier={}|{}", enc(&s), enc(&v));
            json!({"resource": r, "request": {"method": "PUT", "url": url}})
        }
        None => json!({"resource": r, "request": {"method": "POST", "url": t}}),
    }
}

fn transaction(entries: Vec<Value>) -> Value {
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

impl Feeds {
    /// Applies one FHIR transaction bundle as one inbox unit. With `dead_letter` false a
    /// failure is only reported (the caller retries smaller units).
    pub async fn ingest_fhir(
        &self,
        feed: &str,
        control_id: &str,
        kind: &str,
        bundle: Value,
        dead_letter: bool,
    ) -> (Disposition, Option<i64>, Option<String>) {
        let raw = bundle.to_string().into_bytes();
        let hash = content_hash(&raw);
        match self.fhir().store.inbox_find(feed, control_id, &hash).await {
            Ok(Some(e)) if e.status == PROCESSED => return (Disposition::Duplicate, Some(e.seq), None),
            Ok(Some(e)) => return (Disposition::Duplicate, Some(e.seq), e.detail),
            Ok(None) => {}
            Err(e) => return (Disposition::NotStored, None, Some(e.to_string())),
        }
        let mut record = NewInbox {
            feed: feed.into(),
            control_id: control_id.into(),
            hash,
            kind: kind.into(),
            received: self.fhir().store.now_micros(),
            raw,
            status: PROCESSED.into(),
            detail: None,
        };
        let dup = Arc::new(AtomicBool::new(false));
        match self.apply(bundle, Vec::new(), record.clone(), None, dup.clone()).await {
            Ok(seq) => (Disposition::Processed, Some(seq), None),
            Err(_) if dup.load(Ordering::Relaxed) => (Disposition::Duplicate, None, None),
            Err(lantern_service::Error::Store(e @ StoreError::Unavailable(_))) => {
                (Disposition::NotStored, None, Some(e.to_string()))
            }
            Err(e) => {
                let reason = reason_of(&service_issues(&e));
                if !dead_letter {
                    return (Disposition::DeadLettered, None, Some(reason));
                }
                record.status = DEAD.into();
                record.detail = Some(json!({"outcome": "AE", "reason": reason}).to_string());
                match self.dead_letter(record).await {
                    Ok(seq) => (Disposition::DeadLettered, Some(seq), Some(reason)),
                    Err(e) => (Disposition::NotStored, None, Some(e.to_string())),
                }
            }
        }
    }

    fn count(report: &mut ImportReport, d: Disposition, seq: Option<i64>, why: Option<String>, n: usize) {
        report.units += 1;
        match d {
            // Imports run without the receive queue; were one open, its messages are applied.
            Disposition::Processed | Disposition::Queued => {
                report.processed += 1;
                report.resources += n;
            }
            Disposition::Duplicate => report.duplicates += 1,
            Disposition::DeadLettered => {
                report.dead_letters.push((seq.unwrap_or(0), why.unwrap_or_default()))
            }
            Disposition::NotStored => report.not_stored += 1,
        }
    }

    /// Imports HL7 v2 messages.
    pub async fn import_v2(&self, bytes: &[u8], opts: &ImportOptions) -> ImportReport {
        let route = match &opts.feed {
            Some(f) => Route::Feed(f.clone()),
            None => Route::ByFacility,
        };
        let mut report = ImportReport::default();
        for m in split_v2(bytes) {
            let r = self.ingest_v2(&m, &route).await;
            let mut why = None;
            if let (Disposition::DeadLettered, Some(seq)) = (r.disposition, r.seq) {
                let detail = self.fhir().store.inbox_get(seq).await.ok().flatten().and_then(|e| e.detail);
                let reason = detail
                    .and_then(|d| serde_json::from_str::<Value>(&d).ok())
                    .and_then(|d| d.get("reason").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_default();
                why = Some(format!("{} {}: {reason}", r.feed, r.code));
            }
            Self::count(&mut report, r.disposition, r.seq, why, 0);
        }
        report
    }

    /// Imports resources in chunks (NDJSON lines, CSV rows, collection entries).
    pub async fn import_resources(
        &self,
        name: &str,
        kind: &str,
        resources: Vec<Value>,
        opts: &ImportOptions,
    ) -> ImportReport {
        let feed = opts.feed.clone().unwrap_or_else(|| "import".into());
        let chunk = if opts.chunk == 0 { 100 } else { opts.chunk };
        let mut report = ImportReport::default();
        for (k, part) in resources.chunks(chunk).enumerate() {
            let first = k * chunk + 1;
            let control = format!("{name}#{first}-{}", first + part.len() - 1);
            let entries: Vec<Value> = part.iter().cloned().map(entry_for).collect();
            let (d, seq, why) =
                self.ingest_fhir(&feed, &control, kind, transaction(entries), part.len() == 1).await;
            if d != Disposition::DeadLettered || part.len() == 1 {
                Self::count(&mut report, d, seq, why, part.len());
                continue;
            }
            for (j, r) in part.iter().enumerate() {
                let control = format!("{name}#{}", first + j);
                let (d, seq, why) = self
                    .ingest_fhir(&feed, &control, kind, transaction(vec![entry_for(r.clone())]), true)
                    .await;
                Self::count(&mut report, d, seq, why, 1);
            }
        }
        report
    }

    /// Imports a FHIR JSON file: a Bundle or a single resource.
    pub async fn import_json(&self, name: &str, v: Value, opts: &ImportOptions) -> ImportReport {
        let feed = opts.feed.clone().unwrap_or_else(|| "import".into());
        if v.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
            return self.import_resources(name, "fhir", vec![v], opts).await;
        }
        let entries = v.get("entry").and_then(Value::as_array).cloned().unwrap_or_default();
        match v.get("type").and_then(Value::as_str) {
            Some("transaction") => {
                let mut report = ImportReport::default();
                let (d, seq, why) = self.ingest_fhir(&feed, name, "fhir", v, true).await;
                Self::count(&mut report, d, seq, why, entries.len());
                report
            }
            Some("batch") => {
                let mut report = ImportReport::default();
                for (i, e) in entries.into_iter().enumerate() {
                    let (d, seq, why) = self
                        .ingest_fhir(&feed, &format!("{name}#{}", i + 1), "fhir", transaction(vec![e]), true)
                        .await;
                    Self::count(&mut report, d, seq, why, 1);
                }
                report
            }
            _ => {
                let rs = entries.into_iter().filter_map(|e| e.get("resource").cloned()).collect();
                self.import_resources(name, "fhir", rs, opts).await
            }
        }
    }

    /// Imports an NDJSON file; a line that is not JSON is a dead letter of its own.
    pub async fn import_ndjson(&self, name: &str, text: &str, opts: &ImportOptions) -> ImportReport {
        let mut resources = Vec::new();
        let mut report = ImportReport::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(line) {
                Ok(v) => resources.push(v),
                Err(e) => {
                    let r = self
                        .bad_unit(
                            opts,
                            &format!("{name}:{}", i + 1),
                            "ndjson",
                            line.as_bytes(),
                            &e.to_string(),
                        )
                        .await;
                    report.add(&r);
                }
            }
        }
        let r = self.import_resources(name, "ndjson", resources, opts).await;
        report.add(&r);
        report
    }

    /// Imports a CSV file with a mapping; a row that does not map is a dead letter of its own.
    pub async fn import_csv(
        &self,
        name: &str,
        text: &str,
        opts: &ImportOptions,
    ) -> Result<ImportReport, String> {
        let mapping = opts.csv_mapping.as_ref().ok_or("a CSV file needs --mapping FILE.toml")?;
        let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
        let headers: Vec<String> =
            rdr.headers().map_err(|e| e.to_string())?.iter().map(str::to_string).collect();
        let mut resources = Vec::new();
        let mut report = ImportReport::default();
        for (i, rec) in rdr.records().enumerate() {
            let row = i + 2;
            let cells: Result<Vec<String>, String> =
                rec.map(|r| r.iter().map(str::to_string).collect()).map_err(|e| e.to_string());
            match cells.and_then(|c| mapping.row(&headers, &c).map_err(|e| e.to_string())) {
                Ok(r) => resources.push(r),
                Err(e) => {
                    let raw = format!("row {row}");
                    let r = self.bad_unit(opts, &format!("{name}:{row}"), "csv", raw.as_bytes(), &e).await;
                    report.add(&r);
                }
            }
        }
        let r = self.import_resources(name, "csv", resources, opts).await;
        report.add(&r);
        Ok(report)
    }

    /// A unit that could not even be read: kept as a dead letter.
    async fn bad_unit(
        &self,
        opts: &ImportOptions,
        control: &str,
        kind: &str,
        raw: &[u8],
        why: &str,
    ) -> ImportReport {
        let mut report = ImportReport::default();
        let record = NewInbox {
            feed: opts.feed.clone().unwrap_or_else(|| "import".into()),
            control_id: control.into(),
            hash: content_hash(raw),
            kind: kind.into(),
            received: self.fhir().store.now_micros(),
            raw: raw.to_vec(),
            status: DEAD.into(),
            detail: Some(json!({"outcome": "AR", "reason": why}).to_string()),
        };
        match self.dead_letter(record).await {
            Ok(seq) => Self::count(&mut report, Disposition::DeadLettered, Some(seq), Some(why.into()), 0),
            Err(_) => Self::count(&mut report, Disposition::NotStored, None, None, 0),
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_plain_and_framed_files() {
        let plain = b"FHS|^~\\&\rMSH|^~\\&|A\nPID|1\n\nMSH|^~\\&|B\r\nPID|2\r\n";
        let v = split_v2(plain);
        assert_eq!(v, vec![b"MSH|^~\\&|A\rPID|1".to_vec(), b"MSH|^~\\&|B\rPID|2".to_vec()]);
        let framed = [lantern_hl7v2::mllp::frame(b"MSH|1"), lantern_hl7v2::mllp::frame(b"MSH|2")].concat();
        assert_eq!(split_v2(&framed).len(), 2);
    }

    #[test]
    fn entries_are_idempotent_where_possible() {
        let e = entry_for(
            json!({"resourceType": "Patient", "identifier": [{"system": "urn:x", "value": "a b"}]}),
        );
        assert_eq!(e["request"]["url"], "Patient?identifier=urn:x|a%20b");
        assert_eq!(entry_for(json!({"resourceType": "Patient", "id": "p1"}))["request"]["url"], "Patient/p1");
        assert_eq!(entry_for(json!({"resourceType": "Patient"}))["request"]["method"], "POST");
    }
}
