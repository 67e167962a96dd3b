#!/usr/bin/env bash
# Run LocalStack (SNS + SQS only) directly on the host, without Docker, for tests.
#
#   localstack/run-host.sh               install if needed, then run in the foreground
#   localstack/run-host.sh --background  start in the background, wait until SNS and SQS are ready
#   localstack/run-host.sh --stop        stop the background instance
#
# Environment:
#   PIXWAVE_LOCALSTACK_PYTHON  interpreter (>= 3.13, see MIN_PY_MINOR) to build the venv with
#   PIXWAVE_LOCALSTACK_VENV    venv dir          (default: <repo>/.pixwave/localstack-venv)
#   PIXWAVE_LOCALSTACK_PORT    gateway port      (default: 4566, bound to 127.0.0.1)
#   FILESYSTEM_ROOT            LocalStack state, pid file and log (default: <repo>/.pixwave/localstack)
#
# Exit codes: 0 ok, 3 no suitable Python here (LocalStack unavailable), anything else an error.
set -euo pipefail

readonly LOCALSTACK_PACKAGES=(
  "localstack-core[runtime]==2026.3.0"
  "cbor2<6"
  "pyopenssl==24.3.0"
  "cryptography<45"
)
readonly LOCALSTACK_VERSION="2026.3.0"
# localstack-core 2026.3.0 declares Requires-Python >=3.10 but does not start on 3.12:
# localstack/utils/tagging.py does `from warnings import deprecated` (new in 3.13), and the
# runtime then fails with "No component plugins found in namespace localstack.runtime.components".
# The 3.12 candidates below stay in the search so a later pin that runs on 3.12 only needs this.
readonly MIN_PY_MINOR=13
readonly READY_DEADLINE_S=120
readonly STOP_DEADLINE_S=20

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf 'run-host.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
# Seconds since $1 (an $EPOCHREALTIME value), to 0.1 s.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# Absolute path: relative values given by the caller resolve against the caller's cwd.
abspath() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$PWD" "$1" ;;
  esac
}

usage() {
  sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

mode=foreground
case "${1:-}" in
  "") ;;
  --background) mode=background ;;
  --stop) mode=stop ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac
