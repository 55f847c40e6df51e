#!/usr/bin/env bash
# Side-by-side timings: this crate's criterion benches and the PyTorch / JAX references of
# ../shared/bench, run one after another on the same machine, merged into one markdown table.
#
#   SHARED (default ../shared)          the shared folder with bench/ and data/
#   REF    (default ${TMPDIR:-/tmp}/bijectors-ref)  reference environments (bash $SHARED/bench/setup_envs.sh)
#   ONLY   (default: the workloads this crate implements) regex for the reference scripts' --only
# Output: $REF/results/{bijectors_bench,torch_bench,jax_bench}.json and $REF/results/compare.md
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$HERE/../shared}
REF=${REF:-${TMPDIR:-/tmp}/bijectors-ref}
OUT=$REF/results
ONLY=${ONLY:-'mirror/(moons|tabular64|inv1x1)/|jax.hand/'}
mkdir -p "$OUT"
cd "$HERE"
cargo bench --bench flows -- --noplot
python3 bench/criterion_records.py target/criterion > "$OUT/bijectors_bench.json"
"$REF/venv/bin/python" "$SHARED/bench/torch_bench.py" --threads 1,2 --only "$ONLY" > "$OUT/torch_bench.json"
if [ -x "$REF/jaxvenv/bin/python" ]; then
  "$REF/jaxvenv/bin/python" "$SHARED/bench/jax_bench.py" --threads 1,2 --only "$ONLY" > "$OUT/jax_bench.json"
fi
python3 "$SHARED/bench/summarize.py" "$OUT"/bijectors_bench.json "$OUT"/torch_bench.json \
  $( [ -f "$OUT/jax_bench.json" ] && echo "$OUT/jax_bench.json" ) | tee "$OUT/compare.md"
