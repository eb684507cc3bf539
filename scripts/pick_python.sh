#!/usr/bin/env sh
# Prints the interpreter `make` builds .venv from: the first of these that is Python 3.11 or
# newer, can make a venv with pip in it, and has the headers mypyc compiles against.
#  1. /usr/bin/python3.11, the distribution's build. Debian compiles it with profile-guided
#     optimisation and LTO; pyenv's default build (what `python3` is on the dev box) has
#     neither, and runs the text path about 13% slower (benchmarks/bench_throughput.py prints
#     the interpreter it ran on).
#  2. python3.11, then python3, from PATH.
# Else python3 as it is. `make PY=/path/to/python setup` overrides the choice.
for py in /usr/bin/python3.11 python3.11 python3; do
  if "$py" -c '
import os, sys, sysconfig, ensurepip, venv
sys.exit(sys.version_info < (3, 11)
         or not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))
' 2>/dev/null; then
    command -v "$py"
    exit 0
  fi
done
echo python3
