"""KFP lightweight components: thin wrappers that translate KFP inputs and artifacts into
calls of ``bqsynth.steps``. All logic lives in ``bqsynth``; a component only imports it
(inside the function body, because KFP ships the function's source to the worker)."""

import os

# The image every component runs in on Vertex AI (built from containers/Dockerfile).
# Read at compile time, so `BQSYNTH_COMPONENT_IMAGE=... ./compile.sh` pins it.
COMPONENT_IMAGE = os.environ.get(
    "BQSYNTH_COMPONENT_IMAGE", "us-docker.pkg.dev/your-project/bqsynth/bqsynth-components:0.1.0"
)
