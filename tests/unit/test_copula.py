"""The Gaussian copula: fitted on the sample, reproduced by generation, marginals untouched."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from bqsynth.generation.recipe import compile_recipe
from bqsynth.generation.snowfakery_runner import generate_table
from bqsynth.models import Categorical, ColumnPlan, ColumnSchema, NumberFromQuantiles, TablePlan
from bqsynth.planning.copula_fit import category_scores, factor, fit_copula, rank_scores, table_copula
from bqsynth.planning.planner import with_copula


def test_scores_rank_numbers_and_place_categories_in_their_weight_intervals() -> None:
    scores = rank_scores([3.0, None, 1.0, 3.0, 2.0])
    assert scores[1] is None and scores[2] < scores[4] < scores[0] == scores[3]
    cats = category_scores(["b", "a", None, "zz"], ["a", "b"], [3, 1])
    assert cats[1] < 0 < cats[0] and cats[2] is None and cats[3] is None  # a holds [0, .75), b [.75, 1)


def test_factor_repairs_an_inconsistent_matrix() -> None:
    bad = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])  # not positive definite
    lower = factor(bad)
    rebuilt = lower @ lower.T
    assert np.allclose(np.diag(rebuilt), 1.0) and np.all(np.linalg.eigvalsh(rebuilt) > 0)


def _sample(rows: int = 300) -> list[dict]:
    rng = random.Random(1)
    out = []
    for _ in range(rows):
        amount = rng.lognormvariate(4, 1)
        segment = "Premier" if amount > 120 else rng.choice(["Retail", "Retail", "Business"])
        out.append({"amount": amount, "fee": amount * 0.02 + rng.random(), "segment": segment, "noise": rng.random()})
    return out


def _spearman(a: list[float], b: list[float]) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def test_generated_rows_keep_the_sample_correlations_and_marginals(tmp_path: Path) -> None:
    sample = _sample()
    quantiles = {
        c: list(np.quantile([r[c] for r in sample], np.linspace(0, 1, 21))) for c in ("amount", "fee", "noise")
    }
    segments = Categorical(values=["Retail", "Business", "Premier"], weights=[0.5, 0.25, 0.25])
    columns = [
        ColumnPlan(name="amount", type="FLOAT64", generator=NumberFromQuantiles(quantiles=quantiles["amount"])),
        ColumnPlan(name="fee", type="FLOAT64", generator=NumberFromQuantiles(quantiles=quantiles["fee"])),
        ColumnPlan(name="segment", type="STRING", generator=segments),
        ColumnPlan(name="noise", type="FLOAT64", generator=NumberFromQuantiles(quantiles=quantiles["noise"])),
    ]
    fitted = table_copula(columns, sample)
    assert set(fitted) == {"amount", "fee", "segment"}  # noise correlates with nothing
    assert fit_copula({"x": [1.0, 2.0], "y": [None, None]}) == {}

    table = TablePlan(
        name="Txn",
        source_table="p.s.Txn",
        target_table="p.t.Txn",
        row_count=3000,
        columns=with_copula(columns, sample),
        schema=[ColumnSchema(name=c.name, type=c.type) for c in columns],
    )
    table.recipe = compile_recipe(table, seed=2)
    files, _, _ = generate_table(table, 2, tmp_path, shard_rows=1100)
    rows = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    amounts, fees = [r["amount"] for r in rows], [r["fee"] for r in rows]
    assert _spearman(amounts, fees) > 0.8  # independent draws would give about 0
    premier = [r["amount"] for r in rows if r["segment"] == "Premier"]
    assert np.median(premier) > np.median(amounts)  # the category follows the amount
    assert abs(np.median(amounts) - np.median([r["amount"] for r in sample])) < 0.25 * np.median(amounts)
    assert abs(_spearman(amounts, [r["noise"] for r in rows])) < 0.1
