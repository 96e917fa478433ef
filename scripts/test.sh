#!/usr/bin/env bash
# The test command: installs the tools the integration tests need (cached after the first run), then runs jest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-tools.sh
exec npx jest "$@"
