#!/usr/bin/env bash
# One device check (under 10 minutes on one GPU): the device-sensitive tests, scripts/bench.py,
# the data-parallel step time (scripts/bench_scale.py) and a data-parallel char run; then one
# summary table. The tests: the scale and cuDNN tests (the cuDNN kernel's own test runs only on
# a GPU), and on a GPU also the char, fused-backward, unroll-gradient and sweep tests. Each part's full output goes to $OUT/<part>.log.
#
#   scripts/device_check.sh            # a GPU machine: every local device, the bench's sizes
#   scripts/device_check.sh --tiny     # a CPU: 4 forced host devices, tiny sizes (~minutes)
#
# PYTHON (default python) and OUT (default runs/device_check) can be set in the environment.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=${OUT:-runs/device_check}
TINY=0; [ "${1:-}" = "--tiny" ] && TINY=1
mkdir -p "$OUT"
SUMMARY="$OUT/summary.md"
printf '| part | result | seconds | last line |\n|---|---|---|---|\n' > "$SUMMARY"

part() {  # part NAME COMMAND...: runs it, logs it, adds a summary row
  local name=$1; shift
  local t0=$SECONDS status
  if "$@" > "$OUT/$name.log" 2>&1; then status=ok; else status="FAILED (exit $?)"; fi
  local last; last=$(grep -v '^\s*$' "$OUT/$name.log" | tail -n 1 | tr '|' '/' | cut -c1-110)
  echo "| $name | $status | $((SECONDS - t0)) | $last |" >> "$SUMMARY"
  echo "$name: $status ($((SECONDS - t0)) s)"
}

frameworks=$($PY - <<'PY'
import importlib.util as u
print(",".join(f for f in ("torch", "flax") if u.find_spec(f)))
PY
)
if [ "$TINY" = 1 ]; then
  FORCE=(env "XLA_FLAGS=${XLA_FLAGS:-} --xla_force_host_platform_device_count=4")
  TESTS=(tests/test_scale.py tests/test_cudnn_lstm.py)
  BENCH=(--sizes small --cells lstm --rounds 1 --min-time 0.1 --skip memory,sine)
  SCALE=(--host-devices 4 --devices 1,2,4 --set batch=48 --set hidden=64 --steps 5 --rounds 3)
  CHAR=(--preset shakespeare-gru --corpus=stdlib --max_chars=60000 --hidden=32 --embed=16
        --batch=16 --seq_len=32 --epochs=1 --log_every=10 --eval_every=50 --devices 4)
else
  FORCE=()
  TESTS=(tests/test_scale.py tests/test_cudnn_lstm.py tests/test_char.py tests/test_rnn_backward.py
         tests/test_unroll_grads.py tests/test_sweep.py)
  BENCH=(--sizes small,medium --skip sine)
  n=$($PY -c "import jax; print(jax.local_device_count())")
  counts=1; for k in 2 4 8 16; do [ "$k" -le "$n" ] && counts="$counts,$k"; done
  SCALE=(--devices "$counts" --set batch=64 --steps 20 --rounds 5)
  CHAR=(--preset shakespeare-gru --corpus=stdlib --epochs=1 --batch=64 --devices 0)
fi

part tests "$PY" -m pytest "${TESTS[@]}"  # -q comes from pyproject's addopts
part bench "$PY" scripts/bench.py --frameworks "${frameworks:-none}" "${BENCH[@]}" \
  --json "$OUT/bench.json"
part bench_scale "$PY" scripts/bench_scale.py "${SCALE[@]}"
rm -rf "$OUT/char-dp"
part char_dp "${FORCE[@]}" "$PY" -m jaxrnn.cli char "${CHAR[@]}" --out "$OUT/char-dp"

echo; echo "## device check: $($PY -c 'import jax; d = jax.devices(); print(len(d), "x", d[0].device_kind)')$([ "$TINY" = 1 ] && echo ' (--tiny: bench_scale and char_dp on 4 forced CPU devices)')"
echo; cat "$SUMMARY"
echo; echo "### data-parallel step time"; grep '^|\|^char' "$OUT/bench_scale.log" | sed 's/^/    /'
echo; echo "### bench.py"; grep '^|\|^Machine' "$OUT/bench.log" | head -n 16 | sed 's/^/    /'
echo; echo "### data-parallel char run"; grep 'char:' "$OUT/char_dp.log" | sed 's/^/    /'
