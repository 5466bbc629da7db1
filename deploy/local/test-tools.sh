#!/usr/bin/env bash
# Command-line checkers the deployment tests use that PyPI does not ship: promtool (Prometheus
# rule and config checks, Debian package `prometheus`) and shellcheck (Debian package
# `shellcheck`). Each is taken from PATH when present; otherwise its Debian package is downloaded
# (`apt-get download`, no root, nothing installed system-wide, no Prometheus service started) and
# unpacked under .tools/deb, with the binary linked into .tools/bin for `make test` to put on PATH.
#
# A tool that cannot be had is reported and left out: its tests then skip, or fail where
# HAE_REQUIRE_DEPLOY_TOOLS=1 (CI). Quiet and idempotent when there is nothing to do.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$ROOT/.tools/bin
DEB=$ROOT/.tools/deb
mkdir -p "$BIN"

log() { printf 'test-tools: %s\n' "$*"; }

# fetch BINARY PACKAGE
fetch() {
    local binary=$1 package=$2 work
    [ -x "$BIN/$binary" ] && return 0
    command -v "$binary" >/dev/null 2>&1 && return 0
    if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
        log "$binary missing and no apt-get/dpkg-deb to fetch $package: its tests will skip"
        return 0
    fi
    log "fetching $binary from the Debian package $package"
    work=$(mktemp -d)
    # `apt-get download` writes into the current directory; -o keeps the _apt sandbox warning off.
    if ! (cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$package" >/dev/null 2>&1 ||
          { apt-get update -q >/dev/null 2>&1 && apt-get download -q -o APT::Sandbox::User=root "$package" >/dev/null 2>&1; }); then
        rm -rf "$work"
        log "could not download $package: the $binary tests will skip"
        return 0
    fi
    mkdir -p "$DEB/$package"
    dpkg-deb -x "$work"/*.deb "$DEB/$package"
    rm -rf "$work"
    if "$DEB/$package/usr/bin/$binary" --version >/dev/null 2>&1; then
        ln -sf "$DEB/$package/usr/bin/$binary" "$BIN/$binary"
    else
        log "$binary from $package does not run here: its tests will skip"
    fi
}

fetch promtool prometheus
fetch shellcheck shellcheck
