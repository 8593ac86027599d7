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
