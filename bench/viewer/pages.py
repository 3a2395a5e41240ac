#!/usr/bin/env python3
"""Viewer page times: how long each main page of the clinician viewer takes to come back, as a
signed-in GP and A&E doctor, over many loads of the same demo region. Standard library only.

    python3 bench/viewer/pages.py target/release/lantern [--data DIR] [--patients N] [--loads N]

Builds the demo region in DIR if it is not there (`lantern demo --no-serve`), serves it on a free
port, signs a session token for the demo GP with `lantern token`, and times GET requests to the
search, summary and timeline pages of the showcase patients the GP can open. Prints median and
95th percentile per page. Whole-page server time (no browser rendering); informational.
"""
import argparse, json, os, socket, statistics, subprocess, sys, time, urllib.request, urllib.error

ap = argparse.ArgumentParser()
ap.add_argument("bin")
ap.add_argument("--data", default="/tmp/lantern-viewer-bench")
ap.add_argument("--patients", type=int, default=2000)
ap.add_argument("--loads", type=int, default=40)
a = ap.parse_args()

if not os.path.exists(os.path.join(a.data, "demo", "users.json")):
    subprocess.run([a.bin, "demo", "--data", a.data, "--patients", str(a.patients), "--no-serve"], check=True)
users = json.load(open(os.path.join(a.data, "demo", "users.json")))
showcase = json.load(open(os.path.join(a.data, "demo", "showcase.json")))
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
root = f"http://127.0.0.1:{port}"
server = subprocess.Popen([a.bin, "demo", "--data", a.data, "--http", f"127.0.0.1:{port}"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def token(u):
    args = [a.bin, "token", "--data", a.data, "--user", u["id"], "--org", u["org"], "--role", u["role"], "--name", u["name"]]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()

def get(path, tok):
    req = urllib.request.Request(root + path, headers={"Cookie": f"lantern_session={tok}"})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req) as r:
            body = r.read().decode()
            status = r.status
    except urllib.error.HTTPError as e:
        body, status = e.read().decode(), e.code
    return (time.perf_counter() - t0) * 1000, status, body

try:
    for _ in range(300):
        try:
            urllib.request.urlopen(root + "/health"); break
        except Exception:
            time.sleep(0.2)
    gp = next(u for u in users if u.get("role") == "gp")
    tok = token(gp)
    records = []
    for sc in showcase:
        _, _, body = get(f"/patients?nhs={sc['nhs_number']}", tok)
        i = body.find('<td><a href="/patients/')  # a result row, not a break-glass link
        if i >= 0:
            j = body.index('"', i) + 1
            records.append(body[j:body.index('"', j)])
    if not records:
        sys.exit("the GP can open none of the showcase patients")
    pages = {"/patients?nhs=...": [f"/patients?nhs={sc['nhs_number']}" for sc in showcase],
             "/patients/{id}": records, "/patients/{id}/timeline": [r + "/timeline" for r in records],
             "/patients?family=&birthdate=": [f"/patients?family={sc['name'].split()[-1]}&birthdate={sc.get('birth_date') or ''}" for sc in showcase]}
    print(f"{len(records)} records the GP can open; {a.loads} loads per page kind (2 cores, SQLite)")
    print(f"{'page':34} {'median ms':>10} {'p95 ms':>8} {'status':>8}")
    for name, paths in pages.items():
        times, statuses = [], set()
        for i in range(a.loads):
            ms, st, _ = get(paths[i % len(paths)], tok)
            times.append(ms); statuses.add(st)
        times.sort()
        print(f"{name:34} {statistics.median(times):10.1f} {times[int(len(times) * 0.95) - 1]:8.1f} {','.join(map(str, sorted(statuses))):>8}")
finally:
    server.terminate()
