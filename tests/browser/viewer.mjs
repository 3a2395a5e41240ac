// The clinician viewer in a real browser: builds a small demo region with the real binary,
// serves it, and walks through it as the demo users would — sign in, find a patient, open the
// record and its timeline, break the glass, check that the audit shows it (privacy officer's
// queue, the patient's "who looked") — saving a screenshot of every main page.
//
// Usage: node tests/browser/viewer.mjs path/to/lantern [artefact-dir]
// Needs Debian's chromium (/usr/bin/chromium or CHROMIUM) and `npm install` in this folder.
import { chromium } from 'playwright-core';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import assert from 'node:assert/strict';

const bin = process.argv[2];
const out = process.argv[3] || 'target/browser-artifacts';
const exe = process.env.CHROMIUM || '/usr/bin/chromium';
assert.ok(bin && existsSync(bin), `give the lantern binary (${bin})`);
assert.ok(existsSync(exe), `Chromium not found at ${exe}`);
mkdirSync(out, { recursive: true });

const freePort = () => new Promise((ok) => {
  const s = net.createServer();
  s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => ok(p)); });
});

const data = mkdtempSync(join(tmpdir(), 'lantern-browser-'));
const people = process.env.LANTERN_BROWSER_PATIENTS || '120';
console.log(`building a demo region of ${people} people in ${data}`);
const build = spawnSync(bin, ['demo', '--data', data, '--patients', people, '--no-serve'], { stdio: 'inherit' });
assert.equal(build.status, 0, 'lantern demo --no-serve failed');
const users = JSON.parse(readFileSync(join(data, 'demo/users.json'), 'utf8'));
const showcase = JSON.parse(readFileSync(join(data, 'demo/showcase.json'), 'utf8'));
const byRole = (role) => users.find((u) => u.role === role) || assert.fail(`no demo user with role ${role}`);
const patients = users.filter((u) => u.kind === 'patient');

const port = await freePort();
const root = `http://127.0.0.1:${port}`;
const server = spawn(bin, ['demo', '--data', data, '--patients', people, '--http', `127.0.0.1:${port}`], { stdio: ['ignore', 'inherit', 'inherit'] });
let passed = 0, failed = 0;
const timings = [];

