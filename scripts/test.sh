#!/usr/bin/env bash
# Fresh machine -> the whole test suite (needs ../shared/testdata beside the checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
.venv/bin/python -m pytest "$@"