[[ $# -le 1 ]] || { usage >&2; exit 2; }

venv="$(abspath "${PIXWAVE_LOCALSTACK_VENV:-$repo_root/.pixwave/localstack-venv}")"
fs_root="$(abspath "${FILESYSTEM_ROOT:-$repo_root/.pixwave/localstack}")"
port="${PIXWAVE_LOCALSTACK_PORT:-4566}"
[[ "$port" =~ ^[0-9]+$ ]] || die "PIXWAVE_LOCALSTACK_PORT must be a number, got '$port'"
pid_file="$fs_root/localstack.pid"
log_file="$fs_root/localstack.log"
health_url="http://127.0.0.1:${port}/_localstack/health"

# A pid from the pid file that is still a LocalStack process (guards against pid reuse).
running_pid() {
  local pid
  [[ -f "$pid_file" ]] || return 1
  pid="$(<"$pid_file")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'localstack.runtime.main' || return 1
  printf '%s\n' "$pid"
}

stop() {
  local pid waited=0
  if ! pid="$(running_pid)"; then
    log "no LocalStack running from $pid_file"
    rm -f "$pid_file"
    return 0
  fi
  log "stopping LocalStack (pid $pid)"
  # It was started as its own process-group leader: signal the group so children go too.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if ((waited >= STOP_DEADLINE_S * 10)); then
      log "still alive after ${STOP_DEADLINE_S}s; sending SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$pid_file"
  log "stopped"
}

if [[ "$mode" == stop ]]; then
  stop
  exit 0
fi

# --- 1. a Python >= 3.$MIN_PY_MINOR ---------------------------------------------------------
# Each candidate is run, not just looked up: pyenv puts shims such as python3.12 on PATH
# that exist but fail unless that version is selected.
is_usable_python() {
  [[ -n "$1" ]] && "$1" -c "import sys, venv; sys.exit(sys.version_info < (3, $MIN_PY_MINOR))" \
    >/dev/null 2>&1
}

find_python() {
  local cand
  if [[ -n "${PIXWAVE_LOCALSTACK_PYTHON:-}" ]]; then
    is_usable_python "$PIXWAVE_LOCALSTACK_PYTHON" && { printf '%s\n' "$PIXWAVE_LOCALSTACK_PYTHON"; return 0; }
    log "PIXWAVE_LOCALSTACK_PYTHON=$PIXWAVE_LOCALSTACK_PYTHON is not a working Python >= 3.$MIN_PY_MINOR"
    return 1
  fi
  for cand in python3.13 python3.12; do
    cand="$(command -v "$cand" 2>/dev/null || true)"
    is_usable_python "$cand" && { printf '%s\n' "$cand"; return 0; }
  done
  for cand in /root/.pyenv/versions/3.13*/bin/python3 /root/.pyenv/versions/3.12*/bin/python3; do
    [[ -x "$cand" ]] && is_usable_python "$cand" && { printf '%s\n' "$cand"; return 0; }
  done
  return 1
}

# --- 2. the venv, installed once -----------------------------------------------------------
stamp_file="$venv/.pixwave-localstack-stamp"
stamp_text="$(printf '%s\n' "${LOCALSTACK_PACKAGES[@]}")"

venv_ok() {
  [[ -x "$venv/bin/python" && -f "$stamp_file" ]] || return 1
  [[ "$(<"$stamp_file")" == "$stamp_text" ]] || return 1
  "$venv/bin/python" - "$LOCALSTACK_VERSION" "$MIN_PY_MINOR" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
sys.exit(sys.version_info < (3, int(sys.argv[2])) or version("localstack-core") != sys.argv[1])
PY
}

ensure_venv() {
  local py started
  mkdir -p "$(dirname "$venv")"
  # Serialise concurrent callers (parallel test sessions) on the install.
  exec 9>"$venv.lock"
  flock 9
  if venv_ok; then
    exec 9>&-
    return 0
  fi
  if ! py="$(find_python)"; then
    log "LocalStack $LOCALSTACK_VERSION needs Python >= 3.$MIN_PY_MINOR and none was found (tried" \
      "\$PIXWAVE_LOCALSTACK_PYTHON or python3.13, python3.12, /root/.pyenv/versions/3.1[23]*/bin/python3);" \
      "LocalStack unavailable here"
    exit 3
  fi
  started=$EPOCHREALTIME
  log "creating $venv with $py ($("$py" -V 2>&1))"
  "$py" -m venv --clear "$venv"
  log "installing ${LOCALSTACK_PACKAGES[*]}"
  # pip's output goes to a file: this machine's pip config makes it print many warnings.
  if ! "$venv/bin/python" -m pip install "${LOCALSTACK_PACKAGES[@]}" >"$venv/pip-install.log" 2>&1; then
    tail -n 30 "$venv/pip-install.log" >&2 || true
    die "pip install failed; full output in $venv/pip-install.log"
  fi
  printf '%s\n' "$stamp_text" >"$stamp_file"
  venv_ok || die "installed, but $venv does not hold localstack-core $LOCALSTACK_VERSION"
  log "installed in $(since "$started")s"
  exec 9>&-
}

ensure_venv

# --- 3. run ----------------------------------------------------------------------------------
mkdir -p "$fs_root"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
localstack_cmd=(
  env
  GATEWAY_SERVER=hypercorn
  "GATEWAY_LISTEN=127.0.0.1:${port}"
  # Host part of returned queue URLs; the default, localhost.localstack.cloud, needs public DNS.
  "LOCALSTACK_HOST=127.0.0.1:${port}"
  "SERVICES=sns,sqs"
  SQS_ENDPOINT_STRATEGY=path
  DISABLE_EVENTS=1
  SKIP_SSL_CERT_DOWNLOAD=1
  DNS_ADDRESS=0
  EAGER_SERVICE_LOADING=1
  "FILESYSTEM_ROOT=${fs_root}"
  "$venv/bin/python" -m localstack.runtime.main
)

if [[ "$mode" == foreground ]]; then
  exec "${localstack_cmd[@]}"
fi

if pid="$(running_pid)"; then
  die "LocalStack already running (pid $pid, $pid_file); stop it with --stop first"
fi

# True when the health endpoint lists both sns and sqs as available or running.
healthy() {
  "$venv/bin/python" - "$health_url" >/dev/null 2>&1 <<'PY'
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as resp:
    services = json.load(resp).get("services", {})
ok = {"available", "running"}
sys.exit(not all(services.get(name) in ok for name in ("sns", "sqs")))
PY
}

if healthy; then
  die "something already answers on $health_url; pick another PIXWAVE_LOCALSTACK_PORT"
fi

started=$SECONDS
started_at=$EPOCHREALTIME
# setsid: own session and process group, so --stop can signal it and its children as one.
(exec setsid "${localstack_cmd[@]}" </dev/null >"$log_file" 2>&1) &
pid=$!
printf '%s\n' "$pid" >"$pid_file"
log "started LocalStack (pid $pid), log $log_file; waiting for sns and sqs on $health_url"

while ! healthy; do
  if ! kill -0 "$pid" 2>/dev/null; then
    log "LocalStack exited before it was ready; last lines of $log_file:"
    tail -n 40 "$log_file" >&2 || true
    rm -f "$pid_file"
    exit 1
  fi
  if ((SECONDS - started >= READY_DEADLINE_S)); then
    log "not ready after ${READY_DEADLINE_S}s; last lines of $log_file:"
    tail -n 40 "$log_file" >&2 || true
    stop
    exit 1
  fi
  sleep 0.2
done
log "ready in $(since "$started_at")s: http://127.0.0.1:${port}"
