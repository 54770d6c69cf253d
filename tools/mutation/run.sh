#!/usr/bin/env bash
# Mutation testing with mutmut 3 (test-only: requirements-standalone.txt), one module at a time.
#
#   bash tools/mutation/run.sh vision/blend.py          # one module, its test subset
#   bash tools/mutation/run.sh all                      # every module in tools/mutation/modules.txt
#
# mutmut names mutants after the file path, so the pack must be imported as the package
# `face_pipeline` from a folder called face_pipeline: the script stages a copy of the pack in
# $MUTATION_DIR/<module>/face_pipeline (default /tmp/face_pipeline_mutation; plus tests/ and a
# link to ../shared), writes the mutmut config there and runs it; results stay in that folder
# (`mutmut results` / `mutmut show NAME` inside it).  Not part of CI: 5-15 minutes per module
# on 2 cores.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
MODULES="$ROOT/tools/mutation/modules.txt"

run_one() {
  local module="$1" tests
  tests="$(awk -v m="$module" '$1 == m { $1 = ""; print }' "$MODULES")"
  [ -n "$tests" ] || { echo "no test subset for $module in $MODULES" >&2; exit 2; }
  local stage="${MUTATION_DIR:-${TMPDIR:-/tmp}/face_pipeline_mutation}/${module//\//_}"
  stage="${stage%.py}"
  rm -rf "$stage"
  mkdir -p "$stage/face_pipeline"
  (cd "$ROOT" && git ls-files -z -- '*.py' '*.json' '*.onnx' '*.dat' '*.safetensors' \
      ':!tests' ':!bench' ':!tools' ':!workflows' ':!docs' | xargs -0 cp --parents -t "$stage/face_pipeline")
  cp -r "$ROOT/models" "$stage/face_pipeline/"          # embedded model files, untracked ones too
  cp -r "$ROOT/tests" "$stage/tests"
  cp -r "$ROOT/workflows" "$stage/face_pipeline/"       # example inputs some tests read
  mkdir -p "$stage/face_pipeline/tests" && cp -r "$ROOT/tests/data" "$stage/face_pipeline/tests/"
  ln -s "$ROOT/../shared" "$stage/shared"
  local args=""
  for t in $tests; do args="$args\"$t\", "; done
  cat > "$stage/pyproject.toml" <<TOML
[tool.mutmut]
source_paths = ["face_pipeline"]
only_mutate = ["face_pipeline/$module"]
pytest_add_cli_args_test_selection = [${args%, }]
pytest_add_cli_args = ["-q", "-p", "no:cacheprovider"]
also_copy = ["face_pipeline"]
TOML
  echo "== $module: tests $tests" >&2
  (cd "$stage" && OMP_NUM_THREADS=1 "$PY" -m mutmut run --max-children "${MUTMUT_CHILDREN:-1}" > mutmut.log 2>&1 || true
   cd "$stage" && "$PY" -m mutmut results --all true 2>/dev/null | awk -v m="$module" '
     /: killed$/ {k++} /: survived$/ {s++} /: timeout$/ {t++} /: no tests$/ {n++}
     END { printf "%s killed %d survived %d timeout %d no-tests %d\n", m, k, s, t, n }')
}

if [ "${1:-}" = "all" ]; then
  for m in $(awk '!/^#/ && NF { print $1 }' "$MODULES"); do run_one "$m"; done
else
  run_one "$1"
fi
