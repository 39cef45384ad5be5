#!/usr/bin/env bash
# The logic of action.yml's run step: builds the command line from the INPUT_* variables, runs
# the harness, and records its exit code in $GITHUB_OUTPUT as exit-code (the step itself
# succeeds, so the reports are uploaded; action.yml's last step exits with the code).
#   INPUT_SPAWN, INPUT_BASE_URL, INPUT_ARGS (split on whitespace), INPUT_JUNIT, INPUT_REPORT_HTML
#   NEXUDUS_CONFORMANCE: the binary (default: nexudus-conformance on PATH)
set -uo pipefail
bin=${NEXUDUS_CONFORMANCE:-nexudus-conformance}
cmd=("$bin")
[[ -n ${INPUT_SPAWN:-} ]] && cmd+=(--spawn "$INPUT_SPAWN")
[[ -n ${INPUT_BASE_URL:-} ]] && cmd+=(--base-url "$INPUT_BASE_URL")
[[ -n ${INPUT_JUNIT:-} ]] && cmd+=(--junit "$INPUT_JUNIT")
[[ -n ${INPUT_REPORT_HTML:-} ]] && cmd+=(--report-html "$INPUT_REPORT_HTML")
read -r -a extra <<<"${INPUT_ARGS:-}"
cmd+=("${extra[@]}")
"${cmd[@]}"
code=$?
echo "exit-code=$code" >>"${GITHUB_OUTPUT:-/dev/null}"
echo "nexudus-conformance exited with $code"
exit 0
