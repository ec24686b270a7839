#!/usr/bin/env bash
# Create .bench/sdv-venv (Python 3.11) for benchmarks/sdv_benchmark.py: SDV 2.0, sdmetrics,
# pandas and DuckDB 1.5.5 with its tpch extension, pinned in benchmarks/requirements-sdv.txt.
#
# torch is installed FIRST and on its own: the pinned CPU build (torch==2.13.0+cpu) is a local
# wheel on the project's machines; letting `pip install sdv` resolve torch would pull the
# multi-GB CUDA build from PyPI instead.
#
#   bash benchmarks/setup_sdv_venv.sh        # idempotent: reinstalls only when the pins change
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.bench/sdv-venv"
REQUIREMENTS="$REPO_ROOT/benchmarks/requirements-sdv.txt"
MARKER="$VENV/.requirements-sdv.sha256"

find_python311() {
  if [[ -n "${BQSYNTH_SDV_PYTHON:-}" ]]; then echo "$BQSYNTH_SDV_PYTHON"; return; fi
  if command -v python3.11 >/dev/null 2>&1; then command -v python3.11; return; fi
  local candidate
  for candidate in "$HOME"/.pyenv/versions/3.11*/bin/python3.11; do
    [[ -x "$candidate" ]] && { echo "$candidate"; return; }
  done
  echo "no Python 3.11 found: set BQSYNTH_SDV_PYTHON" >&2
  exit 1
}

wanted="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if [[ -x "$VENV/bin/python" && -f "$MARKER" && "$(cat "$MARKER")" == "$wanted" ]]; then
  exit 0
fi

python="$(find_python311)"
echo "creating $VENV with $python" >&2
[[ -x "$VENV/bin/python" ]] || "$python" -m venv "$VENV"
torch_pin="$(grep -E '^torch==' "$REQUIREMENTS")"
"$VENV/bin/pip" install --quiet "$torch_pin"
"$VENV/bin/pip" install --quiet -r "$REQUIREMENTS"
echo "$wanted" > "$MARKER"
