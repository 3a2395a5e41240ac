#!/usr/bin/env python3
"""FHIR XML against an independent implementation: the PyPI `fhir.resources` models (with lxml).

Usage: fhir_resources_xml.py /path/to/lantern

Starts `lantern serve`, then for a set of resources (built in, plus the R4 specification's
examples of common clinical types when `target/r4pkg/package` is there) checks both ways:
Lantern reads the XML that fhir.resources writes (PUT as application/fhir+xml, read back as
JSON), and fhir.resources reads the XML Lantern writes (GET with _format=xml) into the same
model as Lantern's JSON of it. fhir.resources models FHIR R4B, which for these types is R4's
shape; an example R4B's models refuse is counted as skipped, not failed.
"""
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from fhir.resources.R4B import get_fhir_model_class

from support.lantern_server import run

XML = "application/fhir+xml"
# Types whose R4 and R4B definitions agree, and that a shared care record holds.
COMMON = {
    "Patient", "Observation", "Condition", "Encounter", "AllergyIntolerance", "Procedure",
    "Immunization", "MedicationStatement", "MedicationRequest", "DiagnosticReport",
    "Organization", "Practitioner", "CarePlan", "Appointment", "DocumentReference",
}

BUILT_IN = [
    {
        "resourceType": "Patient", "id": "xml-pat",
        "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Ann <b>Xml</b> &amp; co</div>"},
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}],
        "active": True,
        "name": [{"family": "Xml", "given": ["Ann", "Marie"]}],
        "telecom": [{"system": "phone", "value": "0113 496 0000", "use": "home"}],
        "gender": "female",
        "birthDate": "1980-02-03",
        "_birthDate": {"extension": [{
            "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
            "valueDateTime": "1980-02-03T04:05:06Z",
        }]},
        "address": [{"line": ["1 Line", "Flat \"B\" <rear>"], "city": "Leeds", "postalCode": "LS1 4AP"}],
        "multipleBirthInteger": 2,
    },
    {
        "resourceType": "Observation", "id": "xml-obs", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}], "text": "Blood pressure"},
        "subject": {"reference": "Patient/xml-pat"},
        "effectiveDateTime": "2026-12-01T10:30:00+00:00",
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
             "valueQuantity": {"value": 120.5, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
             "valueQuantity": {"value": 80, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
        ],
        "note": [{"text": "Taken twice.\nSecond reading kept."}],
    },
    {
        "resourceType": "MedicationStatement", "id": "xml-med", "status": "active",
        "medicationCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "322236009"}]},
        "subject": {"reference": "Patient/xml-pat"},
        "dosage": [{"text": "1 tablet twice a day", "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                    "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}]}],
    },
]


def request(method, url, token, body=None, ctype=None, accept=None):
    req = urllib.request.Request(url, method=method, data=body)
    req.add_header("Authorization", f"Bearer {token}")
    if ctype:
        req.add_header("Content-Type", ctype)
    if accept:
        req.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


INDEX_LINK = "urn:lantern:extension:patient-index-link"


def without_element_ids(v):
    """fhir.resources 7.1 drops an element's `id` attribute when it reads XML (`<contact
    id="c1">` comes back without it), so element ids are left out of the comparisons; Lantern's
    own tests check that they are written and read."""
    if isinstance(v, dict):
        return {k: without_element_ids(x) for k, x in v.items() if k != "id" or "resourceType" in v}
    if isinstance(v, list):
        return [without_element_ids(x) for x in v]
    return v


def comparable(model):
    """The model as a dict without `meta` (Lantern adds its version and time), `text` (compared
    on its own: lxml may re-serialise the XHTML) and the links Lantern's patient index adds."""
    d = json.loads(model.json())
    d.pop("meta", None)
    d.pop("text", None)
    links = [l for l in d.get("link", []) if not any(e.get("url") == INDEX_LINK for e in l.get("extension", []))]
    if d.get("resourceType") == "Patient":
        d["link"] = links
        if not links:
            d.pop("link")
    return without_element_ids(d)


