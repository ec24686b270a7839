"""The component image's contents are enough to run the pipeline's steps.

No Docker here: the test reads containers/Dockerfile, lays out its COPY steps under a
temporary directory standing for the image's file system, creates a fresh Python 3.11
virtual environment, runs the Dockerfile's pip and python RUN steps with it, and then,
with nothing but that environment and the Dockerfile's ENV, imports every component and
runs one (start_batch, against the BigQuery emulator) through kfp.local.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pytest

from bqsynth.delivery.audit import read_audit
from bqsynth.gcp.clients import bigquery_client, default_project

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "containers" / "Dockerfile"
# RUN steps that set up the image's operating system; a virtual environment has no equivalent.
SYSTEM_ONLY = {"useradd", "groupadd", "chown", "chmod"}
# Settings that change the image's size, not what is installed: dropped to use pip's cache here.
SIZE_ONLY_ENV = {"PIP_NO_CACHE_DIR"}
SIZE_ONLY_FLAGS = {"--no-cache-dir"}


@dataclass
class Image:
    """The Dockerfile's effect, replayed under ``root`` with ``venv`` as the image's Python."""

    root: Path
    venv: Path
    base: str = ""
    workdir: PurePosixPath = PurePosixPath("/")
    env: dict[str, str] = field(default_factory=dict)
    copied: list[str] = field(default_factory=list)  # COPY sources, relative to the build context
    ran: list[str] = field(default_factory=list)
    user: str = "root"

    def host(self, path: PurePosixPath) -> Path:
        return self.root / path.relative_to("/")

    def host_env(self, value: str) -> str:
        """An ENV value with the image's absolute paths moved under ``root``."""
        return ":".join(str(self.host(PurePosixPath(p))) if p.startswith("/") else p for p in value.split(":"))

    def process_env(self) -> dict[str, str]:
        """What a step sees: this machine's environment (package index, certificates, the
        emulators) without this checkout's Python, then the image's ENV and its Python first."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        env.update({name: self.host_env(value) for name, value in self.env.items() if name not in SIZE_ONLY_ENV})
        env["PATH"] = f"{self.venv / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}"
        return env


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for line in dockerfile.read_text().splitlines():
        if line.lstrip().startswith("#") and not current:
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        if current.strip():
            keyword, _, rest = current.strip().partition(" ")
            lines.append((keyword.upper(), rest.strip()))
        current = ""
    return lines


def replay(dockerfile: Path, image: Image) -> Image:
    """Apply each instruction to ``image``; fail on one this test cannot reproduce."""
    for keyword, rest in instructions(dockerfile):
        if keyword == "FROM":
            image.base = rest
        elif keyword == "ENV":
            image.env.update(dict(pair.split("=", 1) for pair in shlex.split(rest)))
        elif keyword == "WORKDIR":
            image.workdir = image.workdir / rest
            image.host(image.workdir).mkdir(parents=True, exist_ok=True)
        elif keyword == "COPY":
            *sources, destination = shlex.split(rest)
            assert not any(s.startswith("--") for s in sources), f"COPY flags are not replayed: {rest}"
            target = image.workdir / destination
            for source in sources:
                image.copied.append(source.rstrip("/"))
                origin = REPO / source
                if origin.is_dir():
                    shutil.copytree(
                        origin, image.host(target), dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
                    )
                else:
                    into = image.host(target / origin.name if destination.endswith(("/", ".")) else target)
                    into.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, into)
        elif keyword == "RUN":
            command = [word for word in shlex.split(rest) if word not in SIZE_ONLY_FLAGS]
            if command[0] in SYSTEM_ONLY:
                continue
            assert command[0] in ("pip", "python", "python3"), f"the image test cannot reproduce RUN {rest}"
            assert not set(command) & {"&&", "||", ";", "|"}, f"one command per RUN, please: {rest}"
            command[0] = str(image.venv / "bin" / command[0])
            result = subprocess.run(
                command, cwd=image.host(image.workdir), env=image.process_env(), capture_output=True, text=True
            )
            assert result.returncode == 0, f"RUN {rest} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            image.ran.append(rest)
        elif keyword == "USER":
            image.user = rest
        else:
            assert keyword in ("LABEL", "ARG", "EXPOSE", "ENTRYPOINT", "CMD"), f"unexpected {keyword} {rest}"
    return image


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    scratch = tmp_path_factory.mktemp("image")
    venv = scratch / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # a venv of the base Python 3.11
    return replay(DOCKERFILE, Image(root=scratch / "fs", venv=venv))


def test_the_dockerfile_is_a_standard_non_root_python_311_image(image: Image) -> None:
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", image.base)
    assert sys.version_info[:2] == (3, 11)  # the fresh venv has the image's Python version
    assert image.user not in ("root", "0")
    assert set(image.copied) >= {"requirements.txt", "bqsynth", "components", "pipeline.py"}
    assert any("-r requirements.txt" in run for run in image.ran)


def test_the_image_requirements_are_consistent(image: Image) -> None:
    check = subprocess.run(
        [str(image.venv / "bin" / "python"), "-m", "pip", "check"],
        env=image.process_env(),
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_every_component_and_the_pipeline_import_in_the_image(image: Image) -> None:
    workdir = image.host(image.workdir)
    modules = sorted(f"components.{p.stem}" for p in (workdir / "components").glob("*.py") if p.stem != "__init__")
    assert len(modules) >= 6
    script = textwrap.dedent(
        f"""
        import importlib, json, sys
        for name in {modules!r} + ["pipeline", "bqsynth.steps"]:
            importlib.import_module(name)
        print(json.dumps({{"prefix": sys.prefix, "files": {{m: sys.modules[m].__file__ for m in {modules!r}}}}}))
        """
    )
    result = subprocess.run(
        [str(image.venv / "bin" / "python"), "-c", script],
        cwd=image.root,
        env=image.process_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout)
    assert Path(loaded["prefix"]) == image.venv
    assert all(Path(f).is_relative_to(workdir) for f in loaded["files"].values())  # not this checkout


def test_a_component_runs_through_kfp_local_in_the_image(image: Image, local_stack: object, tmp_path: Path) -> None:
    project = default_project()
    dataset = f"it_image_{uuid.uuid4().hex[:8]}"
    audit_table = f"{project}.{dataset}.bqsynth_audit"
    batch_id = f"image-{uuid.uuid4().hex[:6]}"
    driver = tmp_path / "driver.py"
    driver.write_text(
        textwrap.dedent(
            f"""
            import sys, warnings
            from kfp import local
            from components.start_batch import start_batch

            warnings.filterwarnings("ignore", message="You may be attemping to run a task that uses custom")
            local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=sys.argv[1], raise_on_error=True)
            from bqsynth.config import pipeline_defaults

            task = start_batch(
                **{{
                    **pipeline_defaults(),
                    "batch_id": {batch_id!r},
                    "audit_table": {audit_table!r},
                    "target_project": {project!r},
                    "target_dataset": {dataset!r},
                    "staging_bucket": "bqsynth-image-test",
                    "source_tables": ["{project}.src.T1", "{project}.src.T2"],
                }}
            )
            print("CONFIG=" + open(task.outputs["config"].path).read())
            """
        )
    )
    result = subprocess.run(
        [str(image.venv / "bin" / "python"), str(driver), str(tmp_path / "outputs")],
        cwd=tmp_path,
        env=image.process_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        config = json.loads(result.stdout.split("CONFIG=", 1)[1])
        assert config["batch_id"] == batch_id and config["audit_table"] == audit_table
        rows = read_audit(bigquery_client(project), audit_table, batch_id)
        assert [(r.stage, r.status) for r in rows] == [("run", "In Progress")]
    finally:
        bigquery_client(project).delete_dataset(dataset, delete_contents=True, not_found_ok=True)


def test_cloud_build_uploads_exactly_what_the_dockerfile_copies(image: Image, tmp_path: Path) -> None:
    """containers/.gcloudignore (gitignore syntax, as gcloud reads it) keeps every COPY source."""
    ignore = REPO / "containers" / ".gcloudignore"
    needed = [f"{c}/__init__.py" if (REPO / c).is_dir() else c for c in image.copied] + ["containers/Dockerfile"]
    candidates = [*needed, ".venv/bin/python", ".stack/data/x", "local_outputs/x", "README.md", "tests/conftest.py"]
    candidates += ["bqsynth/__pycache__/steps.cpython-311.pyc", "bqsynth/deploy/vertex.py"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for path in candidates:  # git tells directories from files by looking
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).touch()
    checked = subprocess.run(
        ["git", "-c", f"core.excludesFile={ignore}", "check-ignore", "--no-index", "--stdin", "-n", "-v"],
        cwd=tmp_path,
        input="\n".join(candidates),
        capture_output=True,
        text=True,
    )
    # -v -n prints "SOURCE:LINE:PATTERN<TAB>PATH" for every path ("::" when no pattern matched);
    # a path is ignored when its last matching pattern is not a negation ("!...").
    matches = [line.split("\t") for line in checked.stdout.splitlines()]
    ignored = {path for source, path in matches if source != "::" and not source.split(":", 2)[2].startswith("!")}
    assert ignored == set(candidates) - set(needed)


def test_the_build_script_builds_the_image_cloud_build_pushes(tmp_path: Path) -> None:
    script = REPO / "scripts" / "build_image.sh"
    dry = subprocess.run(
        [str(script), "--project", "my-project", "--region", "europe-west4", "--tag", "v1", "--dry-run"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    expected = "europe-west4-docker.pkg.dev/my-project/bqsynth/bqsynth-components:v1"
    assert f"image: {expected}" in dry
    assert "gcloud builds submit --project my-project --config containers/cloudbuild.yaml" in dry
    assert "--ignore-file containers/.gcloudignore" in dry
    substitutions = dict(
        pair.split("=")
        for pair in re.search(r"--substitutions (\S+)", dry)[1].split(",")  # type: ignore[index]
    )
    import yaml

    build = yaml.safe_load((REPO / "containers" / "cloudbuild.yaml").read_text())
    pushed = build["images"][0].replace("$PROJECT_ID", "my-project")
    for name, value in substitutions.items():
        pushed = pushed.replace(f"${{{name}}}", value)
    assert pushed == expected
    assert set(substitutions) == set(build["substitutions"])
    assert "--file=containers/Dockerfile" in build["steps"][0]["args"]

    missing = subprocess.run([str(script), "--region", "us-central1"], capture_output=True, text=True)
    assert missing.returncode == 2 and "--project is required" in missing.stderr
