#!/usr/bin/env bash
# Fresh machine -> the whole test suite (needs ../shared/testdata and ../shared/comfyui beside the checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
# The real-ComfyUI check's browser (Debian chromium + playwright-core from npm); without it that
# one check skips and says why. The ComfyUI environment itself is built (and cached) by the test.
.venv/bin/python tools/comfyui_host.py browser >/dev/null || echo "test.sh: no browser for the frontend check (see above)" >&2
.venv/bin/python -m pytest "$@"
