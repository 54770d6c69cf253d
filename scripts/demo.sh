#!/usr/bin/env bash
# Fresh machine -> the example workflow run on the bundled public-domain portraits.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
.venv/bin/python run_workflow.py workflows/face_landmarks_api.json \
    --input-dir workflows/inputs --output-dir output "$@"
