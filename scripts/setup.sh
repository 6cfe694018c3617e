#!/usr/bin/env bash
# Create .venv (if needed) and install musicneurons into it. Usage: scripts/setup.sh [EXTRAS]
# PyTorch: torch==2.13.0 is installed first so a fresh setup takes the CPU build; to use CUDA, install
# the CUDA build of torch into .venv yourself first (any torch >= 2.2 already present is kept).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
py="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$py" -m venv .venv
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/pip install -q "torch==2.13.0"
stamp=".venv/.musicneurons-installed${extras:+-$extras}"
# reinstall when the project file or the C source changed (pip rebuilds src/musicneurons/_midi_events)
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ src/musicneurons/data/_midi_events.c -nt "$stamp" ]; then
  .venv/bin/pip install -q -e ".${extras:+[$extras]}"
  touch "$stamp"
fi
