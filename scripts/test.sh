#!/usr/bin/env bash
# Set up .venv with the test extras (music21, phik, pretty_midi: the references we compare with), then lint
# and run the whole test suite. ../shared (fixtures and corpora) must sit beside the project folder.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}" MPLBACKEND=Agg
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
