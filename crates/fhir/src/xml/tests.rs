use super::*;
use proptest::prelude::*;
use serde_json::{json, Value};

/// A Patient using most of the XML rules: a narrative, a contained resource, a primitive with
/// an extension and no value inside a repeating element, an extension on a primitive with a
/// value, an element id, a decimal that keeps its digits, numbers and booleans.
const PATIENT: &str = r##"<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment is ignored -->
<Patient xmlns="http://hl7.org/fhir" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://hl7.org/fhir patient.xsd">
  <id value="example"/>
  <meta><versionId value="3"/></meta>
  <text>
    <status value="generated"/>
    <div xmlns="http://www.w3.org/1999/xhtml"><p>Peter <b>Chalmers</b> &amp; co</p></div>
  </text>
  <contained>
    <Organization>
      <id value="org1"/>
      <name value="Leeds &quot;General&quot;"/>
    </Organization>
  </contained>
  <extension url="http://example.org/ext/score">
    <valueDecimal value="1.50"/>
  </extension>
  <identifier id="i1">
    <system value="https://fhir.nhs.uk/Id/nhs-number"/>
    <value value="9434765919"/>
  </identifier>
  <active value="true"/>
  <name>
    <family value="Chalmers"/>
    <given value="Peter"/>
    <given>
      <extension url="http://hl7.org/fhir/StructureDefinition/data-absent-reason">
        <valueCode value="unknown"/>
      </extension>
    </given>
    <given value="James"/>
  </name>
  <birthDate id="bd" value="1974-12-25">
    <extension url="http://hl7.org/fhir/StructureDefinition/patient-birthTime">
      <valueDateTime value="1974-12-25T14:35:45-05:00"/>
    </extension>
  </birthDate>
  <multipleBirthInteger value="2"/>
  <address><line value="1 Line&#10;two"/></address>
  <managingOrganization><reference value="#org1"/></managingOrganization>
</Patient>"##;

fn patient_json() -> Value {
    let mut v = json!({
        "resourceType": "Patient",
        "id": "example",
        "meta": {"versionId": "3"},
        "text": {
            "status": "generated",
            "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Peter <b>Chalmers</b> &amp; co</p></div>"
        },
        "contained": [{"resourceType": "Organization", "id": "org1", "name": "Leeds \"General\""}],
        "extension": [{"url": "http://example.org/ext/score", "valueDecimal": 1.50}],
        "identifier": [{"id": "i1", "system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}],
        "active": true,
        "name": [{
            "family": "Chalmers",
            "given": ["Peter", null, "James"],
            "_given": [null, {"extension": [{
                "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                "valueCode": "unknown"
            }]}, null]
        }],
        "birthDate": "1974-12-25",
        "_birthDate": {"id": "bd", "extension": [{
            "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
            "valueDateTime": "1974-12-25T14:35:45-05:00"
        }]},
        "multipleBirthInteger": 2,
        "address": [{"line": ["1 Line\ntwo"]}],
        "managingOrganization": {"reference": "#org1"}
    });
    // `json!` would read 1.50 as 1.5.
    v["extension"][0]["valueDecimal"] = Value::Number("1.50".parse().unwrap());
    v
}

#[test]
fn reads_every_rule_of_the_xml_form() {
    let v = parse(PATIENT).unwrap();
    assert_eq!(v, patient_json());
    // The decimal keeps the digits it was written with (a clinical value's precision).
    assert_eq!(v["extension"][0]["valueDecimal"].to_string(), "1.50");
    assert!(v["multipleBirthInteger"].is_number() && v["active"].is_boolean());
}

#[test]
fn writes_in_the_definitions_order_with_attributes_and_escapes() {
    let mut p = patient_json();
    // JSON's member order is free; XML's is not: shuffle it and expect the same document.
    let obj = p.as_object_mut().unwrap();
    let keys: Vec<String> = obj.keys().cloned().collect();
    let mut shuffled = serde_json::Map::new();
    for k in keys.iter().rev() {
        shuffled.insert(k.clone(), obj[k].clone());
    }
    let xml = write(&Value::Object(shuffled), false).unwrap();
    assert!(xml.starts_with(
        "<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"example\"/><meta><versionId value=\"3\"/></meta>\
         <text><status value=\"generated\"/><div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Peter"
    ), "{xml}");
    assert!(xml.contains(
        "<contained><Organization><id value=\"org1\"/><name value=\"Leeds &quot;General&quot;\"/></Organization></contained>\
         <extension url=\"http://example.org/ext/score\"><valueDecimal value=\"1.50\"/></extension>\
         <identifier id=\"i1\"><system"
    ), "{xml}");
    assert!(xml.contains(
        "<given value=\"Peter\"/><given><extension url=\"http://hl7.org/fhir/StructureDefinition/data-absent-reason\">\
         <valueCode value=\"unknown\"/></extension></given><given value=\"James\"/>"
    ), "{xml}");
    assert!(xml.contains("<birthDate id=\"bd\" value=\"1974-12-25\"><extension"), "{xml}");
    assert!(xml.contains("<line value=\"1 Line&#10;two\"/>"), "{xml}");
    assert_eq!(parse(&xml).unwrap(), patient_json());
    let pretty = write(&patient_json(), true).unwrap();
    assert!(pretty.contains("\n  <id value=\"example\"/>\n  <meta>\n    <versionId value=\"3\"/>\n  </meta>"));
    assert_eq!(parse(&pretty).unwrap(), patient_json());
}

#[test]
fn bundles_hold_resources_and_outcomes() {
    let bundle = json!({
        "resourceType": "Bundle", "type": "transaction-response",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "a", "gender": "female"},
             "response": {"status": "201 Created", "location": "Patient/a/_history/1"}},
            {"response": {"status": "400 Bad Request", "outcome": {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "invalid", "diagnostics": "x < y & \"z\"", "expression": ["Patient.birthDate"]}]
            }}}
        ]
    });
    let xml = write(&bundle, false).unwrap();
    assert!(xml.contains(
        "<entry><resource><Patient><id value=\"a\"/><gender value=\"female\"/></Patient></resource>"
    ));
    assert!(xml.contains("<outcome><OperationOutcome><issue><severity value=\"error\"/>"));
    assert!(xml.contains("x &lt; y &amp; &quot;z&quot;"));
    assert_eq!(parse(&xml).unwrap(), bundle);
}

