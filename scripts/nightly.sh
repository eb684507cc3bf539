#!/usr/bin/env bash
# Nightly eval, for a scheduler (cron, CI schedule). One command:  make nightly
#
#  1. Always: the rules backend on the labeled set, gated against evals/baselines/rules.json.
#  2. With IMR_MODEL and OPENAI_API_KEY (or IMR_BASE_URL) set: the configured model, gated
#     against evals/baselines/llm-<model>.json when that baseline exists.
#     Without them: a local model on llama_cpp.server: IMR_NIGHTLY_LOCAL_MODEL (default
#     qwen-1.5b when its parts are installed, else smollm2), on the first IMR_NIGHTLY_LOCAL_LIMIT
#     narrative-labeled letters (default 24 for qwen: ~1 min a letter on 2 cores; 5 for smollm2),
#     gated against evals/baselines/llm-<model>.json (llm-local.json for smollm2).
# Reports land in evals/runs/nightly-<UTC date>/<backend>/ (run.json, report.md, report.html).
# Exit status: 0 all gates passed, 1 a gate failed (a regression), 2 a run could not be made.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
STAMP=$(date -u +%Y%m%d)
OUT=${IMR_NIGHTLY_OUT:-evals/runs/nightly-$STAMP}
status=0
mkdir -p "$OUT"

run() {  # run NAME BASELINE ARGS... ; keeps the worst exit status (2 > 1 > 0)
  local name=$1 baseline=$2; shift 2
  local gate=()
  [ -f "$baseline" ] && gate=(--baseline "$baseline")
  echo "== nightly: $name" >&2
  "$BIN/imr-llm" eval "$@" --out "$OUT/$name" "${gate[@]}"
  local rc=$?
  [ $rc -gt $status ] && status=$rc
  return 0
}

run rules evals/baselines/rules.json --backend rules

if [ -n "${IMR_MODEL:-}" ] && { [ -n "${OPENAI_API_KEY:-}" ] || [ -n "${IMR_BASE_URL:-}" ]; }; then
  slug=$(printf '%s' "$IMR_MODEL" | tr -c 'A-Za-z0-9._-' '-')
  run "llm-$slug" "evals/baselines/llm-$slug.json" --backend llm
elif "$BIN/python" -c "import sys; from imr_llm.llm.local_server import server_available as a; sys.exit(not a())"; then
  model=${IMR_NIGHTLY_LOCAL_MODEL:-}
  if [ -z "$model" ]; then
    if "$BIN/python" -c "import sys; from imr_llm.llm.local_models import model_available as a; sys.exit(not a('qwen-1.5b'))"; then
      model=qwen-1.5b
    else
      model=smollm2
    fi
  fi
  port=$("$BIN/python" -c "from imr_llm.llm.local_server import free_port; print(free_port())")
  "$BIN/python" -m imr_llm.llm.local_server --model "$model" --port "$port" >"$OUT/llama.log" 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null' EXIT
  for _ in $(seq 1 240); do
    grep -q "^serving" "$OUT/llama.log" 2>/dev/null && break
    sleep 0.5
  done
  if [ "$model" = smollm2 ]; then
    run llm-local evals/baselines/llm-local.json --backend llm --model local \
      --base-url "http://127.0.0.1:$port/v1" --limit "${IMR_NIGHTLY_LOCAL_LIMIT:-5}" \
      --max-tokens 700 --reasks 1
  else
    run "llm-$model" "evals/baselines/llm-$model.json" --backend llm --model "$model" \
      --base-url "http://127.0.0.1:$port/v1" --narrative-only \
      --limit "${IMR_NIGHTLY_LOCAL_LIMIT:-24}"
  fi
else
  echo "== nightly: no model configured and no local model installed; rules only" >&2
fi
echo "nightly: reports in $OUT (exit $status)" >&2
exit $status
