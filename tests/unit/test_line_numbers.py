"""Line numbers 1..k within each parent row (``LineNumber``, ``ForeignKeyRef.stratified_rows``).

A key such as TPC-H lineitem (l_orderkey, l_linenumber) or Lahman Managers (yearID, teamID,
inseason) numbers the rows of each parent; both engines number them 1..k, keep the key unique
for any shard layout and give each parent the children the plan's fan-out gives it.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bqsynth.generation import keys
from bqsynth.generation.columnar import generate_table_columnar
from bqsynth.generation.recipe import with_recipes
from bqsynth.generation.snowfakery_runner import generate_table
from bqsynth.models import ColumnPlan, ColumnSchema, DatasetPlan, ForeignKeyRef, LineNumber, SequenceKey, TablePlan
from bqsynth.planning.plan_file import PlanFileError, checked_plan, plan_from_yaml, plan_to_yaml
from bqsynth.planning.planner import PlanOptions, plan_dataset
from tests.unit.test_key_inference import exact, managers_rows, profiled

# --- a numbered table built by hand: (order, line) with order drawn in row order --------------


def lorenz(rng: random.Random, knots: int) -> list[tuple[float, float]]:
    """A random Lorenz curve as the plan keeps one: parents by children, most first."""
    xs = sorted({round(rng.uniform(0.02, 0.98), 4) for _ in range(knots)}) + [round(rng.uniform(0.6, 1.0), 4)]
    xs = sorted(set(xs))
    slopes = sorted((rng.uniform(0.1, 5.0) for _ in xs), reverse=True)  # falling: a concave curve
    ys, last_x, total = [], 0.0, 0.0
    for x, slope in zip(xs, slopes, strict=True):
        total += slope * (x - last_x)
        ys.append(total)
        last_x = x
    return [(0.0, 0.0)] + [(x, y / total) for x, y in zip(xs, ys, strict=True)]


def numbered_table(rows: int, parents: int, skew: float = 0.0, fan_out: list[tuple[float, float]] | None = None):
    draw: dict[str, Any] = {"parent_rows": parents, "skew": skew, "fan_out": fan_out or []}
    order = ForeignKeyRef(
        parent_table="orders", parent_column="o_key", parent_key=SequenceKey(start=100), stratified_rows=rows, **draw
    )
    line = LineNumber(group=["order_key"], rows=rows, **draw)
    columns = [
        ColumnPlan(name="order_key", type="INT64", mode="REQUIRED", generator=order),
        ColumnPlan(name="line", type="INT64", mode="REQUIRED", generator=line),
    ]
    schema = [ColumnSchema(name=c.name, type="INT64", mode="REQUIRED") for c in columns]
    return TablePlan(
        name="lines",
        source_table="p.s.lines",
        target_table="p.t.lines",
        row_count=rows,
        columns=columns,
        schema=schema,
        primary_key=["order_key", "line"],
    )


def rows_of(files: list[Path]) -> list[dict[str, Any]]:
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def columnar_rows(table: TablePlan, tmp_path: Path, shard_rows: int) -> list[dict[str, Any]]:
    return rows_of(generate_table_columnar(table, 7, tmp_path / f"c{shard_rows}", shard_rows=shard_rows)[0])


def assert_numbered(pairs: list[tuple[Any, int]]) -> dict[Any, int]:
    """Each group numbered 1..k contiguous, (group, number) unique; returns rows per group."""
    groups: dict[Any, list[int]] = defaultdict(list)
    for group, number in pairs:
        groups[group].append(number)
    assert len(set(pairs)) == len(pairs)
    for group, numbers in groups.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), group
    return {g: len(n) for g, n in groups.items()}


def expected_children(rows: int, parents: int, skew: float, fan_out: list[tuple[float, float]]) -> np.ndarray:
    """Children of each parent by the curve: rows x the share the first (p + 1) / n parents hold, less the first p."""
    edges = np.arange(parents + 1) / parents
    if fan_out:
        knots = np.asarray(fan_out)
        held = np.interp(edges, knots[:, 0], knots[:, 1])
    else:
        held = edges ** (1.0 / (1.0 + skew))
    return rows * np.diff(held)


SIZES = [
    # rows, parents, shard rows, skew, knots of a fan-out curve (0: the skew model)
    (1, 1, 1, 0.0, 0),
    (5, 40, 2, 0.0, 0),
    (60, 15, 7, 0.0, 0),
    (997, 101, 250, 0.0, 0),
    (2500, 300, 333, 0.8, 0),
    (1200, 7, 500, 2.5, 0),
    (3000, 450, 1000, 0.0, 3),
    (1777, 200, 311, 0.0, 8),
    (4096, 1000, 1024, 0.0, 16),
    (800, 799, 97, 0.0, 5),
]


@pytest.mark.parametrize(("rows", "parents", "shard_rows", "skew", "knots"), SIZES)
def test_numbers_run_one_to_k_within_each_parent_for_any_sizes_and_shards(
    tmp_path: Path, rows: int, parents: int, shard_rows: int, skew: float, knots: int
) -> None:
    fan_out = lorenz(random.Random(rows * parents), knots) if knots else []
    table = numbered_table(rows, parents, skew, fan_out)
    whole = columnar_rows(table, tmp_path, rows)
    sharded = columnar_rows(table, tmp_path, shard_rows)
    assert whole == sharded  # one shard or several: the same rows
    pairs = [(r["order_key"], r["line"]) for r in whole]
    children = assert_numbered(pairs)
    assert set(children) <= {100 + p for p in range(parents)}  # only existing parents
    # Snowfakery's path: one row at a time, parents searched once each.
    assert [keys.line_number(r, rows, parents, skew, tuple(fan_out)) for r in range(rows)] == [n for _, n in pairs]
    # children per parent follow the curve: within one child of its share for every parent
    counts = np.array([children.get(100 + p, 0) for p in range(parents)])
    assert np.abs(counts - expected_children(rows, parents, skew, fan_out)).max() <= 1.0 + 1e-9


@pytest.mark.parametrize(("rows", "parents", "skew", "knots"), [(300, 70, 0.0, 4), (250, 40, 1.2, 0), (90, 90, 0, 0)])
def test_snowfakery_numbers_the_rows_as_the_columnar_engine_does(
    tmp_path: Path, rows: int, parents: int, skew: float, knots: int
) -> None:
    table = numbered_table(rows, parents, skew, lorenz(random.Random(rows), knots) if knots else [])
    table = with_recipes(DatasetPlan(seed=7, tables=[table])).tables[0]
    snowfakery = rows_of(generate_table(table, 7, tmp_path / "sf", shard_rows=rows // 3 + 1)[0])
    assert snowfakery == columnar_rows(table, tmp_path, rows)
    assert_numbered([(r["order_key"], r["line"]) for r in snowfakery])


def test_the_draw_in_row_order_never_moves_back_to_an_earlier_parent() -> None:
    # A knot where np.interp's rounded slope overshoots: the rising inverse keeps parents in order.
    rng = random.Random(1)
    for _ in range(200):
        fan_out = lorenz(rng, rng.randint(1, 30))
        rows, parents = rng.randint(1, 5000), rng.randint(1, 3000)
        drawn = keys.stratified_parent_indices(np.arange(rows), rows, parents, 0.0, fan_out)
        assert (np.diff(drawn) >= 0).all() and drawn.min() >= 0 and drawn.max() < parents


# --- planned from profiles ----------------------------------------------------------------------


def lineitem_like(seed: int = 3) -> dict[str, tuple]:
    rng = random.Random(seed)
    orders = [{"o_orderkey": o, "o_total": rng.randint(1, 999)} for o in range(1, 200)]
    lines = [
        {"l_orderkey": o, "l_linenumber": n, "l_quantity": rng.randint(1, 50)}
        for o in range(1, 200)
        for n in range(1, rng.randint(1, 7) + 1)
    ]
    return {
        "orders": profiled("orders", {"o_orderkey": "INT64", "o_total": "INT64"}, orders),
        "lineitem": profiled(
            "lineitem", {"l_orderkey": "INT64", "l_linenumber": "INT64", "l_quantity": "INT64"}, lines
        ),
    }


def managers_with_teams(seed: int = 21) -> dict[str, tuple]:
    """Lahman's Managers (``managers_rows``: inseason numbers each team season's managers) with
    the People and Teams it refers to."""
    rng = random.Random(seed)
    people = [{"playerID": f"m{t:02d}{n:02d}", "born": 1950 + n} for t in range(30) for n in range(10)]
    managers = managers_rows(rng)
    teams = [
        {"yearID": y, "teamID": f"T{t:02d}", "lgID": "AL" if t < 15 else "NL", "W": rng.randint(50, 110)}
        for y in range(2018, 2021)
        for t in range(30)
    ]
    columns = {c: "INT64" if isinstance(v, int) else "STRING" for c, v in managers[0].items()}
    return {
        "People": profiled("People", {"playerID": "STRING", "born": "INT64"}, people),
        "Teams": profiled("Teams", {"yearID": "INT64", "teamID": "STRING", "lgID": "STRING", "W": "INT64"}, teams),
        "Managers": profiled("Managers", columns, managers),
    }


def planned(tables: dict[str, tuple], **options: Any) -> DatasetPlan:
    profiles = [p for p, _ in tables.values()]
    options = {"seed": 11, "target_project": "p", "target_dataset": "d", **options}
    return with_recipes(plan_dataset(profiles, PlanOptions(**options), exact(*tables.values())))


def generated(plan: DatasetPlan, table: str, tmp_path: Path, shard_rows: int, engine: str) -> list[dict[str, Any]]:
    run = generate_table if engine == "snowfakery" else generate_table_columnar
    out = tmp_path / f"{table}-{engine}-{shard_rows}"
    return rows_of(run(plan.table(table), plan.seed, out, shard_rows=shard_rows)[0])


def key_of(rows: list[dict[str, Any]], *columns: str) -> list[tuple[Any, ...]]:
    """Keys and references: the same in both engines (other values agree in distribution only)."""
    return [tuple(r[c] for c in columns) for r in rows]


def test_a_lineitem_like_table_numbers_each_orders_lines_as_the_source_does(tmp_path: Path) -> None:
    tables = lineitem_like()
    plan = planned(tables)
    generators = {c.name: c.generator for c in plan.table("lineitem").columns}
    line, order = generators["l_linenumber"], generators["l_orderkey"]
    assert isinstance(line, LineNumber) and line.group == ["l_orderkey"]
    assert isinstance(order, ForeignKeyRef) and order.stratified_rows == plan.table("lineitem").row_count
    assert line.draws_like(order) and order.fan_out  # the source's children per order, counted by SQL
    key = next(k for k in plan.primary_keys if k.table == "lineitem")
    assert "generated: l_linenumber numbers the rows of each (l_orderkey) parent row 1..k" in key.evidence
    rows = generated(plan, "lineitem", tmp_path, 300, "snowfakery")
    pairs = key_of(rows, "l_orderkey", "l_linenumber")
    assert pairs == key_of(generated(plan, "lineitem", tmp_path, 1000, "columnar"), "l_orderkey", "l_linenumber")
    assert pairs == key_of(generated(plan, "lineitem", tmp_path, 277, "columnar"), "l_orderkey", "l_linenumber")
    children = assert_numbered(pairs)
    orders = {r["o_orderkey"] for r in generated(plan, "orders", tmp_path, 1000, "columnar")}
    assert set(children) <= orders
    source = Counter(Counter(r["l_orderkey"] for r in tables["lineitem"][1]).values())
    assert Counter(children.values()) == source  # 1..7 lines per order, as many orders each
    assert max(r["l_linenumber"] for r in rows) == 7  # not 1..rows of the table


def test_a_managers_like_table_numbers_each_team_seasons_managers(tmp_path: Path) -> None:
    tables = managers_with_teams()
    plan = planned(tables, scale=3)
    generators = {c.name: c.generator for c in plan.table("Managers").columns}
    inseason = generators["inseason"]
    assert isinstance(inseason, LineNumber) and inseason.group == ["yearID", "teamID"]
    for column in ("yearID", "teamID"):
        drawn = generators[column]
        assert isinstance(drawn, ForeignKeyRef) and drawn.draw == "yearID,teamID" and inseason.draws_like(drawn)
    rows = generated(plan, "Managers", tmp_path, 100, "snowfakery")
    key = ("yearID", "teamID", "inseason", "playerID")
    assert key_of(rows, *key) == key_of(generated(plan, "Managers", tmp_path, 10_000, "columnar"), *key)
    assert key_of(rows, *key) == key_of(generated(plan, "Managers", tmp_path, 101, "columnar"), *key)
    assert_numbered([((r["yearID"], r["teamID"]), r["inseason"]) for r in rows])
    teams = {(r["yearID"], r["teamID"]) for r in generated(plan, "Teams", tmp_path, 1000, "columnar")}
    assert {(r["yearID"], r["teamID"]) for r in rows} <= teams  # the composite reference holds
    # a team season has 1 or 2 managers, as in the source, not 1..rows of the table
    source = Counter(Counter((r["yearID"], r["teamID"]) for r in tables["Managers"][1]).values())
    assert max(r["inseason"] for r in rows) == max(source) == 2


def test_an_episode_numbered_within_a_plain_column_keeps_the_row_index_and_says_why() -> None:
    # bakeoff episodes (series, episode): series refers to nothing, so there is no parent to number within.
    # Series of 6, 8 and 10 episodes, so that series does not number the rows of an episode.
    runs = {1: 6, 2: 8}
    episodes = [
        {"series": s, "episode": e, "viewers": s * e} for s in range(1, 9) for e in range(1, runs.get(s, 10) + 1)
    ]
    tables = {"episodes": profiled("episodes", {"series": "INT64", "episode": "INT64", "viewers": "INT64"}, episodes)}
    plan = planned(tables)
    key = next(k for k in plan.primary_keys if k.table == "episodes")
    assert key.columns == ["series", "episode"] and key.numbered == "episode"
    assert "episode is derived from the row index" in key.evidence
    assert "since (series) is not one reference draw: series is no reference the plan keeps" in key.evidence
    assert not any(isinstance(c.generator, LineNumber) for c in plan.table("episodes").columns)


def test_an_appended_batch_keeps_the_row_index_and_says_why() -> None:
    plan = planned(lineitem_like(), first_rows={"lineitem": 809, "orders": 199})
    generators = {c.name: c.generator for c in plan.table("lineitem").columns}
    assert isinstance(generators["l_linenumber"], SequenceKey)
    assert not generators["l_orderkey"].stratified_rows  # type: ignore[union-attr]
    key = next(k for k in plan.primary_keys if k.table == "lineitem")
    assert "since an appended batch (its keys continue after 809 earlier rows)" in key.evidence


def test_a_table_referring_to_the_line_number_keeps_the_row_index() -> None:
    tables = lineitem_like()
    lines = tables["lineitem"][1]
    returns = [{"r_orderkey": r["l_orderkey"], "r_linenumber": r["l_linenumber"], "r_qty": 1} for r in lines[::3]]
    columns = {"r_orderkey": "INT64", "r_linenumber": "INT64", "r_qty": "INT64"}
    plan = planned({**tables, "returns": profiled("returns", columns, returns)})
    assert any(r.parent_table == "lineitem" for r in plan.relationships)
    key = next(k for k in plan.primary_keys if k.table == "lineitem")
    assert "refers to it and recomputes l_linenumber from the row index" in key.evidence
    assert not any(isinstance(c.generator, LineNumber) for c in plan.table("lineitem").columns)


# --- edited plans -----------------------------------------------------------------------------


def edited(plan: DatasetPlan, table: str, column: str, **changes: Any) -> DatasetPlan:
    text = plan_to_yaml(plan)
    edited_plan = plan_from_yaml(text, "edited.yaml")
    target = edited_plan.table(table)
    columns = [
        c.model_copy(update={"generator": c.generator.model_copy(update=changes)}) if c.name == column else c
        for c in target.columns
    ]
    tables = [t.model_copy(update={"columns": columns}) if t.name == table else t for t in edited_plan.tables]
    return edited_plan.model_copy(update={"tables": tables})


def test_an_edited_plan_whose_numbering_does_not_match_its_group_is_refused() -> None:
    tables = lineitem_like()
    plan, profiles = planned(tables), [p for p, _ in tables.values()]
    assert checked_plan(plan_from_yaml(plan_to_yaml(plan), "plan.yaml"), profiles, 10**6, "plan.yaml")
    with pytest.raises(PlanFileError, match=r"table lineitem, column l_linenumber: its group column l_orderkey is not"):
        checked_plan(edited(plan, "lineitem", "l_linenumber", skew=0.5, fan_out=[]), profiles, 10**6, "e.yaml")
    with pytest.raises(PlanFileError, match=r"table lineitem, column l_linenumber: its group column l_orderkey is not"):
        checked_plan(edited(plan, "lineitem", "l_orderkey", stratified_rows=0), profiles, 10**6, "e.yaml")
    with pytest.raises(PlanFileError, match=r"column l_linenumber: a line number and its group \(l_quantity\) must be"):
        checked_plan(edited(plan, "lineitem", "l_linenumber", group=["l_quantity"]), profiles, 10**6, "e.yaml")


def test_an_edited_composite_draw_must_be_in_row_order_in_every_column() -> None:
    tables = managers_with_teams()
    plan, profiles = planned(tables), [p for p, _ in tables.values()]
    with pytest.raises(PlanFileError, match=r"table Managers, column teamID: the columns of the composite reference"):
        checked_plan(edited(plan, "Managers", "teamID", stratified_rows=0), profiles, 10**6, "e.yaml")


def test_an_edited_row_count_resizes_the_numbering(tmp_path: Path) -> None:
    tables = lineitem_like()
    plan, profiles = planned(tables), [p for p, _ in tables.values()]
    resized = plan.model_copy(
        update={
            "tables": [t.model_copy(update={"row_count": 1500}) if t.name == "lineitem" else t for t in plan.tables]
        }
    )
    checked = with_recipes(checked_plan(resized, profiles, 10**6, "e.yaml"))
    line = next(c.generator for c in checked.table("lineitem").columns if c.name == "l_linenumber")
    assert isinstance(line, LineNumber) and line.rows == 1500
    rows = generated(checked, "lineitem", tmp_path, 600, "columnar")
    assert len(rows) == 1500
    assert_numbered([(r["l_orderkey"], r["l_linenumber"]) for r in rows])
