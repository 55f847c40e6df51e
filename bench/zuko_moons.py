#!/usr/bin/env python3
"""zuko's NSF on the shared two moons, the reference of examples/moons_nsf.rs (learning quality at
equal wall time, one thread).

Recipe (issue 9's zuko reference): zuko.flows.NSF(2, transforms=5, bins=8, hidden_features=(64, 64))
(autoregressive, so each layer transforms both coordinates), f32, Adam lr 1e-3 with a cosine decay
to 0 over the run, batches of 256 rows drawn with replacement, trained on moons_train.csv and scored
on moons_test.csv (mean negative log-likelihood, nats). Prints one line: steps, training time,
test NLL.

Usage:
  python bench/zuko_moons.py                   # 20 000 steps
  python bench/zuko_moons.py --steps 8000      # a shorter run, to compare at equal time
  SHARED=/path/to/shared python bench/zuko_moons.py
"""
import argparse
import os
import time

import numpy as np
import torch
import zuko

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("SHARED", os.path.join(HERE, "..", "..", "shared"))


def load(name):
    return torch.tensor(np.loadtxt(os.path.join(SHARED, "data", name), delimiter=",", skiprows=1),
                        dtype=torch.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    train, test = load("moons_train.csv"), load("moons_test.csv")
    flow = zuko.flows.NSF(2, transforms=5, bins=8, hidden_features=(64, 64))
    opt = torch.optim.Adam(flow.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
    start = time.perf_counter()
    for _ in range(args.steps):
        x = train[torch.randint(len(train), (args.batch,))]
        loss = -flow().log_prob(x).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    elapsed = time.perf_counter() - start
    with torch.no_grad():
        nll = -flow().log_prob(test).mean().item()
    print(f"zuko NSF: {args.steps} steps in {elapsed:.1f} s: test NLL {nll:.4f} nats")


if __name__ == "__main__":
    main()
