#!/usr/bin/env bash
# Compile pipeline.py into a pipeline definition, the file uploaded in the Vertex AI Pipelines console.
#
#   ./compile.sh                  writes pipeline.yaml (committed; CI checks it is up to date)
#   BQSYNTH_COMPONENT_IMAGE=REGION-docker.pkg.dev/PROJECT/REPO/bqsynth-components:TAG \
#     ./compile.sh build/pipeline.yaml     the same pipeline, running in your image
#
# Every step runs in the component image; without BQSYNTH_COMPONENT_IMAGE the image is a
# placeholder (components/__init__.py), which is what the committed pipeline.yaml holds.
set -euo pipefail
cd "$(dirname "$0")"
out="${1:-pipeline.yaml}"
python_bin=".venv/bin/python"
[ -x "$python_bin" ] || python_bin="python3"
mkdir -p "$(dirname "$out")"
"$python_bin" - "$out" <<'PY'
import sys

from kfp import compiler

from components import COMPONENT_IMAGE
from pipeline import bqsynth_pipeline

compiler.Compiler().compile(bqsynth_pipeline, sys.argv[1])
print(f"wrote {sys.argv[1]} (component image {COMPONENT_IMAGE})")
PY
