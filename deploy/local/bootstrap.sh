#!/usr/bin/env bash
# Create or refresh the project virtualenv (.venv) with a pinned uv, installing what is missing.
#
#   deploy/local/bootstrap.sh
#
# - Python: $PYTHON when set, else the first working interpreter >= 3.11, preferring 3.13
#   (pyenv shims are tried by running them: a shim can exist yet fail).
# - uv $UV_VERSION: from PATH when it is that version, else pip-installed into .tools/uv.
# - `uv sync --frozen` into .venv, only when uv.lock / pyproject.toml changed since the last sync.
# Quiet and idempotent when there is nothing to do.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

UV_VERSION=${UV_VERSION:-0.13.8}
VENV=$ROOT/.venv
TOOLS_UV=$ROOT/.tools/uv
STAMP=$VENV/.bootstrap-stamp

log() { printf 'bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root or sudo to run: $*"
    fi
}

APT_UPDATED=
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; please install $* by hand"
    log "installing $* with apt-get"
    if [ -z "$APT_UPDATED" ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null ||
            die "apt-get update failed"
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
        die "apt-get install $* failed"
}

# Everything the stamp depends on besides the timestamps: a different request means a re-sync.
stamp_key() { printf 'uv=%s python=%s\n' "$UV_VERSION" "${PYTHON:-auto}"; }

venv_is_fresh() {
    [ -f "$STAMP" ] || return 1
    [ "$(cat "$STAMP")" = "$(stamp_key)" ] || return 1
    [ uv.lock -nt "$STAMP" ] && return 1
    [ pyproject.toml -nt "$STAMP" ] && return 1
    "$VENV/bin/python" -c '' >/dev/null 2>&1
}

# Print the real path of a Python >= 3.11 for candidate $1, or fail.
probe_python() {
    "$1" -c '
import sys
if sys.version_info < (3, 11) or sys.prefix != sys.base_prefix:  # too old, or some virtualenv
    sys.exit(1)
print(sys.executable)
' 2>/dev/null
}

find_python() {
    local found
    if [ -n "${PYTHON:-}" ]; then
        found=$(probe_python "$PYTHON") || die "PYTHON=$PYTHON is not a working Python >= 3.11 (outside a virtualenv)"
        printf '%s\n' "$found"
        return
    fi
    local pyenv_root candidates=() minor c
    pyenv_root=$(pyenv root 2>/dev/null || printf '%s' "${PYENV_ROOT:-$HOME/.pyenv}")
    for minor in 13 12 11; do
        candidates+=("python3.$minor")
        # pyenv installs that are not selected by the current pyenv version (newest patch first)
        while IFS= read -r c; do
            [ -n "$c" ] && candidates+=("$c")
        done < <(ls -d "$pyenv_root"/versions/3."$minor"*/bin/python3."$minor" 2>/dev/null | sort -rV)
        candidates+=("/usr/local/bin/python3.$minor" "/usr/bin/python3.$minor")
    done
    candidates+=(python3)
    for c in "${candidates[@]}"; do
        if found=$(probe_python "$c"); then
            printf '%s\n' "$found"
            return
        fi
    done
    die "no Python >= 3.11 found (tried python3.13, python3.12, python3.11, pyenv versions, python3); install one or set PYTHON=/path/to/python"
}

uv_has_version() { "$1" --version 2>/dev/null | grep -Eq "^uv ${UV_VERSION//./\\.}( |\$)"; }

find_uv() {
    local path_uv
    if path_uv=$(command -v uv 2>/dev/null) && uv_has_version "$path_uv"; then
        printf '%s\n' "$path_uv"
        return
    fi
    if [ -x "$TOOLS_UV/bin/uv" ] && uv_has_version "$TOOLS_UV/bin/uv"; then
        printf '%s\n' "$TOOLS_UV/bin/uv"
        return
    fi
    local py=$1
    log "installing uv $UV_VERSION into .tools/uv" >&2
    if [ ! -x "$TOOLS_UV/bin/pip" ]; then
        rm -rf "$TOOLS_UV"
        if ! "$py" -m venv "$TOOLS_UV" >/dev/null 2>&1; then
            rm -rf "$TOOLS_UV"
            # Debian splits venv/ensurepip out of the interpreter package.
            [ -r /etc/debian_version ] || die "'$py -m venv' failed; install the Python venv module"
            apt_install python3-venv >&2
            "$py" -m venv "$TOOLS_UV" >/dev/null || die "'$py -m venv' still fails after installing python3-venv"
        fi
    fi
    "$TOOLS_UV/bin/pip" install --quiet --disable-pip-version-check "uv==$UV_VERSION" >&2 ||
        die "pip install uv==$UV_VERSION failed"
    uv_has_version "$TOOLS_UV/bin/uv" || die "uv in .tools/uv is not version $UV_VERSION"
    printf '%s\n' "$TOOLS_UV/bin/uv"
}

main() {
    if [ ! -f pyproject.toml ] || [ ! -f uv.lock ]; then
        die "pyproject.toml and uv.lock must exist in $ROOT"
    fi
    if venv_is_fresh; then
        return 0
    fi
    local py uv
    py=$(find_python)
    uv=$(find_uv "$py")

    unset VIRTUAL_ENV  # an activated foreign venv only makes uv warn
    export UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT="$VENV"
    "$uv" sync --frozen --quiet --python "$py" || die "uv sync failed"
    stamp_key >"$STAMP"
    log ".venv in sync ($("$VENV/bin/python" -c 'import platform; print("Python", platform.python_version())'), uv $UV_VERSION)"
}

main "$@"
