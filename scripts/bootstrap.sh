#!/usr/bin/env bash
# bootstrap.sh - create or update the project venv (.venv, Python 3.11).
#
# Usage: scripts/bootstrap.sh [--force]
#
# Installs requirements-dev.txt (which includes requirements.txt, all pinned)
# into .venv and puts the repository root on the venv's sys.path through a
# .pth file, so `import bqsynth` and `import components` work from any
# directory with .venv/bin/python (there is no pyproject.toml to install).
#
# Idempotent and fast: a hash of the requirements files (and of the Python
# version) is kept in .venv; when it matches, nothing is installed. A changed
# pin installs into the existing venv; --force recreates the venv from scratch.
#
# Environment overrides:
#   BQSYNTH_PYTHON   the Python 3.11 to create the venv with
#                    (default: python3.11, then python3, then pyenv's 3.11)
#   BQSYNTH_VENV     venv location (default: .venv in the repository root)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${BQSYNTH_VENV:-$REPO_ROOT/.venv}"
STAMP="$VENV/.bqsynth-requirements.sha256"
PTH_NAME="bqsynth-repo.pth"
REQUIREMENTS=("$REPO_ROOT/requirements.txt" "$REPO_ROOT/requirements-dev.txt")

log() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { printf '[bootstrap] ERROR: %s\n' "$*" >&2; exit 1; }

force=0
case "${1:-}" in
  "") ;;
  --force) force=1 ;;
  -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) die "unknown argument: $1 (usage: scripts/bootstrap.sh [--force])" ;;
esac

is_python311() {
  "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' >/dev/null 2>&1
}

# A pyenv shim can be on PATH without working, so each candidate is run.
find_python311() {
  local candidate
  local -a candidates=()
  [[ -n "${BQSYNTH_PYTHON:-}" ]] && candidates+=("$BQSYNTH_PYTHON")
  command -v python3.11 >/dev/null 2>&1 && candidates+=("$(command -v python3.11)")
  command -v python3 >/dev/null 2>&1 && candidates+=("$(command -v python3)")
  for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.11*/bin/python; do
    [[ -x "$candidate" ]] && candidates+=("$candidate")
  done
  for candidate in "${candidates[@]}"; do
    if is_python311 "$candidate"; then echo "$candidate"; return 0; fi
  done
  return 1
}

requirements_hash() {
  {
    "$VENV/bin/python" -c 'import sys; print(sys.version)'
    cat "${REQUIREMENTS[@]}"
  } | sha256sum | cut -d' ' -f1
}

# Point the venv at the repository root (rewritten every run: cheap, and it
# follows the checkout if the venv is reused from another clone).
write_pth() {
  local site
  site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  if [[ "$(cat "$site/$PTH_NAME" 2>/dev/null || true)" != "$REPO_ROOT" ]]; then
    printf '%s\n' "$REPO_ROOT" >"$site/$PTH_NAME"
  fi
}

for req in "${REQUIREMENTS[@]}"; do
  [[ -f "$req" ]] || die "missing $req"
done

started=$SECONDS
if ((force)) || ! [[ -x "$VENV/bin/python" ]] || ! is_python311 "$VENV/bin/python"; then
  python="$(find_python311)" || die "Python 3.11 not found (tried \$BQSYNTH_PYTHON, python3.11, python3, ~/.pyenv/versions/3.11*).
  Install it or set BQSYNTH_PYTHON=/path/to/python3.11."
  log "creating $VENV with $python ($("$python" --version 2>&1))"
  rm -rf "$VENV"
  "$python" -m venv "$VENV"
fi

wanted="$(requirements_hash)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$wanted" ]]; then
  write_pth
  log "$VENV is up to date"
  exit 0
fi

log "installing requirements-dev.txt into $VENV"
rm -f "$STAMP"
# The filter drops pip's noise about absent local mirror folders on some machines.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r "$REPO_ROOT/requirements-dev.txt" \
  2> >(grep -v "^WARNING: Location 'file:" >&2) ||
  die "pip install -r requirements-dev.txt failed (see above)"
write_pth
"$VENV/bin/python" -c 'import sys; sys.exit(0 if sys.argv[1] in sys.path else 1)' "$REPO_ROOT" ||
  die "$REPO_ROOT is not on the venv's sys.path (the .pth file was not read)"
echo "$wanted" >"$STAMP"
log "$VENV ready in $((SECONDS - started)) s"
