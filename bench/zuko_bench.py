#!/usr/bin/env python3
"""CPU timings of zuko's NSF (coupling) and MAF, sized like this crate's `presets::StackConfig` defaults.

The counterpart of the `<workload>_nsf` / `<workload>_maf` criterion groups of benches/flows.rs:
records carry the same case names, shapes, ops and thread counts as bench/criterion_records.py
gives the crate's results, so ../shared/bench/summarize.py puts them in one row, one column per impl.

Prints ONE JSON object on stdout, in the format of ../shared/bench/torch_bench.py (whose timing loop,
op definitions and version record this script reuses):
  {"meta": {...}, "results": [{"impl", "case", "op", "shape", "threads", "median_ms", "min_ms", "reps",
                               "foreign_cpu_frac", "dirty_chunks_dropped"}, ...]}

Cases (f32, x = torch.randn(batch, D), seed 0)
  moons_nsf      (512, 2)    impl zuko.NSF
  tabular64_nsf  (1024, 64)  impl zuko.NSF
  moons_maf      (512, 2)    impl zuko.MAF
  tabular64_maf  (1024, 64)  impl zuko.MAF
Models
  zuko.NSF  zuko.flows.NSF(D, transforms=5, bins=8, hidden_features=(64, 64), passes=2): 5 spline
            couplings (zuko's bound 5, linear tails, minimum slope 1e-3), MaskedMLP D->64->64->D*(3*8-1)
            ReLU; the split is first / second half, reversed every other layer (the crate's is even /
            odd coordinates, parity flipping: the same widths).  zuko's conditioner reads all D inputs
            and writes parameters for all D features (masked), where the crate's reads D/2 and
            writes D/2 * 23, and zuko inverts a coupling in passes=2 network evaluations (the crate
            in one), so zuko does more arithmetic per layer, most visibly in `sample`.
  zuko.MAF  zuko.flows.MAF(D, transforms=5, hidden_features=(64, 64)): MADE D->64->64->2D ReLU, orders
            natural / reversed in turn; affine with log-scale soft-clipped to (-ln 1e3, ln 1e3) by r / (1 + |r| / ln 1e3) (the
            crate's preset: ScaleBound::SoftClip(3), the same function with bound 3);
            sampling takes D network passes per layer, as the crate's.
  Both keep zuko's default initialisation (PyTorch's Linear init, so not the identity); the flow object
  is re-instantiated (flow()) in every call, as in torch_bench.py.
Ops (torch_bench.vector_ops): log_prob and sample under no_grad, train_step = zero_grad,
-log_prob(x).mean(), backward, Adam(lr=1e-3).step().

Usage:
  python bench/zuko_bench.py                      # T=1 and T=2
  python bench/zuko_bench.py --threads 1 --only 'nsf' --reps 30
  SHARED=/path/to/shared python bench/zuko_bench.py
"""
import argparse
import json
import os
import re
import sys

import torch
import zuko

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("SHARED", os.path.join(HERE, "..", "..", "shared"))
sys.path.insert(0, os.path.join(SHARED, "bench"))
import torch_bench as tb  # noqa: E402
import torch_mirror as tm  # noqa: E402

WORKLOADS = (("moons", 512, 2), ("tabular64", 1024, 64))
LAYERS, HIDDEN, BINS = 5, (64, 64), 8
IMPL = {"nsf": "zuko.NSF", "maf": "zuko.MAF"}


def make(kind, d):
    if kind == "nsf":
        return zuko.flows.NSF(d, context=0, transforms=LAYERS, bins=BINS, hidden_features=HIDDEN, passes=2)
    return zuko.flows.MAF(d, context=0, transforms=LAYERS, hidden_features=HIDDEN)


def build_cases(selected):
    torch.manual_seed(0)
    for workload, n, d in WORKLOADS:
        x = torch.randn(n, d)
        for kind in ("nsf", "maf"):
            case = f"{workload}_{kind}"
            impl = IMPL[kind]
            if not selected(impl, case):
                continue
            f = make(kind, d).float()
            n_params = sum(p.numel() for p in f.parameters())
            print(f"{impl} {case}: {n_params} parameters", file=sys.stderr)
            yield impl, case, [n, d], tb.vector_ops(
                lambda v, f=f: f().log_prob(v), lambda m, f=f: f().sample((m,)), f.parameters(), x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=21)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--max-wait", type=float, default=600.0,
                    help="seconds to wait for other processes to go quiet before redoing a chunk")
    ap.add_argument("--only", default=".*", help="regex on 'impl/case/op'")
    args = ap.parse_args()
    assert args.reps >= 20, "the references use at least 20 repetitions"
    pat = re.compile(args.only)

    def selected(impl, case):
        return any(pat.search(f"{impl}/{case}/{op}") for op in ("log_prob", "sample", "train_step"))

    cases = list(build_cases(selected))
    tm.wait_for_idle(max_wait_s=args.max_wait)
    results = []
    for t in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(t)
        for impl, case, shape, ops in cases:
            for op, fn in ops.items():
                if not pat.search(f"{impl}/{case}/{op}"):
                    continue
                med, mn, n, foreign, dirty = tb.time_ms(fn, args.reps, args.warmup, max_wait_s=args.max_wait)
                results.append({"impl": impl, "case": case, "op": op, "shape": shape, "threads": t,
                                "median_ms": round(med, 4), "min_ms": round(mn, 4), "reps": n,
                                "foreign_cpu_frac": round(foreign, 3), "dirty_chunks_dropped": dirty})
                print(f"T={t} {impl:9s} {case:14s} {str(shape):11s} {op:11s} {med:10.3f} ms", file=sys.stderr)
    print(json.dumps({"meta": {**tb.versions(), "reps": args.reps, "warmup": args.warmup}, "results": results}))


if __name__ == "__main__":
    main()
