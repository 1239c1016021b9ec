#!/usr/bin/env bash
# run.sh - runs the off-site tests against a throw-away moto S3 server.
#   tests/offsite/run.sh [path/to/wecare_unit] [gtest args...]
# Needs a python3 with moto (the pyenv one here; override with MOTO_PYTHON)
# and the aws CLI. The server gets a free port and is killed on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../../build/unit/wecare_unit}
shift || true
py=${MOTO_PYTHON:-python3}
# Without moto the S3 tests cannot run: skip them, unless told they must run (CI).
missing=""
"$py" -c 'import moto' 2>/dev/null || missing="'$py' has no moto (set MOTO_PYTHON)"
[ -n "$missing" ] || command -v aws >/dev/null || missing="the aws CLI is not on PATH"
if [ -n "$missing" ]; then
  if [ "${WECARE_REQUIRE_S3:-0}" = 1 ]; then echo "run.sh: $missing" >&2; exit 2; fi
  echo "run.sh: off-site S3 tests skipped: $missing" >&2
  exec "$bin" --gtest_brief=1 "$@"
fi

work=$(mktemp -d /tmp/wecare_offsite_run.XXXXXX)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
endpoint="http://127.0.0.1:$port"
"$py" -m moto.server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -s -o /dev/null "$endpoint/" && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/moto.log" >&2; echo "run.sh: moto did not start" >&2; exit 1; }
  sleep 0.1
done

# Credentials for the aws CLI only; the tests pass their own explicitly.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN
bucket=wecare-test
aws --endpoint-url "$endpoint" s3 mb "s3://$bucket" >/dev/null

WECARE_S3_ENDPOINT=$endpoint WECARE_S3_BUCKET=$bucket "$bin" "$@"

# Outside checks: only when the test that leaves check/encrypted.wcbk ran.
if aws --endpoint-url "$endpoint" s3api head-object --bucket "$bucket" --key check/encrypted.wcbk >/dev/null 2>&1; then
  aws --endpoint-url "$endpoint" s3 cp "s3://$bucket/check/encrypted.wcbk" "$work/encrypted.wcbk" >/dev/null
  [ "$(head -c 5 "$work/encrypted.wcbk")" = "WCBK2" ] || { echo "FAIL: object lacks the WCBK2 header" >&2; exit 1; }
  if grep -q "WECARE-PLAINTEXT-MARKER" "$work/encrypted.wcbk"; then
    echo "FAIL: uploaded object contains plaintext" >&2; exit 1
  fi
  echo "outside check: s3://$bucket/check/encrypted.wcbk exists ($(stat -c %s "$work/encrypted.wcbk") bytes), starts with WCBK2, no plaintext"
fi
open_uploads=$(aws --endpoint-url "$endpoint" s3api list-multipart-uploads --bucket "$bucket" \
  --query 'length(Uploads || `[]`)' --output text)
[ "$open_uploads" = "0" ] || { echo "FAIL: $open_uploads multipart uploads left open" >&2; exit 1; }
echo "outside check: no multipart upload left open"
