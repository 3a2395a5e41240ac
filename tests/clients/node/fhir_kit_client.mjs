#!/usr/bin/env node
// A real FHIR client library for Node (npm `fhir-kit-client`) against a real Lantern server.
//
// Usage: node fhir_kit_client.mjs /path/to/lantern
//
// Starts `lantern serve` on a free port with a temporary data directory and a system token from
// Lantern's development issuer, then does what a JavaScript application does through the
// library: capability statement, create, read, vread, update, JSON Patch, search with paging,
// search in a patient's compartment, history, a transaction and a batch, `$everything`,
// `$validate`, reference resolution, delete. Exits non-zero on the first failure; always
// stops the server.
import { Client } from 'fhir-kit-client';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';

const binary = process.argv[2];
if (!binary) {
  console.error('usage: node fhir_kit_client.mjs /path/to/lantern');
  process.exit(2);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitHealthy(root, proc) {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`lantern serve exited early with ${proc.exitCode}`);
    try {
      const r = await fetch(`${root}/health`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('lantern serve did not become healthy');
}

/** The status of the error a client call threw (fhir-kit-client puts it on `response`). */
async function failure(promise) {
  try {
    await promise;
  } catch (e) {
    return e.response?.status;
  }
  throw new Error('the call succeeded');
}

async function exercise(base, token) {
  // Without a token: 401 with an OperationOutcome.
  assert.equal(await failure(new Client({ baseUrl: base }).search({ resourceType: 'Patient' })), 401);
  const client = new Client({ baseUrl: base, bearerToken: token });

  const cap = await client.capabilityStatement();
  assert.equal(cap.fhirVersion, '4.0.1');
  assert.ok(cap.rest[0].resource.some((r) => r.type === 'Observation'));

  // create, read, vread, update, patch
  const org = await client.create({ resourceType: 'Organization', body: { resourceType: 'Organization', name: 'Kit Trust' } });
  assert.ok(org.id);
  const patients = [];
  for (let i = 0; i < 7; i++) {
    patients.push(
      await client.create({
        resourceType: 'Patient',
        body: {
          resourceType: 'Patient',
          name: [{ family: 'Kitclient', given: [`P${i}`] }],
          gender: i % 2 ? 'male' : 'female',
          managingOrganization: { reference: `Organization/${org.id}` },
        },
      }),
    );
  }
  const p = patients[0];
  const read = await client.read({ resourceType: 'Patient', id: p.id });
  assert.equal(read.name[0].given[0], 'P0');
  assert.equal(read.meta.versionId, '1');
  const updated = await client.update({ resourceType: 'Patient', id: p.id, body: { ...read, birthDate: '1970-01-01' } });
  assert.equal(updated.meta.versionId, '2');
  const patched = await client.patch({
    resourceType: 'Patient',
    id: p.id,
    jsonPatch: [{ op: 'replace', path: '/birthDate', value: '1971-02-03' }],
  });
  assert.equal(patched.birthDate, '1971-02-03');
  const v1 = await client.vread({ resourceType: 'Patient', id: p.id, version: '1' });
  assert.equal(v1.birthDate, undefined);

  // search, paged through the server's own links
  let bundle = await client.search({ resourceType: 'Patient', searchParams: { family: 'kitclient', _count: 3 } });
  assert.equal(bundle.total, 7);
  const seen = new Set();
  while (bundle) {
    for (const e of bundle.entry ?? []) seen.add(e.resource.id);
    bundle = await client.nextPage({ bundle });
  }
  assert.equal(seen.size, 7);
  const males = await client.search({ resourceType: 'Patient', searchParams: { family: 'kitclient', gender: 'male' } });
  assert.equal(males.total, 3);
  const withOrg = await client.search({
    resourceType: 'Patient',
    searchParams: { 'organization.name': 'Kit Trust', _include: 'Patient:organization', _count: 100 },
  });
  assert.equal(withOrg.entry.filter((e) => e.search.mode === 'include').length, 1);
  const posted = await client.search({ resourceType: 'Patient', searchParams: { family: 'kitclient' }, options: { postSearch: true } });
  assert.equal(posted.total, 7);

  // a transaction: an encounter and two observations of the first patient, linked by urn:uuid
  const tx = await client.transaction({
    body: {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:6d1c9c55-1f7e-4b0e-9a34-000000000001',
          resource: { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: `Patient/${p.id}` } },
          request: { method: 'POST', url: 'Encounter' },
        },
        ...['8480-6', '8462-4'].map((code) => ({
          resource: {
            resourceType: 'Observation',
            status: 'final',
            code: { coding: [{ system: 'http://loinc.org', code }] },
            subject: { reference: `Patient/${p.id}` },
            encounter: { reference: 'urn:uuid:6d1c9c55-1f7e-4b0e-9a34-000000000001' },
            valueQuantity: { value: 120, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
          },
          request: { method: 'POST', url: 'Observation' },
        })),
      ],
    },
  });
  assert.equal(tx.type, 'transaction-response');
  assert.ok(tx.entry.every((e) => e.response.status.startsWith('201')));

  // search in the patient's compartment
  const inCompartment = await client.search({
    resourceType: 'Observation',
    compartment: { resourceType: 'Patient', id: p.id },
    searchParams: { code: 'http://loinc.org|8480-6' },
  });
  assert.equal(inCompartment.total, 1);
  const encounterRef = inCompartment.entry[0].resource.encounter.reference;
  assert.match(encounterRef, /^Encounter\/[^/]+$/);
  const encounter = await client.resolve({ reference: encounterRef });
  assert.equal(encounter.resourceType, 'Encounter');

  // a batch: each entry stands alone
  const batch = await client.batch({
    body: {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { request: { method: 'GET', url: `Patient/${p.id}` } },
        { request: { method: 'GET', url: 'Patient/does-not-exist' } },
      ],
    },
  });
  assert.ok(batch.entry[0].response.status.startsWith('200'));
  assert.ok(batch.entry[1].response.status.startsWith('404'));

  // operations
  const everything = await client.operation({ name: '$everything', resourceType: 'Patient', id: p.id, method: 'GET' });
  const types = new Set(everything.entry.map((e) => e.resource.resourceType));
  for (const t of ['Patient', 'Encounter', 'Observation', 'Organization']) assert.ok(types.has(t), `$everything lacks ${t}`);
  const outcome = await client.operation({
    name: '$validate',
    resourceType: 'Patient',
    input: { resourceType: 'Patient', gender: 'robot' },
  });
  assert.equal(outcome.resourceType, 'OperationOutcome');
  assert.equal(outcome.issue[0].severity, 'error');

  // history
  const history = await client.history({ resourceType: 'Patient', id: p.id });
  assert.equal(history.type, 'history');
  assert.equal(history.total, 3);

  // delete: then 410 on read
  await client.delete({ resourceType: 'Patient', id: patients[6].id });
  assert.equal(await failure(client.read({ resourceType: 'Patient', id: patients[6].id })), 410);
  assert.equal(await failure(client.read({ resourceType: 'Patient', id: 'never-made' })), 404);
}

const port = await freePort();
const data = mkdtempSync(join(tmpdir(), 'lantern-fhir-kit-'));
const root = `http://127.0.0.1:${port}`;
const token = execFileSync(binary, ['token', '--data', data, '--system'], { encoding: 'utf8' }).trim();
const proc = spawn(binary, ['serve', '--data', data, '--http', `127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
let stderr = '';
proc.stderr.on('data', (d) => {
  stderr = (stderr + d).slice(-4000);
});
let code = 0;
try {
  await waitHealthy(root, proc);
  await exercise(`${root}/fhir`, token);
  console.log('fhir-kit-client: ok');
} catch (e) {
  console.error(e);
  if (e.response) console.error('response:', e.response.status, JSON.stringify(e.response.data).slice(0, 2000));
  console.error('server stderr (last lines):\n' + stderr);
  console.error(`fhir-kit-client: FAILED: ${e.message}`);
  code = 1;
} finally {
  proc.kill();
  rmSync(data, { recursive: true, force: true });
}
process.exit(code);
