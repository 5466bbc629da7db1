#!/bin/sh
# Write .env for docker compose from .env.example, with a fresh random value for every secret
# left empty there (POSTGRES_PASSWORD, HAE_KEY_PEPPER, GRAFANA_ADMIN_PASSWORD, GRAFANA_DB_PASSWORD).
#
#   sh deploy/compose/init-env.sh          # refuses to overwrite an existing .env
#
# Secrets are 64 hex characters from /dev/urandom: safe inside URLs, well above the 32 characters
# HAE_KEY_PEPPER needs.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
EXAMPLE=$ROOT/.env.example
TARGET=$ROOT/.env

if [ -e "$TARGET" ]; then
    echo "init-env: $TARGET exists already; edit it, or remove it first" >&2
    exit 1
fi
[ -r "$EXAMPLE" ] || { echo "init-env: $EXAMPLE is missing" >&2; exit 1; }

random_hex() {
    od -An -N32 -tx1 /dev/urandom | tr -d ' \n'
}

umask 077
tmp=$TARGET.tmp.$$
trap 'rm -f "$tmp"' EXIT
while IFS= read -r line || [ -n "$line" ]; do
    case $line in
    POSTGRES_PASSWORD= | HAE_KEY_PEPPER= | GRAFANA_ADMIN_PASSWORD= | GRAFANA_DB_PASSWORD=)
        printf '%s%s\n' "$line" "$(random_hex)"
        ;;
    *)
        printf '%s\n' "$line"
        ;;
    esac
done <"$EXAMPLE" >"$tmp"
mv "$tmp" "$TARGET"
trap - EXIT
echo "init-env: wrote $TARGET (mode 600) with new random secrets"
echo "init-env: the Grafana admin password is in it (GRAFANA_ADMIN_PASSWORD)"
