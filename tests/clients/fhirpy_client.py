#!/usr/bin/env python3
"""A real FHIR client against a real Lantern server.

Usage: fhirpy_client.py /path/to/lantern

Starts `lantern serve` on a free port with a temporary data directory, then uses the PyPI
`fhirpy` synchronous client to create, read, update, search (parameters, chains, _include),
page through results and delete. Exits non-zero on any failure; always stops the server.
"""
import json
import sys
import urllib.error
import urllib.request

from fhirpy import SyncFHIRClient

from support.lantern_server import run


def exercise(base, token):
    # Without a token the server refuses (401, with an OperationOutcome saying why).
    try:
        urllib.request.urlopen(f"{base}/Patient", timeout=10)
    except urllib.error.HTTPError as e:
        assert e.code == 401, e.code
        assert json.load(e)["resourceType"] == "OperationOutcome"
    else:
        raise AssertionError("an unauthenticated search was answered")
    client = SyncFHIRClient(base, authorization=f"Bearer {token}")

    # create
    org = client.resource("Organization", name="Fhirpy Trust")
    org.save()
    assert org.id, "created organisation has an id"
    patients = []
    for i in range(7):
        p = client.resource(
            "Patient",
            name=[{"family": f"Fhirpy{i}", "given": ["Test"]}],
            gender="female" if i % 2 else "male",
            birthDate=f"19{70 + i}-01-0{1 + i % 9}",
            identifier=[{"system": "http://example.org/mrn", "value": f"FP{i}"}],
            managingOrganization=org.to_reference(),
        )
        p.save()
        patients.append(p)
    obs = client.resource(
        "Observation",
        status="final",
        code={"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
        subject=patients[0].to_reference(),
        valueQuantity={"value": 120, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
    )
    obs.save()

    # read
    got = client.reference("Patient", patients[0].id).to_resource()
    assert got["name"][0]["family"] == "Fhirpy0", got
    assert got["meta"]["versionId"] == "1"

    # update
    got["gender"] = "other"
    got.save()
    again = client.reference("Patient", patients[0].id).to_resource()
    assert again["gender"] == "other"
    assert again["meta"]["versionId"] == "2"

    # search with parameters
    found = client.resources("Patient").search(family="fhirpy", gender="female").fetch_all()
    assert len(found) == 3, [p["name"] for p in found]
    found = client.resources("Patient").search(identifier="http://example.org/mrn|FP3").fetch()
    assert [p.id for p in found] == [patients[3].id]
    found = client.resources("Patient").search(birthdate__ge="1974").fetch_all()
    assert len(found) == 3, len(found)
    assert client.resources("Patient").search(family="fhirpy").count() == 7

    # chained search
    found = client.resources("Observation").search(**{"subject:Patient.name": "fhirpy0"}).fetch()
    assert [o.id for o in found] == [obs.id]
    found = client.resources("Observation").search(**{"patient.organization.name": "fhirpy trust"}).fetch()
    assert [o.id for o in found] == [obs.id]
    found = client.resources("Patient").search(**{"_has:Observation:patient:code": "8480-6"}).fetch()
    assert [p.id for p in found] == [patients[0].id]

    # _include
    raw = client.resources("Observation").search(_id=obs.id).include("Observation", "subject").fetch_raw()
    kinds = sorted((e["resource"]["resourceType"], e["search"]["mode"]) for e in raw["entry"])
    assert kinds == [("Observation", "match"), ("Patient", "include")], kinds

    # sort and paging through next links
    ordered = client.resources("Patient").search(family="fhirpy").sort("-birthdate").limit(2).fetch_all()
    families = [p["name"][0]["family"] for p in ordered]
    assert families == [f"Fhirpy{i}" for i in range(6, -1, -1)], families

    # delete
    patients[6].delete()
    assert client.resources("Patient").search(family="fhirpy").count() == 6
    try:
        client.reference("Patient", patients[6].id).to_resource()
    except Exception as e:  # fhirpy raises ResourceNotFound / OperationOutcome on 410
        assert "410" in str(e) or "deleted" in str(e).lower() or "not found" in str(e).lower() or "Gone" in str(e), e
    else:
        raise AssertionError("a deleted patient could still be read")


if __name__ == "__main__":
    sys.exit(run(sys.argv, "fhirpy client", exercise, __doc__))