#[test]
fn a_narrative_without_its_namespace_or_not_xhtml_is_still_written_well_formed() {
    let p = json!({"resourceType": "Patient", "text": {"status": "generated", "div": "<div>a<br/>b</div>"}});
    let xml = write(&p, false).unwrap();
    assert!(xml.contains("<div xmlns=\"http://www.w3.org/1999/xhtml\">a<br/>b</div>"), "{xml}");
    let broken =
        json!({"resourceType": "Patient", "text": {"status": "generated", "div": "<div>a &nbsp; <b>"}});
    let xml = write(&broken, false).unwrap();
    assert!(roxmltree::Document::parse(&xml).is_ok(), "{xml}");
    assert!(xml.contains("&lt;div&gt;a &amp;nbsp; &lt;b&gt;"), "{xml}");
}

#[test]
fn not_a_resource_is_not_written() {
    assert_eq!(write(&json!({"a": 1}), false), None);
    assert_eq!(write(&json!([1]), false), None);
}

fn refused(xml: &str) -> XmlError {
    match parse(xml) {
        Ok(v) => panic!("accepted: {v}"),
        Err(e) => e,
    }
}

#[test]
fn refusals_say_where_and_why() {
    let ns = "xmlns=\"http://hl7.org/fhir\"";
    let e = refused(&format!("<Patient {ns}><name><fmaily value=\"x\"/></name></Patient>"));
    assert_eq!(e.path.as_deref(), Some("Patient.name[0].fmaily"));
    assert!(e.message.contains("unknown element 'fmaily'"), "{e}");
    let e = refused(&format!("<Patient {ns}><active value=\"yes\"/></Patient>"));
    assert_eq!(e.to_string(), "Patient.active: 'yes' is not a valid boolean (true or false)");
    let e = refused(&format!("<Patient {ns}><gender>male</gender></Patient>"));
    assert!(e.message.contains("value attributes"), "{e}");
    let e = refused(&format!("<Patient {ns}><gender value=\"male\"/><gender value=\"female\"/></Patient>"));
    assert!(e.message.contains("more than once"), "{e}");
    let e = refused("<Patient><id value=\"1\"/></Patient>");
    assert!(e.message.contains("not the FHIR namespace"), "{e}");
    let e = refused(&format!("<Patients {ns}/>"));
    assert!(e.message.contains("not an R4 resource type"), "{e}");
    let e = refused(&format!("<Patient {ns}><id value=\"1\">"));
    assert!(e.message.contains("not well-formed"), "{e}");
    let e = refused(&format!(
        "<Observation {ns}><valueQuantity><value value=\"1.\"/></valueQuantity></Observation>"
    ));
    assert!(e.message.contains("decimal"), "{e}");
    let e = refused(&format!("<Patient {ns}><birthDate/></Patient>"));
    assert!(e.message.contains("neither a value nor extensions"), "{e}");
    let e = refused(&format!("<Patient {ns}><contained/></Patient>"));
    assert!(e.message.contains("exactly one resource"), "{e}");
    let e =
        refused(&format!("<Patient {ns}><text><status value=\"generated\"/><div>x</div></text></Patient>"));
    assert!(e.message.contains("XHTML"), "{e}");
    let e = refused(&format!("<Patient {ns} foo=\"1\"/>"));
    assert!(e.message.contains("no attributes"), "{e}");
    // No DTD, so no entity expansion ("billion laughs") and no external entities.
    let e = refused(&format!(
        "<!DOCTYPE Patient [<!ENTITY a \"aaaa\">]><Patient {ns}><gender value=\"&a;\"/></Patient>"
    ));
    assert!(e.message.contains("not well-formed"), "{e}");
    // Nesting is bounded (extensions may nest without end).
    let deep = format!(
        "<Patient {ns}>{}{}</Patient>",
        "<extension url=\"u\">".repeat(300),
        "</extension>".repeat(300)
    );
    assert!(refused(&deep).message.contains("nested more than"));
}

