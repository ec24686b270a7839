#!/usr/bin/env bash
# Compile pipeline.py into a pipeline definition, the file uploaded in the Vertex AI Pipelines console.
#
#   ./compile.sh                  writes pipeline.yaml (committed; CI checks it is up to date)
#   BQSYNTH_COMPONENT_IMAGE=REGION-docker.pkg.dev/PROJECT/REPO/bqsynth-components:TAG \
#     ./compile.sh build/pipeline.yaml     the same pipeline, running in your image
#
# Every step runs in the component image; without BQSYNTH_COMPONENT_IMAGE the image is a
# placeholder (components/__init__.py), which is what the committed pipeline.yaml holds.
#
#   BQSYNTH_GENERATE_PARALLELISM=64 ./compile.sh build/pipeline.yaml
#
# caps how many shards are generated at once (each a worker VM on Vertex AI; default 32, see
# pipeline.py). KFP fixes the cap when the pipeline is compiled: it is not a run's parameter.
set -euo pipefail
cd "$(dirname "$0")"
out="${1:-pipeline.yaml}"
python_bin=".venv/bin/python"
[ -x "$python_bin" ] || python_bin="python3"
mkdir -p "$(dirname "$out")"
"$python_bin" - "$out" <<'PY'
import sys

from kfp import compiler

import os

from components import COMPONENT_IMAGE
from pipeline import GENERATE_PARALLELISM_ENV, build_pipeline, generate_parallelism

try:
    parallelism = generate_parallelism(os.environ.get(GENERATE_PARALLELISM_ENV))
except ValueError as error:
    sys.exit(f"error: {error}")
compiler.Compiler().compile(build_pipeline(parallelism), sys.argv[1])
print(f"wrote {sys.argv[1]} (component image {COMPONENT_IMAGE}; at most {parallelism} shards generated at once)")
PY