def examples():
    pkg = Path(os.environ.get("LANTERN_R4_PACKAGE", Path(__file__).resolve().parents[2] / "target/r4pkg/package"))
    if not pkg.is_dir():
        print(f"no R4 package at {pkg}: built-in resources only")
        return []
    found = []
    for f in sorted(pkg.glob("*.json")):
        try:
            v = json.loads(f.read_text())
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(v, dict) and v.get("resourceType") in COMMON and v.get("id"):
            found.append(v)
    return found


def exercise(base, token):
    checked = skipped = 0
    failures = []
    for r in BUILT_IN + examples():
        rtype, rid = r["resourceType"], r["id"]
        cls = get_fhir_model_class(rtype)
        try:
            model = cls.parse_obj(r)
        except Exception:  # an R4 example R4B's model refuses
            skipped += 1
            continue
        url = f"{base}/{rtype}/{rid}"
        # fhir.resources writes XML; Lantern reads it.
        xml = model.xml()
        status, _, body = request("PUT", url, token, xml.encode() if isinstance(xml, str) else xml, XML)
        if status not in (200, 201):
            if r in BUILT_IN:
                failures.append(f"{rtype}/{rid}: PUT in XML answered {status}: {body[:300]!r}")
            else:
                skipped += 1  # Lantern's validation refuses some of the specification's examples
            continue
        status, _, body = request("GET", url, token, accept="application/fhir+json")
        stored = cls.parse_obj(json.loads(body))
        if comparable(stored) != comparable(model):
            failures.append(f"{rtype}/{rid}: what Lantern read from XML differs:\n {comparable(stored)}\n {comparable(model)}")
            continue
        # Lantern writes XML; fhir.resources reads it.
        status, ctype, body = request("GET", f"{url}?_format=xml", token)
        if status != 200 or not ctype.startswith(XML):
            failures.append(f"{rtype}/{rid}: GET _format=xml answered {status} {ctype}")
            continue
        try:
            back = cls.parse_raw(body, content_type="text/xml")
        except Exception as e:
            failures.append(f"{rtype}/{rid}: fhir.resources cannot read Lantern's XML: {e}\n{body[:600]!r}")
            continue
        if comparable(back) != comparable(stored):
            failures.append(f"{rtype}/{rid}: Lantern's XML reads differently:\n {comparable(back)}\n {comparable(stored)}")
            continue
        if stored.text is not None and (back.text is None or back.text.status != stored.text.status or "<div" not in back.text.div):
            failures.append(f"{rtype}/{rid}: the narrative did not survive: {back.text}")
            continue
        checked += 1
    # A search Bundle in XML, read by the same models.
    status, ctype, body = request("GET", f"{base}/Observation?subject=Patient/xml-pat&_include=Observation:subject", token, accept=XML)
    assert status == 200 and ctype.startswith(XML), (status, ctype)
    bundle = get_fhir_model_class("Bundle").parse_raw(body, content_type="text/xml")
    kinds = sorted(e.resource.resource_type for e in bundle.entry)
    assert kinds == ["Observation", "Patient"], kinds
    # A refusal in XML is an OperationOutcome the models read.
    status, ctype, body = request("POST", f"{base}/Patient", token, b"<Patient xmlns=\"http://hl7.org/fhir\"><nope/></Patient>", XML, XML)
    assert status == 400, status
    oo = get_fhir_model_class("OperationOutcome").parse_raw(body, content_type="text/xml")
    assert "nope" in oo.issue[0].diagnostics, oo.issue[0].diagnostics
    print(f"{checked} resources both ways, {skipped} examples skipped (R4B's models or Lantern's validation refuse them)")
    assert not failures, f"{len(failures)} failed; first:\n" + "\n".join(failures[:5])
    assert checked >= len(BUILT_IN) + (100 if examples() else 0), checked


if __name__ == "__main__":
    sys.exit(run(sys.argv, "fhir.resources XML", exercise, __doc__))
