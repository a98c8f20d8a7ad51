#!/usr/bin/env python3
"""Summarise criterion results of `cargo bench` (benches tlsf and contention)
as markdown.

Reads every `<criterion dir>/**/new/estimates.json` (with the `benchmark.json`
beside it, which names the group, peer and parameter) and prints one table:
a row per group and parameter, a column per peer with the median time, and
ratios of rtarena's cores to their nearest peers (below 1: rtarena is
faster): the TLSF against rlsf and talc, the hybrid heap against mimalloc and
rlsf, the heap and the slab against mimalloc and bumpalo.

By default a cell is the median per element: every group of
bench/benches/tlsf.rs declares a throughput in elements (pair: one alloc+free
pair; batch_shuffled: one 64 B alloc and its free; churn: one operation of the
trace; vec_push: one push), so the cells read as time per operation. `--per-iter` prints the median
per criterion iteration instead.

Usage: python3 bench/benches/summarize.py [--per-iter] [CRITERION_DIR]
(CRITERION_DIR defaults to $CARGO_TARGET_DIR/criterion, else target/criterion
in the workspace root, where cargo puts the bench crate's target.) Python 3
standard library only.
"""

import json
import os
import sys

PEER_ORDER = [
    "rtarena",
    "rtarena-core",
    "rtarena-heap",
    "rtarena-slab",
    "rtarena-sync",
    "rtarena-per-thread",
    "rlsf",
    "talc",
    "talc-lock",
    "linked_list",
    "slabmalloc",
    "buddy",
    "system",
    "mimalloc",
    "bumpalo",
]
GROUP_ORDER = ["pair", "batch_shuffled", "churn", "vec_push", "contended_pair"]
RATIOS = [
    ("rtarena", "rlsf"),
    ("rtarena", "talc"),
    ("rtarena-heap", "mimalloc"),
    ("rtarena-heap", "rlsf"),
    ("rtarena-slab", "mimalloc"),
    ("rtarena-heap", "bumpalo"),
    ("rtarena-slab", "bumpalo"),
    ("rtarena-sync", "talc-lock"),
]


def default_dir():
    target = os.environ.get("CARGO_TARGET_DIR")
    if not target:
        # bench/benches/summarize.py: the workspace root holds the target.
        here = os.path.abspath(__file__)
        root = os.path.dirname(os.path.dirname(os.path.dirname(here)))
        target = os.path.join(root, "target")
    return os.path.join(target, "criterion")


def elements(throughput):
    """Elements per iteration from benchmark.json's throughput, or None."""
    if not isinstance(throughput, dict):
        return None
    for key in ("Elements", "ElementsAndBytes"):
        if key in throughput:
            value = throughput[key]
            if isinstance(value, dict):
                value = value.get("elements")
            return value
    return None


def load(root):
    """{(group, param): {peer: median_ns_per_iter, ...}}, {(group, param): elements}."""
    results, per_iter_elems = {}, {}
    for dirpath, _dirs, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
            continue
        with open(os.path.join(dirpath, "estimates.json")) as f:
            median = json.load(f)["median"]["point_estimate"]
        meta_path = os.path.join(dirpath, "benchmark.json")
        if os.path.exists(meta_path):
            with open(meta_path) as f:
                meta = json.load(f)
            group = meta.get("group_id")
            peer = meta.get("function_id") or ""
            param = meta.get("value_str") or ""
            elems = elements(meta.get("throughput"))
        else:  # fall back on the directory layout group/peer[/param]/new
            parts = os.path.relpath(dirpath, root).split(os.sep)[:-1]
            group, peer, param = (parts + ["", "", ""])[:3]
            elems = None
        results.setdefault((group, param), {})[peer] = median
        if elems:
            per_iter_elems[(group, param)] = elems
    return results, per_iter_elems


def fmt_time(ns):
    if ns is None:
        return "—"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def sort_key(key):
    group, param = key
    g = GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER)
    try:
        p = (0, float(param), "")
    except ValueError:
        p = (1, 0.0, param)
    return (g, group, p)


def main(argv):
    per_iter = "--per-iter" in argv
    args = [a for a in argv if not a.startswith("--")]
    root = args[0] if args else default_dir()
    if not os.path.isdir(root):
        sys.exit(f"no criterion results in {root}: run `cargo bench -p rtarena-bench --bench tlsf` first")
    results, elems = load(root)
    if not results:
        sys.exit(f"no */new/estimates.json under {root}")

    seen = {p for peers in results.values() for p in peers}
    peers = [p for p in PEER_ORDER if p in seen] + sorted(seen - set(PEER_ORDER))
    unit = "per iteration" if per_iter else "per element (operation)"
    print(f"Median time {unit}; ratios below 1 mean rtarena is faster.\n")
    head = ["workload"] + peers + [f"{a}/{b}" for a, b in RATIOS]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    for key in sorted(results, key=sort_key):
        group, param = key
        row = results[key]
        div = 1 if per_iter else (elems.get(key) or 1)
        name = f"{group}/{param}" if param else group
        cells = [fmt_time(row[p] / div) if p in row else "—" for p in peers]
        for a, b in RATIOS:
            if a in row and b in row and row[b] > 0:
                cells.append(f"{row[a] / row[b]:.2f}")
            else:
                cells.append("—")
        print("| " + " | ".join([name] + cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
