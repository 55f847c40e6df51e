#!/usr/bin/env python3
"""Turn this crate's criterion results into the record format of ../shared/bench/summarize.py.

Criterion benchmark ids are  group <case>, function <op>, parameter <shape>_T<threads>  (see
benches/flows.rs), e.g. moons/log_prob/512x2_T1.  Each target/criterion/<case>/<op>/<shape>_T<threads>/new/estimates.json
holds the median in nanoseconds.  Prints ONE JSON object:
  {"meta": {...}, "results": [{"impl": "bijectors", "case", "op", "shape", "threads", "median_ms"}]}

Usage:  python3 bench/criterion_records.py [target/criterion] > bijectors_bench.json
"""
import json
import os
import sys


def main(root):
    results = []
    for dirpath, _dirs, files in os.walk(root):
        if "estimates.json" not in files or os.path.basename(dirpath) != "new":
            continue
        parts = os.path.relpath(os.path.dirname(dirpath), root).split(os.sep)
        if len(parts) != 3 or "_T" not in parts[2]:
            continue
        case, op, param = parts
        shape, threads = param.rsplit("_T", 1)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        results.append({
            "impl": "bijectors", "case": case, "op": op,
            "shape": [int(s) for s in shape.split("x")], "threads": int(threads),
            "median_ms": round(est["median"]["point_estimate"] / 1e6, 4),
        })
    results.sort(key=lambda r: (r["case"], r["op"], r["threads"]))
    print(json.dumps({"meta": {"source": os.path.abspath(root)}, "results": results}))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
