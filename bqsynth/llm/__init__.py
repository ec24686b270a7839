"""Plan advice: Gemini makes the offline plan smarter, and can never make it unsafe.

The plan step calls, on the offline plan with its recipes
(``offline_plan = generation.recipe.with_recipes(planning.planner.plan_dataset(...))``)::

    settings = LlmSettings(llm="gemini", project=..., sample_policy="masked", ...)
    advised = advise_plan(profiles, offline_plan, make_advisor(settings), settings.advice_options())
    advised.plan      # the DatasetPlan to write (recipes recompiled and checked)
    advised.report    # the AdviceReport to write and summarise (fallbacks, tokens, prompt sizes)

Modules, one concern each: ``base`` (the ``PlanAdvisor`` interface, requests, replies),
``answers`` (response schemas), ``prompts`` (masked, bounded prompts), ``offline`` and
``gemini`` (the two providers), ``validate``, ``rule_checks`` and ``apply`` (checking and using
answers), ``advise`` (the loop with repairs, fallbacks and the token budget), ``advice_report``.
``headerless`` names a headerless file's columns for the profile step (``headerless_namer``).
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import Field

from bqsynth.config import RunConfig, run_default
from bqsynth.llm.advice_report import AdviceReport, TableAdvice
from bqsynth.llm.advise import AdviceOptions, AdvisedPlan, advise_plan
from bqsynth.llm.answers import ColumnRule
from bqsynth.llm.base import PlanAdvisor, Prompt, Reply
from bqsynth.llm.gemini import GeminiAdvisor, GeminiConfig
from bqsynth.llm.headerless import name_headerless
from bqsynth.llm.offline import OfflineAdvisor, with_offline_rules
from bqsynth.llm.prompts import SAMPLE_POLICIES, PromptLimits, SamplePolicy
from bqsynth.llm.vocabulary import VocabularyLimits
from bqsynth.models import ColumnNaming, StrictModel
from bqsynth.sources.file_profile import ColumnNamer, HeaderlessSample

LlmChoice = Literal["offline", "gemini"]


class LlmSettings(StrictModel):
    """The pipeline parameters of plan advice, flat, as a step receives them."""

    llm: LlmChoice = "offline"
    project: str = Field(default="", description="Vertex AI project (gemini); usually the target project")
    location: str = run_default("llm_location")
    model: str = run_default("model")
    base_url: str | None = Field(default=None, description="Endpoint override (the tests' fake server)")
    sample_policy: SamplePolicy = run_default("sample_policy")
    token_budget: int = Field(default=run_default("llm_token_budget"), ge=0)
    max_repairs: int = Field(default=2, ge=0)
    timeout_seconds: float = Field(default=120.0, gt=0)
    attempts: int = Field(default=4, ge=1)
    min_category_count: int = Field(default=run_default("min_category_count"), ge=1)
    vocabulary: VocabularyLimits = Field(
        default_factory=VocabularyLimits,
        description="Model-made vocabularies (text of a kind nothing else covers): most values, fewest kept",
    )

    def advice_options(self) -> AdviceOptions:
        return AdviceOptions(
            prompt=PromptLimits(sample_policy=self.sample_policy),
            max_repairs=self.max_repairs,
            token_budget=self.token_budget,
            min_category_count=self.min_category_count,
            vocabulary=self.vocabulary,
        )

    def gemini_config(self) -> GeminiConfig:
        return GeminiConfig(
            project=self.project,
            location=self.location,
            model=self.model,
            base_url=self.base_url,
            timeout_seconds=self.timeout_seconds,
            attempts=self.attempts,
        )


# Test hooks, read only when set: point Gemini at a fake Vertex server with a static token. KFP
# steps run in subprocesses, which inherit the environment but not Python objects.
BASE_URL_ENV = "BQSYNTH_GEMINI_BASE_URL"
ACCESS_TOKEN_ENV = "BQSYNTH_GEMINI_ACCESS_TOKEN"


def make_advisor(settings: LlmSettings, credentials: Any = None) -> PlanAdvisor:
    """The provider the settings name (credentials: None = application default credentials)."""
    if settings.llm != "gemini":
        return OfflineAdvisor()
    if not settings.project:
        raise ValueError("llm=gemini needs a Vertex AI project (the target project is the usual choice)")
    config = settings.gemini_config()
    if config.base_url is None and os.environ.get(BASE_URL_ENV):
        config = config.model_copy(update={"base_url": os.environ[BASE_URL_ENV]})
    if credentials is None and os.environ.get(ACCESS_TOKEN_ENV):
        from google.oauth2.credentials import Credentials

        credentials = Credentials(token=os.environ[ACCESS_TOKEN_ENV])
    return GeminiAdvisor(config, credentials=credentials)


def llm_settings(config: RunConfig) -> LlmSettings:
    """The advisor's settings from the run's configuration; Gemini is called in the target project."""
    assert config.llm is not None, "start_batch resolves the advisor (RunConfig.for_runner)"
    return LlmSettings(
        llm=config.llm,
        project=config.target_project,
        location=config.llm_location,
        model=config.model,
        sample_policy=config.sample_policy,
        token_budget=config.llm_token_budget,
        min_category_count=config.min_category_count,
    )


def headerless_namer(
    settings: LlmSettings, credentials: Any = None, *, pinned: str | None = None
) -> ColumnNamer | None:
    """What names a headerless file source's columns: None (offline: its names by meaning) or the model.

    ``pinned``: why the names by meaning must stay (the run's configuration names them); the
    model is then not asked, and the record says why.
    """
    if settings.llm != "gemini":
        return None
    advisor = make_advisor(settings, credentials)
    assert isinstance(advisor, GeminiAdvisor)
    options = settings.advice_options()

    def namer(sample: HeaderlessSample) -> tuple[list[str], ColumnNaming]:
        if pinned is not None:
            offline = [c.name for c in sample.fmt.columns]
            return offline, ColumnNaming(
                advisor=advisor.name, source="offline", offline_names=offline, fallback_reason=pinned
            )
        return name_headerless(sample, advisor, options)

    return namer


__all__ = [
    "ACCESS_TOKEN_ENV",
    "BASE_URL_ENV",
    "SAMPLE_POLICIES",
    "AdviceOptions",
    "AdviceReport",
    "AdvisedPlan",
    "ColumnRule",
    "GeminiAdvisor",
    "GeminiConfig",
    "LlmSettings",
    "OfflineAdvisor",
    "PlanAdvisor",
    "Prompt",
    "PromptLimits",
    "Reply",
    "SamplePolicy",
    "TableAdvice",
    "VocabularyLimits",
    "advise_plan",
    "headerless_namer",
    "llm_settings",
    "make_advisor",
    "with_offline_rules",
]
