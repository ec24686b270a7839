"""The Gaussian copula: fitted on the sample, reproduced by generation, marginals untouched."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import yaml

from bqsynth.generation.columnar import generate_table_columnar
from bqsynth.generation.recipe import compile_recipe
from bqsynth.generation.snowfakery_runner import generate_table
from bqsynth.models import (
    ArrayValue,
    Categorical,
    ColumnPlan,
    ColumnSchema,
    NumberFromQuantiles,
    RecordValue,
    TablePlan,
    leaf_plans,
)
from bqsynth.planning.copula_fit import category_scores, factor, fit_copula, rank_scores, table_copula
from bqsynth.planning.planner import with_copula
from bqsynth.values import value_at


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


# --- RECORD leaves ---------------------------------------------------------------------------


def _nested_sample(rows: int = 300) -> list[dict]:
    """``amount`` drives ``details.fee``, ``details.channel`` and ``details.tax.vat``, and the
    price of every element of the REPEATED record ``items``; some rows have no ``details``."""
    rng = random.Random(3)
    out = []
    for i in range(rows):
        amount = rng.lognormvariate(4, 1)
        channel = "branch" if amount > 120 else rng.choice(["web", "web", "app"])
        details = {"fee": amount * 0.02 + rng.random(), "channel": channel, "tax": {"vat": amount * 0.2 + rng.random()}}
        if i % 10 == 0:
            details = None  # a NULL record: its leaves pair with nothing in that row
        elif i % 10 == 1:
            details["tax"] = None
        items = [{"price": amount * 1.1 + rng.random()} for _ in range(rng.randint(1, 3))]
        out.append({"amount": amount, "details": details, "items": items, "noise": rng.random()})
    return out


def _quantiles(values: list[float]) -> list[float]:
    return [float(q) for q in np.quantile(values, np.linspace(0, 1, 21))]


def _nested_columns(sample: list[dict], with_items: bool) -> list[ColumnPlan]:
    def leaf(path: str) -> list[float]:
        return _quantiles([v for r in sample if (v := value_at(r, path)) is not None])

    def number(name: str, path: str, null_rate: float = 0.0) -> ColumnPlan:
        generator = NumberFromQuantiles(quantiles=leaf(path))
        return ColumnPlan(name=name, type="FLOAT64", generator=generator, null_rate=null_rate)

    channels = Categorical(values=["web", "app", "branch"], weights=[0.5, 0.25, 0.25])
    details = RecordValue(
        fields=[
            number("fee", "details.fee", null_rate=0.1),
            ColumnPlan(name="channel", type="STRING", generator=channels),
            ColumnPlan(name="tax", type="RECORD", generator=RecordValue(fields=[number("vat", "details.tax.vat")])),
        ]
    )
    prices = NumberFromQuantiles(quantiles=_quantiles([e["price"] for r in sample for e in r["items"]]))
    items = ArrayValue(
        element=RecordValue(fields=[ColumnPlan(name="price", type="FLOAT64", generator=prices)]),
        lengths=Categorical(values=[1, 2, 3], weights=[1, 1, 1]),
    )
    return [
        number("amount", "amount"),
        ColumnPlan(name="details", type="RECORD", generator=details),
        *([ColumnPlan(name="items", type="RECORD", mode="REPEATED", generator=items)] if with_items else []),
        number("noise", "noise"),
    ]


def _schema(column: ColumnPlan) -> ColumnSchema:
    record = column.generator.element if isinstance(column.generator, ArrayValue) else column.generator
    fields = [_schema(f) for f in record.fields] if isinstance(record, RecordValue) else []
    return ColumnSchema(name=column.name, type=column.type, mode=column.mode, fields=fields)


def test_record_leaves_get_copula_rows_by_dotted_path_but_not_under_a_repeated_record() -> None:
    sample = _nested_sample()
    columns = _nested_columns(sample, with_items=True)
    fitted = table_copula(columns, sample)
    assert set(fitted) == {"amount", "details.fee", "details.channel", "details.tax.vat"}
    names = list(fitted)
    lower = np.zeros((len(names), len(names)))
    for i, name in enumerate(names):
        lower[i, : len(fitted[name])] = fitted[name]
    implied = lower @ lower.T  # C = L L^T, in the order of the rows
    assert implied[names.index("amount"), names.index("details.fee")] > 0.8
    assert implied[names.index("amount"), names.index("details.tax.vat")] > 0.8

    planned = {path: c.generator for path, c in leaf_plans(with_copula(columns, sample)).items()}
    assert planned["details.fee"].copula == fitted["details.fee"]  # type: ignore[union-attr]
    assert planned["details.tax.vat"].copula == fitted["details.tax.vat"]  # type: ignore[union-attr]
    assert planned["noise"].copula is None  # type: ignore[union-attr]
    items = planned["items"]
    assert isinstance(items, ArrayValue) and isinstance(items.element, RecordValue)
    assert items.element.fields[0].generator.copula is None  # type: ignore[union-attr]


def _nested_rows(files: list[Path]) -> list[dict]:
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def test_both_engines_draw_record_leaves_from_the_rows_latent_normals(tmp_path: Path) -> None:
    sample = _nested_sample()
    columns = with_copula(_nested_columns(sample, with_items=False), sample)
    table = TablePlan(
        name="Txn",
        source_table="p.s.Txn",
        target_table="p.t.Txn",
        row_count=3000,
        columns=columns,
        schema=[_schema(c) for c in columns],
    )
    table = table.model_copy(update={"recipe": compile_recipe(table, seed=5)})
    fee = yaml.safe_load(table.recipe)[-1]["fields"]["details__fee"]["Bqsynth.null_or"]["value"]
    assert "copula" in fee["Bqsynth.number"]  # the recipe's flattened leaf passes its row to the plugin
    columnar_files = generate_table_columnar(table, 5, tmp_path / "c", shard_rows=1100)[0]
    engines = {
        "snowfakery": _nested_rows(generate_table(table, 5, tmp_path / "s", shard_rows=1100)[0]),
        "columnar": _nested_rows(columnar_files),
    }

    def correlations(rows: list[dict]) -> np.ndarray:
        fees = [r for r in rows if r["details"]["fee"] is not None]
        return np.array(
            [
                _spearman([r["amount"] for r in fees], [r["details"]["fee"] for r in fees]),
                _spearman([r["amount"] for r in rows], [r["details"]["tax"]["vat"] for r in rows]),
                _spearman([r["details"]["tax"]["vat"] for r in fees], [r["details"]["fee"] for r in fees]),
                abs(_spearman([r["amount"] for r in rows], [r["noise"] for r in rows])),
            ]
        )

    found = {name: correlations(rows) for name, rows in engines.items()}
    for name, rows in engines.items():
        assert np.all(found[name][:3] > 0.5), (name, found[name])  # independent draws would give about 0
        assert found[name][3] < 0.1, (name, found[name])
        amounts = [r["amount"] for r in rows]
        branch = [r["amount"] for r in rows if r["details"]["channel"] == "branch"]
        assert np.median(branch) > np.median(amounts), name  # the category leaf follows the amount
    assert np.all(np.abs(found["columnar"] - found["snowfakery"]) < 0.06), found

    # The columnar engine's files stay the same whatever the shard layout.
    whole = generate_table_columnar(table, 5, tmp_path / "whole", shard_rows=3000)[0]
    assert "".join(f.read_text() for f in whole) == "".join(f.read_text() for f in columnar_files)