async function waitForServer() {
  for (let i = 0; i < 300; i++) {
    try { if ((await fetch(`${root}/health`)).ok) return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the server did not start');
}

async function step(name, fn) {
  try { await fn(); passed++; console.log(`ok - ${name}`); }
  catch (e) { failed++; console.log(`not ok - ${name}\n  ${String(e.stack || e).split('\n').join('\n  ')}`); }
}

async function visit(page, path) {
  const t0 = Date.now();
  const r = await page.goto(`${root}${path}`);
  timings.push([path.split('?')[0].replace(/\/patients\/[^/]+/, '/patients/{id}'), Date.now() - t0]);
  return r;
}

async function signIn(page, user) {
  await visit(page, '/signin');
  await page.getByRole('button', { name: `Sign in as ${user.name}` }).first().click();
  await page.waitForLoadState();
}

async function signOut(page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/signin/);
}

// Every form control has a label a screen reader can announce.
async function checkLabels(page, name) {
  const unlabelled = await page.$$eval('input:not([type=hidden]), select, textarea', (els) =>
    els.filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map((e) => e.outerHTML));
  assert.deepEqual(unlabelled, [], `${name}: controls without a label`);
}

try {
  await waitForServer();
  const browser = await chromium.launch({ executablePath: exe, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  let record = null;    // a record the GP can open
  let glassed = null;   // the NHS number the A&E doctor broke the glass for
  const reason = 'Unconscious in resus, need allergies and medications';

  await step('signed out, the viewer asks you to sign in', async () => {
    await visit(page, '/');
    assert.match(page.url(), /\/signin/);
    await page.screenshot({ path: join(out, '01-sign-in.png'), fullPage: true });
    await checkLabels(page, 'sign-in');
  });

  await step('a GP signs in and finds a patient by NHS number', async () => {
    await signIn(page, byRole('gp'));
    for (const s of showcase) {
      await visit(page, '/patients');
      await page.getByLabel('NHS number').fill(s.nhs_number);
      await page.getByRole('button', { name: 'Search' }).click();
      await page.waitForLoadState();
      const link = page.locator('table a[href^="/patients/"]').first();
      if (await link.count()) { record = await link.getAttribute('href'); break; }
    }
    assert.ok(record, 'the GP could open none of the showcase patients');
    await page.screenshot({ path: join(out, '02-find-patient.png'), fullPage: true });
    await checkLabels(page, 'find');
  });

  await step('the summary shows warnings, medications and sources', async () => {
    await visit(page, record);
    for (const h of ['Warnings and allergies', 'Current medications', 'Active problems', 'Who is involved in their care'])
      await page.getByRole('heading', { name: h }).waitFor();
    assert.ok(await page.locator('.src').count() > 0, 'items say where they came from');
    await page.screenshot({ path: join(out, '03-summary.png'), fullPage: true });
  });

  await step('the timeline filters by organisation', async () => {
    await visit(page, `${record}/timeline`);
    await page.getByRole('heading', { name: 'Timeline' }).waitFor();
    await checkLabels(page, 'timeline');
    await page.screenshot({ path: join(out, '04-timeline.png'), fullPage: true });
    const options = await page.locator('#org option').count();
    if (options > 1) {
      await page.selectOption('#org', { index: 1 });
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForLoadState();
      assert.match(page.url(), /org=/);
    }
    await signOut(page);
  });

  await step('an A&E doctor without a relationship breaks the glass', async () => {
    const ae = byRole('ae-doctor');
    await signIn(page, ae);
    // The demo's patients first: one of them has no relationship with the acute trust, and
    // signs in below to see this emergency access in who looked at their record.
    const candidates = [...patients.map((p) => p.nhs_number), ...showcase.map((s) => s.nhs_number)];
    for (const nhs of candidates) {
      await visit(page, `/patients?nhs=${nhs}`);
      if (await page.getByText('no care relationship').count()) { glassed = nhs; break; }
    }
    assert.ok(glassed, 'every showcase patient already has a relationship with the acute trust');
    await page.screenshot({ path: join(out, '05-no-relationship.png'), fullPage: true });
    await page.getByRole('link', { name: /Break the glass/ }).click();
    await page.waitForLoadState();
    await checkLabels(page, 'break-glass');
    await page.selectOption('#reason', 'unconscious-patient');
    await page.getByLabel('Why do you need this record?').fill(reason);
    await page.screenshot({ path: join(out, '06-break-glass.png'), fullPage: true });
    await page.getByRole('button', { name: /Break the glass/ }).click();
    await page.waitForLoadState();
    await page.getByText('Emergency access (break-glass)').waitFor();
    await page.screenshot({ path: join(out, '07-record-after-break-glass.png'), fullPage: true });
    await signOut(page);
  });

  await step('the privacy officer sees the access in the review queue and reviews it', async () => {
    await signIn(page, byRole('privacy-officer'));
    await visit(page, '/privacy/break-glass');
    await page.getByText(reason).first().waitFor();
    await checkLabels(page, 'privacy queue');
    await page.screenshot({ path: join(out, '08-privacy-queue.png'), fullPage: true });
    const form = page.locator('form[action^="/privacy/break-glass/"]').first();
    await form.locator('select').selectOption('appropriate');
    await form.locator('input[type=text]').fill('Checked with the emergency department');
    await form.getByRole('button', { name: 'Record the review' }).click();
    await page.waitForLoadState();
    await visit(page, '/privacy/break-glass?status=reviewed');
    await page.getByText('Checked with the emergency department').first().waitFor();
    await signOut(page);
  });

  await step('the data-quality officer sees the identity review queue', async () => {
    await signIn(page, byRole('data-quality'));
    await visit(page, '/data-quality/reviews');
    await page.getByRole('heading', { name: 'Identity reviews' }).waitFor();
    await checkLabels(page, 'identity reviews');
    await page.screenshot({ path: join(out, '09-identity-reviews.png'), fullPage: true });
    await signOut(page);
  });

  await step('the patient sees their record and who looked at it, emergency access included', async () => {
    const patient = patients.find((p) => p.nhs_number === glassed);
    assert.ok(patient, 'the A&E doctor broke the glass for none of the demo patients');
    await signIn(page, patient);
    await page.waitForURL(/\/patients\//);
    await page.screenshot({ path: join(out, '10-my-record.png'), fullPage: true });
    await visit(page, '/my-record/who-looked');
    await page.getByRole('heading', { name: 'Who looked at your record' }).waitFor();
    await page.getByText('emergency access').first().waitFor();
    await page.getByText(reason).first().waitFor();
    await page.getByText(byRole('ae-doctor').name).first().waitFor();
    await page.screenshot({ path: join(out, '11-who-looked.png'), fullPage: true });
    await signOut(page);
  });

  await step('the audit log verifies', async () => {
    const v = spawnSync(bin, ['audit', 'verify', '--data', data], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stdout + v.stderr);
  });
  await browser.close();
} catch (e) {
  failed++;
  console.log(`not ok - setup\n  ${e.stack || e}`);
} finally {
  server.kill('SIGTERM');
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const byPage = {};
for (const [p, ms] of timings) (byPage[p] ||= []).push(ms);
console.log('page load times in the browser (median ms; informational, not asserted):');
for (const [p, xs] of Object.entries(byPage)) console.log(`  ${p}: ${median(xs)} ms (${xs.length} loads)`);
console.log(`screenshots in ${out}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
