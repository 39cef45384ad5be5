#!/usr/bin/env bash
# The exported contract (docs/openapi.json) checked by tools other than ours:
#   1. Schemathesis fuzzes `serve` with it — the reference server must pass;
#   2. Schemathesis against `serve --fault profile_ids_as_strings` — a fault the schema shows
#      must fail;
#   3. Prism mocks the document, and the harness runs against the mock — a stateless mock must
#      get exactly the verdicts listed below (it answers every request with the document's
#      example, so it refuses nothing and switches nothing).
# Needs python3 (venv) and npm; installs Schemathesis and Prism into $SCRATCH (a cache that is
# kept between runs). Not part of `cargo test`, which stays offline. Exit status 0: all three
# held.
set -euo pipefail
cd "$(dirname "$0")/.."

SCRATCH=${SCRATCH:-${XDG_CACHE_HOME:-$HOME/.cache}/nexudus-conformance-peers}
PORT=${PORT:-18700}
TOKEN=peers-primary-token-1
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance

mkdir -p "$SCRATCH"
if [[ ! -x $SCRATCH/venv/bin/st ]]; then
  python3 -m venv "$SCRATCH/venv"
  "$SCRATCH/venv/bin/pip" install --quiet schemathesis
fi
if [[ ! -x $SCRATCH/npm/node_modules/.bin/prism ]]; then
  npm install --silent --prefix "$SCRATCH/npm" @stoplight/prism-cli
fi
cargo build --release --quiet
BIN=target/release/nexudus-conformance
"$BIN" openapi | diff -q - docs/openapi.json >/dev/null ||
  { echo "docs/openapi.json is stale: $BIN openapi > docs/openapi.json" >&2; exit 1; }

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
wait_for() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; return 1; }
serve() { # serve PORT [--fault NAME]
  "$BIN" serve --port "$1" "${@:2}" --primary-token "$TOKEN" \
    --foreign-token peers-foreign-token-2 --expired-token peers-expired-token-3 >/dev/null &
  pids+=($!)
  wait_for "http://127.0.0.1:$1/"
}
st() { "$SCRATCH/venv/bin/st" run docs/openapi.json --url "http://127.0.0.1:$1" \
  -H "Authorization: Bearer $TOKEN" --checks "$CHECKS" --max-examples 50 --seed 1; }

status=0
echo "== 1. Schemathesis against the reference server (must pass)"
serve "$PORT"
if st "$PORT"; then echo "== 1. passed, as it must"; else echo "== 1. FAILED"; status=1; fi

echo "== 2. Schemathesis against serve --fault profile_ids_as_strings (must fail)"
serve $((PORT + 1)) --fault profile_ids_as_strings
if st $((PORT + 1)); then echo "== 2. PASSED, but the fault must fail"; status=1; else echo "== 2. failed, as it must"; fi

echo "== 3. the harness against Prism's mock of the document"
"$SCRATCH/npm/node_modules/.bin/prism" mock docs/openapi.json -h 127.0.0.1 -p $((PORT + 2)) >/dev/null &
pids+=($!)
wait_for "http://127.0.0.1:$((PORT + 2))/api/public/coworkers/profiles"
set +e
"$BIN" --base-url "http://127.0.0.1:$((PORT + 2))" --token "$TOKEN" --foreign-profile-id 2201 \
  --progress never --max-rps 0 >"$SCRATCH/prism-run.txt" 2>&1
code=$?
set -e
grep -E '^(test result|verdict|not judged)' "$SCRATCH/prism-run.txt"
failed=$(grep -E '^test .* FAILED$' "$SCRATCH/prism-run.txt" | awk '{print $2}' | sort)
# What a stateless mock must fail: it takes any bearer token (bad_token, profiles_requires_auth),
# answers every switch 200 (foreign, unknown, out-of-range ids) and switches nothing
# (valid_switch).
expected=$(sort <<'EOF'
bad_token::status_is_401
coworker_id_probes::not_own::not_2xx
foreign_profile::status_is_404
indistinguishable_refusals::foreign::status_is_404
indistinguishable_refusals::unknown::status_is_404
invalid_coworker_id::negative::not_2xx
invalid_coworker_id::twenty_digits::not_2xx
profiles_requires_auth::invalid_token::status_is_401
profiles_requires_auth::invariants
unknown_profile::status_is_404
unknown_profile_sweep::status_is_404
valid_switch::original_not_default
valid_switch::target_is_default
EOF
)
if [[ $code == 101 && $failed == "$expected" ]]; then
  echo "== 3. exit 101 with the $(wc -l <<<"$failed") failures a stateless mock must have"
else
  echo "== 3. UNEXPECTED: exit $code; failed trials:"
  diff <(echo "$expected") <(echo "$failed") || true
  status=1
fi
exit $status
