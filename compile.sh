#!/usr/bin/env bash
# Compile pipeline.py into pipeline.yaml, the file uploaded in the Vertex AI Pipelines console.
#   BQSYNTH_COMPONENT_IMAGE=REGION-docker.pkg.dev/PROJECT/REPO/bqsynth-components:TAG ./compile.sh
set -euo pipefail
cd "$(dirname "$0")"
python_bin=".venv/bin/python"
[ -x "$python_bin" ] || python_bin="python3"
"$python_bin" - <<'PY'
from kfp import compiler

from pipeline import bqsynth_pipeline

compiler.Compiler().compile(bqsynth_pipeline, "pipeline.yaml")
print("wrote pipeline.yaml")
PY
