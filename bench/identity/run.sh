#!/usr/bin/env bash
# Lantern identity matching vs Splink, same data, same run. See RESULTS.md.
# Usage: bench/identity/run.sh [extra bench.py args, e.g. --sets febrl1,uk_100k]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${VENV:-/tmp/lantern-identity-bench-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q splink recordlinkage
fi
(cd "$root" && cargo build --release --bin lantern && cargo build --release -p lantern-identity --example gen_population)
target="${CARGO_TARGET_DIR:-$root/target}"
exec "$venv/bin/python" "$root/bench/identity/bench.py" --lantern "$target/release/lantern" --root "$root" "$@"
