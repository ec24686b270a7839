#!/usr/bin/env bash
# build_image.sh - build the component image with Cloud Build and push it to Artifact Registry.
#
# Usage: scripts/build_image.sh --project PROJECT --region REGION [--repository REPO] [--tag TAG] [--dry-run]
#
#   --project      Google Cloud project that builds and stores the image
#   --region       Artifact Registry location, e.g. us-central1 (use your Vertex AI region)
#   --repository   Artifact Registry Docker repository (default: bqsynth)
#   --tag          image tag (default: the git commit, with -dirty when the image's files
#                  have uncommitted changes)
#   --dry-run      print the image name and the gcloud command; run nothing
#
# The image is REGION-docker.pkg.dev/PROJECT/REPO/bqsynth-components:TAG, built from
# containers/Dockerfile by containers/cloudbuild.yaml; only the files the Dockerfile
# copies are uploaded (containers/.gcloudignore). The repository must exist:
#   gcloud artifacts repositories create REPO --repository-format docker --location REGION --project PROJECT
# Then compile or submit with the printed image (see README.md, "Deploying to Google Cloud").
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
die() { printf 'build_image.sh: %s\n' "$*" >&2; exit 2; }

project="" region="" repository="bqsynth" tag="" dry_run=0
while (($#)); do
  case "$1" in
    --project) project="${2:-}"; shift 2 || die "--project needs a value" ;;
    --region) region="${2:-}"; shift 2 || die "--region needs a value" ;;
    --repository) repository="${2:-}"; shift 2 || die "--repository needs a value" ;;
    --tag) tag="${2:-}"; shift 2 || die "--tag needs a value" ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

[[ -n "$project" ]] || die "--project is required (the project that builds and stores the image)"
[[ -n "$region" ]] || die "--region is required, e.g. --region us-central1 (your Vertex AI region)"
[[ "$project" =~ ^([a-z0-9.-]+:)?[a-z][-a-z0-9]{4,28}[a-z0-9]$ ]] || die "--project '$project' is not a project id"
[[ "$region" =~ ^[a-z]+(-[a-z]+)+[0-9]+$ ]] || die "--region '$region' is not a region such as us-central1"
[[ "$repository" =~ ^[a-z]([a-z0-9-]*[a-z0-9])?$ ]] || die "--repository '$repository': lowercase letters, digits, -"

if [[ -z "$tag" ]]; then
  if git -C "$REPO_ROOT" rev-parse --verify -q HEAD >/dev/null 2>&1; then
    tag="$(git -C "$REPO_ROOT" rev-parse --short=12 HEAD)"
    image_files=(requirements.txt pipeline.py bqsynth components containers)
    if [[ -n "$(git -C "$REPO_ROOT" status --porcelain -- "${image_files[@]}")" ]]; then
      tag="$tag-dirty"
    fi
  else
    tag="latest"
  fi
fi
[[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "--tag '$tag' is not a valid image tag"

image="$region-docker.pkg.dev/$project/$repository/bqsynth-components:$tag"
command=(
  gcloud builds submit
  --project "$project"
  --config containers/cloudbuild.yaml
  --ignore-file containers/.gcloudignore
  --substitutions "_REGION=$region,_REPOSITORY=$repository,_TAG=$tag"
  .
)

echo "image: $image"
if ((dry_run)); then
  printf 'would run (in %s):\n ' "$REPO_ROOT"
  printf ' %s' "${command[@]}"
  printf '\n'
  exit 0
fi

command -v gcloud >/dev/null 2>&1 ||
  die "gcloud not found: install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install), or see --dry-run"
cd "$REPO_ROOT"
"${command[@]}"
cat <<DONE

pushed $image
next:
  BQSYNTH_COMPONENT_IMAGE=$image ./compile.sh build/pipeline.yaml    # for the console
  .venv/bin/python submit.py --project $project --region $region --image $image --pipeline-root gs://BUCKET/root ...
DONE
