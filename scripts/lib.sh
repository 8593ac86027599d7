# Shared by the scripts: the Python virtualenv with the pinned emulator.
# Sourced, not run.

# Creates (or refreshes, when tests/requirements.txt changed) the virtualenv
# and prints the path of moto_server.
ensure_emulator() {
  local venv="${PIPECTL_VENV:-$HOME/.cache/pipectl-venv}"
  if [ ! -x "$venv/bin/moto_server" ] || ! cmp -s tests/requirements.txt "$venv/.requirements"; then
    echo "installing the emulator into $venv ..." >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt >&2
    cp tests/requirements.txt "$venv/.requirements"
  fi
  echo "$venv/bin/moto_server"
}

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pipectl-target}"

# Starts the emulator ($1: its log file) on a free loopback port, stopped
# when the calling script exits, and points the AWS SDKs (and pipectl) at
# it with test credentials. Sets moto_pid.
start_emulator() {
  local moto port
  moto="$(ensure_emulator)"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$moto" -H 127.0.0.1 -p "$port" >"$1" 2>&1 &
  moto_pid=$!
  trap 'kill $moto_pid 2>/dev/null || true' EXIT
  for _ in $(seq 100); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null && break
    sleep 0.1
  done
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  unset AWS_PROFILE AWS_SESSION_TOKEN
}
