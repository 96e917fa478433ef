#!/usr/bin/env bash
# The test command: installs the tools the integration tests need (cached after the first run), then runs jest
# and ends with one plain "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-tools.sh

results=$(mktemp)
trap 'rm -f "$results"' EXIT
status=0
npx jest --json --outputFile="$results" "$@" || status=$?
if [[ -s $results ]]; then
  node -e '
    const summary = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    const skipped = summary.numPendingTests + summary.numTodoTests;
    console.log(`jest: ${summary.numPassedTests} passed, ${summary.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
  ' "$results"
fi
exit "$status"
