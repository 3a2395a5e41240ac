#!/usr/bin/env python3
"""SMART on FHIR's Python client (PyPI `fhirclient`) against a real Lantern server.

Usage: fhirclient_client.py /path/to/lantern

`fhirclient` parses every response into its generated R4 model classes and refuses one with
an element R4 does not define, or of the wrong type, so this checks that what Lantern sends
(CapabilityStatement, resources, search and history Bundles, transaction responses,
OperationOutcomes) is strictly R4 as well as that the interactions work: create, read, update,
search with paging through the server's links, a transaction posted to the base, `$meta-add`,
`ConceptMap/$translate` and `CodeSystem/$subsumes` (their Parameters parsed as R4),
`Patient/$summary` and `Composition/$document` (document Bundles parsed as R4), delete.
Starts `lantern serve` on a free port with a temporary data directory; exits non-zero on any
failure; always stops the server.
"""
import sys

from fhirclient import client
from fhirclient.models.bundle import Bundle
from fhirclient.models.capabilitystatement import CapabilityStatement
from fhirclient.models.observation import Observation
from fhirclient.models.operationoutcome import OperationOutcome
from fhirclient.models.parameters import Parameters
from fhirclient.models.patient import Patient

from support.lantern_server import run


def exercise(base, token):
    smart = client.FHIRClient(settings={"app_id": "lantern-ci", "api_base": base})
    smart.server.session.headers["Authorization"] = f"Bearer {token}"
    server = smart.server

    cap = server.capabilityStatement
    assert isinstance(cap, CapabilityStatement) and cap.fhirVersion == "4.0.1", cap
    assert any(r.type == "Patient" for r in cap.rest[0].resource)

    # create: the response is the stored resource, parsed strictly
    made = []
    for i in range(5):
        p = Patient({"name": [{"family": "Fhirclient", "given": [f"G{i}"]}], "gender": "male" if i % 2 else "female"})
        made.append(Patient(p.create(server)))
    assert all(p.id and p.meta.versionId == "1" for p in made)

    # read, update
    p = Patient.read(made[0].id, server)
    assert p.name[0].given == ["G0"]
    p.active = True
    p.update(server)
    p = Patient.read(made[0].id, server)
    assert p.active is True and p.meta.versionId == "2"

    # search, paged by the client following the server's next links
    search = Patient.where(struct={"family": "fhirclient", "_count": "2"})
    pages = list(search.perform_iter(server))
    assert len(pages) == 3, len(pages)
    assert all(isinstance(b, Bundle) and b.type == "searchset" and b.total == 5 for b in pages)
    ids = [e.resource.id for b in pages for e in b.entry or []]
    assert sorted(ids) == sorted(x.id for x in made), ids
    women = list(Patient.where(struct={"family": "fhirclient", "gender": "female"}).perform_resources_iter(server))
    assert len(women) == 3

    # a transaction, posted to the base (fhirclient sends it to `base/`)
    tx = Bundle(
        {
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": "urn:uuid:0c7e6d52-7c59-4c1e-8d0e-00000000000a",
                    "resource": {"resourceType": "Patient", "name": [{"family": "Transacted"}]},
                    "request": {"method": "POST", "url": "Patient"},
                },
                {
                    "resource": {
                        "resourceType": "Observation",
                        "status": "final",
                        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
                        "subject": {"reference": "urn:uuid:0c7e6d52-7c59-4c1e-8d0e-00000000000a"},
                        "valueQuantity": {"value": 70, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
                    },
                    "request": {"method": "POST", "url": "Observation"},
                },
            ],
        }
    )
    resp = Bundle(tx.create(server))
    assert resp.type == "transaction-response"
    assert all(e.response.status.startswith("201") for e in resp.entry)
    obs = list(Observation.where(struct={"code": "http://loinc.org|29463-7"}).perform_resources_iter(server))
    assert len(obs) == 1 and obs[0].subject.reference.startswith("Patient/"), obs

    # history of the updated patient: a strict history Bundle
    history = Bundle.read_from(f"Patient/{made[0].id}/_history", server)
    assert history.type == "history" and history.total == 2

    # an OperationOutcome parses as one
    outcome = OperationOutcome(server.post_json("Patient/$validate", {"resourceType": "Patient", "gender": "robot"}).json())
    assert outcome.issue[0].severity == "error"

    # $meta-add answers a Parameters holding the new Meta; $translate and $subsumes answer
    # Parameters too: each parses strictly as R4
    meta = {"tag": [{"system": "urn:lantern:ci", "code": "reviewed"}]}
    params = {"resourceType": "Parameters", "parameter": [{"name": "meta", "valueMeta": meta}]}
    out = Parameters(server.post_json(f"Patient/{made[1].id}/$meta-add", params).json())
    assert out.parameter[0].valueMeta.tag[0].code == "reviewed" and out.parameter[0].valueMeta.versionId == "2"
    cs = {"resourceType": "CodeSystem", "id": "ci-kinds", "url": "urn:lantern:ci:kinds", "status": "active",
          "content": "complete", "concept": [{"code": "a", "concept": [{"code": "a1"}]}]}
    server.put_json("CodeSystem/ci-kinds", cs)
    cm = {"resourceType": "ConceptMap", "id": "ci-map", "status": "active", "group": [
        {"source": "urn:lantern:ci:kinds", "target": "http://loinc.org",
         "element": [{"code": "a1", "target": [{"code": "29463-7", "equivalence": "equivalent"}]}]}]}
    server.put_json("ConceptMap/ci-map", cm)
    t = Parameters(server.request_json("ConceptMap/$translate?system=urn:lantern:ci:kinds&code=a1"))
    assert t.parameter[0].valueBoolean is True and t.parameter[1].part[1].valueCoding.code == "29463-7"
    sub = Parameters(server.request_json("CodeSystem/$subsumes?system=urn:lantern:ci:kinds&codeA=a&codeB=a1"))
    assert sub.parameter[0].valueCode == "subsumes"

    # Patient/$summary (IPS) and Composition/$document: document Bundles that parse strictly as R4
    pid = made[1].id
    server.post_json("Condition", {"resourceType": "Condition", "subject": {"reference": f"Patient/{pid}"},
                                   "code": {"text": "Asthma"},
                                   "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]}})
    summary = Bundle(server.request_json(f"Patient/{pid}/$summary"))
    assert summary.type == "document" and summary.entry[0].resource.resource_type == "Composition", summary.type
    sections = {s.code.coding[0].code: s for s in summary.entry[0].resource.section}
    assert "Asthma" in sections["11450-4"].text.div and sections["48765-2"].emptyReason is not None, sections.keys()
    letter = {"resourceType": "Composition", "status": "final", "title": "Letter", "date": "2026-12-01",
              "type": {"text": "letter"}, "author": [{"display": "Dr A"}], "subject": {"reference": f"Patient/{pid}"}}
    cid = server.post_json("Composition", letter).json()["id"]
    doc = Bundle(server.request_json(f"Composition/{cid}/$document"))
    assert [e.resource.resource_type for e in doc.entry] == ["Composition", "Patient"]

    # delete: then the read fails with 410
    made[4].delete(server)
    try:
        Patient.read(made[4].id, server)
    except Exception as e:  # requests' HTTPError from fhirclient's raise_for_status
        assert getattr(getattr(e, "response", None), "status_code", None) == 410, e
    else:
        raise AssertionError("a deleted patient could still be read")


if __name__ == "__main__":
    sys.exit(run(sys.argv, "fhirclient", exercise, __doc__))
