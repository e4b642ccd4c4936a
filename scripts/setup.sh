#!/usr/bin/env bash
# Set up a development environment for Duban: system packages, Python 3.11, .venv, project install.
# Idempotent; a second run does nothing but check.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP="$VENV/.installed"

# A Python 3.11 interpreter: $PYTHON if given, else python3.11, python3, /usr/bin/python3.11.
find_python() {
    local cand
    for cand in ${PYTHON:-} python3.11 python3 /usr/bin/python3.11; do
        if command -v "$cand" >/dev/null 2>&1 \
            && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1; then
            command -v "$cand"
            return 0
        fi
    done
    return 1
}

# (a) system packages
PY="$(find_python || true)"
apt_pkgs=(fonts-noto-cjk fonts-dejavu-core libharfbuzz-subset0)  # DejaVu Sans Mono prints the anchor (历史存证)
# The browser tests drive Debian's Chromium through Playwright (no browser download).
if [ "${DUBAN_TEST_SETUP:-}" = 1 ]; then
    apt_pkgs+=(chromium)
fi
if [ -z "$PY" ] || ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt_pkgs+=(python3-venv)
fi
missing=()
for p in "${apt_pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: system packages present"
elif [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt_log="$(mktemp)"
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
        cat "$apt_log" >&2
        rm -f "$apt_log"
        echo "setup: ERROR: apt-get failed installing: ${missing[*]}" >&2
        exit 1
    fi
    rm -f "$apt_log"
else
    echo "setup: WARNING: missing system packages (not root, skipping): ${missing[*]}" >&2
    echo "setup:          install with: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
fi

# (b) interpreter
PY="$(find_python || true)"
if [ -z "$PY" ]; then
    echo "setup: ERROR: no Python 3.11 found (tried \$PYTHON, python3.11, python3, /usr/bin/python3.11)." >&2
    echo "setup:        Install it (Debian 12: apt-get install python3.11 python3-venv) or set PYTHON=/path/to/python3.11." >&2
    exit 1
fi
echo "setup: python $("$PY" -c 'import platform; print(platform.python_version())') at $PY"

# (c) virtualenv (recreated if it is broken or not 3.11, e.g. its interpreter has gone)
if [ -x "$VENV/bin/python" ] \
    && "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1; then
    echo "setup: $VENV exists"
else
    if [ -e "$VENV" ]; then
        echo "setup: $VENV is broken or not Python 3.11; recreating"
        rm -rf "$VENV"
    else
        echo "setup: creating $VENV"
    fi
    "$PY" -m venv "$VENV"
fi

# (d) project install, pinned by requirements.lock; only when the inputs changed
if [ ! -e "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ] || [ requirements.lock -nt "$STAMP" ]; then
    echo "setup: installing duban[dev] into $VENV (constraints: requirements.lock)"
    "$VENV/bin/pip" install -q -c requirements.lock -e '.[dev]'
    touch "$STAMP"
else
    echo "setup: $VENV up to date"
fi
