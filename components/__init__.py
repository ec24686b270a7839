"""KFP lightweight components: thin wrappers that translate KFP inputs and artifacts into
calls of ``bqsynth.steps``. All logic lives in ``bqsynth``; a component only imports it
(inside the function body, because KFP ships the function's source to the worker)."""

import os

COMPONENT_IMAGE_ENV = "BQSYNTH_COMPONENT_IMAGE"

# A placeholder, not a real image: compile with your own image (scripts/build_image.sh
# prints it), e.g. `BQSYNTH_COMPONENT_IMAGE=... ./compile.sh`, or submit with --image.
DEFAULT_COMPONENT_IMAGE = "us-docker.pkg.dev/your-project/bqsynth/bqsynth-components:0.1.0"

# The image every component runs in on Vertex AI (built from containers/Dockerfile).
# Read at compile time (import time of this package), so the environment variable pins it.
COMPONENT_IMAGE = os.environ.get(COMPONENT_IMAGE_ENV) or DEFAULT_COMPONENT_IMAGE
