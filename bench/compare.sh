#!/usr/bin/env bash
# Side-by-side timings: this crate's criterion benches and the PyTorch / JAX / zuko references, run one
# after another on the same machine, merged into one markdown table by ../shared/bench/summarize.py.
#
#   SHARED (default ../shared)          the shared folder with bench/ and data/
#   REF    (default ${TMPDIR:-/tmp}/bijectors-ref)  reference environments (bash $SHARED/bench/setup_envs.sh)
#   ONLY   (default: the workloads this crate implements) regex for torch_bench.py / jax_bench.py --only
#   THREADS (default 1,2)               thread counts: the crate's benches run once per count
#                                       (RAYON_NUM_THREADS), the Python references take the list
#   BENCH_FILTER (default: all)         criterion filter (regex on <case>/<op>/<shape>_T<threads>), e.g.
#                                       BENCH_FILTER='nsf|maf' for the NSF / MAF presets only
#   REFS   (default "torch jax zuko")   which references to run; each is skipped when its environment
#                                       is missing ($REF/venv for torch, $REF/jaxvenv for jax, zuko
#                                       importable in $REF/venv for zuko)
#   ZUKO_ONLY (default .*)              regex for bench/zuko_bench.py --only ('impl/case/op')
#   MAX_WAIT (default 600)              seconds the Python references wait for a busy machine to go
#                                       quiet before redoing a timing chunk (lower it on a shared box)
# Output: $REF/results/{bijectors_bench,torch_bench,jax_bench,zuko_bench}.json and $REF/results/compare.md
#
#   BENCH_FILTER='nsf|maf' REFS=zuko bash bench/compare.sh    # the crate's NSF / MAF against zuko
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$HERE/../shared}
REF=${REF:-${TMPDIR:-/tmp}/bijectors-ref}
OUT=$REF/results
ONLY=${ONLY:-'mirror/(moons|tabular64|inv1x1)/|jax.hand/'}
BENCH_FILTER=${BENCH_FILTER:-}
REFS=${REFS:-torch jax zuko}
ZUKO_ONLY=${ZUKO_ONLY:-'.*'}
THREADS=${THREADS:-1,2}
MAX_WAIT=${MAX_WAIT:-600}
wants() { case " $REFS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
mkdir -p "$OUT"
cd "$HERE"
for t in ${THREADS//,/ }; do
  # criterion's filter is a regex on the id, which ends in _T<threads>
  RAYON_NUM_THREADS=$t cargo bench --bench flows -- "(${BENCH_FILTER:-.*}).*_T$t\$" --noplot
done
python3 bench/criterion_records.py target/criterion > "$OUT/bijectors_bench.json"
files=("$OUT/bijectors_bench.json")
if wants torch && [ -x "$REF/venv/bin/python" ]; then
  "$REF/venv/bin/python" "$SHARED/bench/torch_bench.py" --threads "$THREADS" --max-wait "$MAX_WAIT" --only "$ONLY" > "$OUT/torch_bench.json"
  files+=("$OUT/torch_bench.json")
fi
if wants jax && [ -x "$REF/jaxvenv/bin/python" ]; then
  "$REF/jaxvenv/bin/python" "$SHARED/bench/jax_bench.py" --threads "$THREADS" --max-wait "$MAX_WAIT" --only "$ONLY" > "$OUT/jax_bench.json"
  files+=("$OUT/jax_bench.json")
fi
if wants zuko && [ -x "$REF/venv/bin/python" ] && "$REF/venv/bin/python" -c 'import zuko' 2>/dev/null; then
  SHARED="$SHARED" "$REF/venv/bin/python" bench/zuko_bench.py --threads "$THREADS" --max-wait "$MAX_WAIT" --only "$ZUKO_ONLY" \
    > "$OUT/zuko_bench.json"
  files+=("$OUT/zuko_bench.json")
fi
python3 "$SHARED/bench/summarize.py" "${files[@]}" | tee "$OUT/compare.md"
