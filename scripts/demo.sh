#!/usr/bin/env bash
# Fresh machine -> the face-swap workflow on the bundled public-domain portraits
# (astronaut -> Grace Hopper); the result is written to output/face_pipeline/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
.venv/bin/python run_workflow.py workflows/face_swap_api.json \
    --input-dir workflows/inputs --output-dir output "$@"
