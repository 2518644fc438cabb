#!/usr/bin/env python3
"""Turns the Google Benchmark JSON files of bench/run.sh into the
"## Micro-benchmarks" section of docs/benchmarks.md, so the numbers in the
docs are the measured ones, never typed by hand.

usage: report.py RESULTS_DIR COMMAND [--update FILE]
  prints the section; with --update, replaces (or appends) the section in FILE.
"""
import glob
import json
import os
import re
import subprocess
import sys

ORDER = ["wire", "aead", "recovery", "timer", "stream", "table", "handshake", "simrun"]
TITLES = {
    "wire": "Header and frame encode/decode (bench_wire)",
    "aead": "AEAD seal/open (bench_aead; 1 = ChaCha20-Poly1305, 2 = AES-256-GCM)",
    "recovery": "ACK processing in recovery, per range (bench_recovery)",
    "timer": "Timer wheel arm and expire (bench_timer)",
    "stream": "Stream reassembly (bench_stream)",
    "table": "Session lookup (bench_table)",
    "handshake": "Handshake steps and X25519 (bench_handshake)",
    "simrun": "Whole engine in the simulator, per CPU second (bench_simrun)",
}
SKIP = {"name", "family_index", "per_family_instance_index", "run_name", "run_type",
        "repetitions", "repetition_index", "threads", "iterations", "real_time",
        "cpu_time", "time_unit", "label", "error_occurred", "error_message",
        "aggregate_name", "aggregate_unit"}


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def run_date(results):
    """The `date` run.sh recorded when the run started (now, if absent)."""
    path = os.path.join(results, "date.txt")
    return open(path).read().strip() if os.path.exists(path) else sh("date")


def human_time(ns):
    for unit, div in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= div:
            return f"{ns / div:.3g} {unit}"
    return f"{ns:.3g} ns"


def human_rate(key, v):
    if key == "bytes_per_second":
        return f"{v * 8 / 1e9:.2f} Gbit/s"
    if key.endswith("per_second") or key == "packets":
        name = "items/s" if key == "items_per_second" else f"{key}/s"
        if key == "packets":
            name = "packets/s"
        for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
            if v >= div:
                return f"{v / div:.3g}{unit} {name}"
        return f"{v:.3g} {name}"
    if key == "goodput_virtual":
        return f"virtual goodput {v / 1e6:.0f} Mbit/s"
    return f"{key}={v:.4g}"


def to_ns(b):
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
    return b["cpu_time"] * scale, b["real_time"] * scale


def table(runs):
    out = ["| benchmark | CPU time | wall time | rates and counters |", "| --- | --- | --- | --- |"]
    for b in runs:
        if b.get("run_type") != "iteration":
            continue
        if b.get("error_occurred"):
            out.append(f"| {b['name']} | skipped: {b.get('error_message', '')} | | |")
            continue
        cpu, real = to_ns(b)
        extra = [human_rate(k, v) for k, v in b.items() if k not in SKIP]
        if b.get("label"):
            extra.append(b["label"])
        out.append(f"| {b['name']} | {human_time(cpu)} | {human_time(real)} | {', '.join(extra)} |")
    return out


def find(data, name):
    for runs in data.values():
        for b in runs["benchmarks"]:
            if b["name"] == name and not b.get("error_occurred"):
                return b
    return None


def headline(data):
    out = []
    for cipher, label in ((2, "AES-256-GCM"), (1, "ChaCha20-Poly1305")):
        b = find(data, f"BM_Open/cipher:{cipher}/bytes:1472")
        s = find(data, f"BM_Seal/cipher:{cipher}/bytes:1472")
        if b and s:
            o = b["bytes_per_second"] * 8 / 1e9
            out.append(f"- {label} at 1472 bytes: open {o:.2f} Gbit/s "
                       f"(80% of it, the bulk-goodput target of issue 5: {0.8 * o:.2f} Gbit/s), "
                       f"seal {s['bytes_per_second'] * 8 / 1e9:.2f} Gbit/s, per CPU second.")
    x = find(data, "BM_X25519")
    if x:
        out.append(f"- X25519: {x['items_per_second']:.0f} scalar multiplications per CPU second.")
    h = find(data, "BM_HsFull")
    if h:
        out.append(f"- Whole handshake (both sides, 4 steps): {h['items_per_second']:.0f} per CPU second.")
    for b in data.get("simrun", {}).get("benchmarks", []):
        if not b.get("error_occurred") and "packets" in b:
            out.append(f"- Engine in the simulator ({b.get('label', '')}): "
                       f"{b['bytes_per_second'] * 8 / 1e6:.0f} Mbit of verified transfer and "
                       f"{b['packets'] / 1e3:.0f}k packets processed per CPU second.")
    return out


def section(results, command):
    data = {}
    for path in glob.glob(os.path.join(results, "*.json")):
        with open(path) as f:
            data[os.path.splitext(os.path.basename(path))[0]] = json.load(f)
    ctx = next(iter(data.values()))["context"] if data else {}
    model = re.sub(r"^Model name:\s*", "", sh("lscpu | grep '^Model name'"))
    lines = ["## Micro-benchmarks", "",
             "Google Benchmark over the C API, one file per area in `bench/`. Generated by "
             "`bench/report.py` from the JSON the run wrote; do not edit the numbers by hand.", "",
             f"- Command: `{command}`",
             f"- Date: {run_date(results)}",
             f"- Machine: {model}, {sh('nproc')} CPUs (nproc), "
             f"load average {', '.join(f'{x:.1f}' for x in ctx.get('load_avg', []))} at the start",
             f"- libbenchmark build: {ctx.get('library_build_type', '?')} "
             "(Debian's; it only affects the harness). Rates are per CPU second; wall time "
             "is longer when other processes share the 2 cores.", "",
             "Headline figures:", ""]
    lines += headline(data) + [""]
    for name in ORDER + sorted(set(data) - set(ORDER)):
        if name in data:
            lines += [f"### {TITLES.get(name, name)}", ""] + table(data[name]["benchmarks"]) + [""]
    return "\n".join(lines)


def update(path, text):
    old = open(path).read() if os.path.exists(path) else "# Benchmarks\n\n"
    m = re.search(r"^## Micro-benchmarks\n.*?(?=^## |\Z)", old, flags=re.S | re.M)
    if m:
        new = old[:m.start()] + text.rstrip("\n") + "\n\n" + old[m.end():]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    with open(path, "w") as f:
        f.write(new.rstrip("\n") + "\n")


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    text = section(argv[1], argv[2])
    print(text)
    if len(argv) == 5 and argv[3] == "--update":
        update(argv[4], text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
