#!/usr/bin/env bash
# Create (or reuse) .venv with what the pack needs outside ComfyUI, plus the test tools.
# Inside ComfyUI you don't need this: ComfyUI-Manager installs requirements.txt + install.py.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-standalone.txt
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps "spandrel>=0.4,<0.5"
.venv/bin/python install.py