#[test]
fn a_byte_order_mark_and_prefixed_names_are_read() {
    let v =
        parse("\u{feff}<f:Patient xmlns:f=\"http://hl7.org/fhir\"><f:id value=\"p\"/></f:Patient>").unwrap();
    assert_eq!(v, json!({"resourceType": "Patient", "id": "p"}));
}

/// Every example resource of the R4 package (see `crate::examples`) written as XML and read
/// back is the resource it was; skipped cleanly when the package is not there.
#[test]
fn specification_examples_round_trip_through_xml() {
    let Some(examples) = crate::examples::r4_examples() else { return };
    let (mut total, mut failed) = (0, Vec::new());
    for (name, v) in examples {
        total += 1;
        let xml = write(&v, total % 2 == 0).expect("a resource");
        match parse(&xml) {
            Ok(back) if back == v => {}
            Ok(back) => {
                failed.push(format!("{name}: read back differs: {}", first_difference(&v, &back, "")))
            }
            Err(e) => failed.push(format!("{name}: {e}")),
        }
    }
    eprintln!("{} of {total} examples round-trip through XML", total - failed.len());
    assert!(total > 2000, "only {total} examples found");
    assert!(failed.is_empty(), "{} failed, first: {:#?}", failed.len(), &failed[..failed.len().min(10)]);
}

fn first_difference(a: &Value, b: &Value, at: &str) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    Some(w) if w == v => {}
                    Some(w) => return first_difference(v, w, &format!("{at}.{k}")),
                    None => return format!("{at}.{k} missing"),
                }
            }
            y.keys().find(|k| !x.contains_key(*k)).map_or_else(String::new, |k| format!("{at}.{k} added"))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find(|(_, (v, w))| v != w)
            .map_or_else(String::new, |(i, (v, w))| first_difference(v, w, &format!("{at}[{i}]"))),
        _ => format!("{at}: {a} became {b}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// No input makes the reader panic: arbitrary text, and the example document with bytes
    /// removed, replaced or inserted anywhere.
    #[test]
    fn reading_never_panics(s in ".{0,200}") {
        let _ = parse(&s);
    }

    #[test]
    fn damaged_documents_are_refused_or_read_never_panic(
        at in 0usize..PATIENT.len(), len in 0usize..20, insert in "[<>/=\"&a-z ]{0,6}"
    ) {
        let mut bytes = PATIENT.as_bytes().to_vec();
        let end = (at + len).min(bytes.len());
        bytes.splice(at..end, insert.bytes());
        if let Ok(text) = std::str::from_utf8(&bytes) {
            if let Ok(v) = parse(text) {
                // Whatever is read writes back to XML that reads the same.
                let again = write(&v, false).expect("a resource");
                prop_assert_eq!(parse(&again).ok(), Some(v));
            }
        }
    }
}
