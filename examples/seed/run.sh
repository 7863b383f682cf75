#!/usr/bin/env bash
# Runs the seed scenario (scenario.py beside this file) against a throwaway keystead:
# initializes a data directory, creates a second account and credentials for each service the
# seed names, starts `keystead serve` on a free loopback port, checks every promise, stops.
#
# Usage: examples/seed/run.sh        (after `cargo build -p keystead` and ./admin/test's venv,
#                                      or with KEYSTEAD_BIN and PYTHON pointing elsewhere)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${KEYSTEAD_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/keystead}"
python="${PYTHON:-$root/.venv/bin/python}"
[ -x "$bin" ] || { echo "run.sh: no keystead binary at $bin (cargo build -p keystead)" >&2; exit 2; }

work="$(mktemp -d)"
data="$work/data"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" && wait "$server_pid" || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
# Never pick up the caller's AWS settings.
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_DEFAULT_REGION
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

account="$("$bin" init --data-dir "$data" | sed -n 's/^account id:[[:space:]]*\([0-9]\{12\}\).*/\1/p')"
other="$("$bin" account create --data-dir "$data" | sed -n 's/^account id:[[:space:]]*\([0-9]\{12\}\).*/\1/p')"
echo "application account $account, partner account $other"
profiles=()
for service in rds s3 cloudfront lambda secretsmanager; do
    "$bin" service-credentials create --data-dir "$data" --account "$account" \
        --service "$service.amazonaws.com" >/dev/null
    profiles+=(--service-profile "$service.amazonaws.com=keystead-service-$service-$account")
done

"$bin" serve --data-dir "$data" --listen 127.0.0.1:0 >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
endpoint=""
for _ in $(seq 1 300); do
    endpoint="$(sed -n 's/^keystead listening on \(http:\/\/[0-9.:]*\)$/\1/p' "$work/stdout")"
    [ -n "$endpoint" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/stderr" >&2; exit 1; }
    sleep 0.1
done
[ -n "$endpoint" ] || { echo "run.sh: keystead did not start" >&2; exit 1; }
echo "keystead at $endpoint"

"$python" "$here/scenario.py" --endpoint "$endpoint" --credentials-file "$data/credentials" \
    --account "$account" --other-account "$other" "${profiles[@]}"
