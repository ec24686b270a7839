"""The error hierarchy: every error bqsynth defines is a BqsynthError that names where and what to do."""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil

import pytest
from google.api_core import exceptions as google_exceptions

import bqsynth
from bqsynth.errors import MAX_ERROR_TEXT, BqsynthError, DeliveryError, SourceError, error_text, render_message


def defined_exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined (not imported) in a bqsynth module, by dotted name."""
    found = {}
    for module_info in pkgutil.walk_packages(bqsynth.__path__, prefix="bqsynth."):
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = value
    return found


def test_every_error_bqsynth_defines_is_a_bqsynth_error() -> None:
    classes = defined_exception_classes()
    assert len(classes) >= 14  # the count the hierarchy was written for; it only grows
    assert [name for name, cls in classes.items() if not issubclass(cls, BqsynthError)] == []


@pytest.mark.parametrize(
    ("dotted", "stage_base", "extra_base"),
    [
        ("bqsynth.sources.bigquery_profile.ProfileError", SourceError, None),
        ("bqsynth.sources.delimited.FileFormatError", SourceError, ValueError),
        ("bqsynth.sources.gcs_files.FileSourceError", SourceError, ValueError),
        ("bqsynth.delivery.source_format_files.FileWriteError", DeliveryError, None),
        ("bqsynth.delivery.load.LoadError", DeliveryError, None),
        ("bqsynth.delivery.audit.AuditError", DeliveryError, None),
        ("bqsynth.delivery.quality_table.QualityTableError", DeliveryError, None),
        ("bqsynth.planning.planner.PlanError", BqsynthError, None),
        ("bqsynth.generation.snowfakery_runner.GenerationError", BqsynthError, None),
        ("bqsynth.config.ConfigError", BqsynthError, None),
        ("bqsynth.deploy.vertex.CronError", BqsynthError, None),
    ],
)
def test_each_stage_raises_its_own_subclass(dotted: str, stage_base: type, extra_base: type | None) -> None:
    cls = defined_exception_classes()[dotted]
    assert issubclass(cls, stage_base)
    if extra_base is not None:  # callers (and pydantic validators) that catch the builtin still catch it
        assert issubclass(cls, extra_base)


def test_the_message_names_the_place_and_the_hint() -> None:
    error = BqsynthError("values are not dates", table="orders", column="placed_on", hint="Fix the export.")
    assert str(error) == "table orders, column placed_on: values are not dates. Fix the export."
    assert (error.reason, error.table, error.column, error.file, error.hint) == (
        "values are not dates",
        "orders",
        "placed_on",
        None,
        "Fix the export.",
    )


def test_context_the_reason_already_names_is_not_repeated() -> None:
    assert render_message("source table p.d.orders not found", table="p.d.orders") == (
        "source table p.d.orders not found"
    )
    assert render_message("no object matches.", file="gs://b/x.csv", hint="Check the wildcard.") == (
        "file gs://b/x.csv: no object matches. Check the wildcard."
    )
    assert render_message("refused", hint="refused") == "refused"


def test_a_subclass_raised_with_a_message_only_reads_as_before() -> None:
    from bqsynth.delivery.load import LoadError

    assert str(LoadError("no files to load")) == "no files to load"


def test_the_context_survives_pickling() -> None:
    """Errors cross process boundaries (thread and process pools): the context must travel."""
    error = pickle.loads(pickle.dumps(SourceError("unreadable", file="gs://b/f.csv", hint="Re-export it.")))
    assert isinstance(error, SourceError)
    assert str(error) == "file gs://b/f.csv: unreadable. Re-export it."


def test_error_text_is_the_explanation_bounded() -> None:
    api_error = google_exceptions.NotFound("Not found: Table p:d.t")
    assert error_text(api_error) == "Not found: Table p:d.t"  # not "404 Not found: ..."
    assert error_text(KeyError("x")) == "'x'"
    assert error_text(RuntimeError()) == "RuntimeError"
    long = error_text(ValueError("x" * (MAX_ERROR_TEXT + 10)))
    assert len(long) == MAX_ERROR_TEXT + 4 and long.endswith(" ...")
    assert error_text(BqsynthError("bad", table="t")) == "table t: bad"
