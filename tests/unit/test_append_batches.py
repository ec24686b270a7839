"""WRITE_APPEND: a second batch's keys continue after the rows already in the target.

Planned with ``first_rows`` (what the plan step counts in the targets), generated with the
real Snowfakery: no key of the second batch is one of the first's, whatever the key's shape
(a number, a prefixed code, a fixed-width code, a time), and its references name its own
parents' new keys.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from bqsynth.generation.recipe import with_recipes
from bqsynth.generation.snowfakery_runner import generate_table
from bqsynth.models import DatasetPlan, TableProfile
from bqsynth.planning.planner import PlanOptions, plan_dataset
from tests.unit.test_relationships import table

ROWS = {"customers": 40, "orders": 120, "stations": 3, "readings": 60}


def sources() -> list[TableProfile]:
    rng = random.Random(3)
    customers = [{"customer_id": 1000 + i, "code": f"CUST{i:05d}", "tier": rng.choice("ABC")} for i in range(50)]
    orders = [
        {"order_ref": f"AB{i:04d}XY", "customer_id": rng.choice(customers)["customer_id"], "total": i * 3}
        for i in range(200)
    ]
    stations = [{"station_id": s, "name": f"Station {s}"} for s in ("EWR", "JFK", "LGA")]
    readings = [
        {"station_id": s["station_id"], "time_hour": f"2024-03-{1 + h // 24:02d} {h % 24:02d}:00:00", "temp": h % 30}
        for h in range(48)
        for s in stations
    ]
    return [
        table("customers", {"customer_id": "INT64", "code": "STRING", "tier": "STRING"}, customers,
              primary_key=["customer_id"]),
        table("orders", {"order_ref": "STRING", "customer_id": "INT64", "total": "INT64"}, orders,
              primary_key=["order_ref"]),
        table("stations", {"station_id": "STRING", "name": "STRING"}, stations, primary_key=["station_id"]),
        table("readings", {"station_id": "STRING", "time_hour": "TIMESTAMP", "temp": "INT64"}, readings,
              primary_key=["station_id", "time_hour"]),
    ]  # fmt: skip


def planned(first_rows: dict[str, int]) -> DatasetPlan:
    options = PlanOptions(seed=7, record_counts=ROWS, first_rows=first_rows, target_project="p", target_dataset="t")
    return with_recipes(plan_dataset(sources(), options))


def generated(plan: DatasetPlan, name: str, where: Path) -> list[dict[str, Any]]:
    files = generate_table(plan.table(name), plan.seed, where / name, shard_rows=25)[0]
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def test_a_second_batch_continues_every_key_after_the_first(tmp_path: Path) -> None:
    first, second = planned({}), planned(dict(ROWS))
    assert second.seed != first.seed  # its values are not the first batch's again
    assert [t.first_row for t in second.tables] == [ROWS[t.name] for t in second.tables]

    batches = [{n: generated(p, n, tmp_path / str(i)) for n in ROWS} for i, p in enumerate((first, second))]
    for name, key in (
        ("customers", ("customer_id",)),
        ("orders", ("order_ref",)),
        ("readings", ("station_id", "time_hour")),
    ):
        keys = [{tuple(r[c] for c in key) for r in batch[name]} for batch in batches]
        assert [len(k) for k in keys] == [ROWS[name]] * 2, name  # unique within each batch
        assert not keys[0] & keys[1], name  # and never one of the earlier batch's
    orders_ref = [r["order_ref"] for r in batches[1]["orders"]]
    assert all(len(ref) == 8 and ref[:2].isalpha() and ref[2:6].isdigit() for ref in orders_ref)  # the same shape
    new_customers = {r["customer_id"] for r in batches[1]["customers"]}
    assert {r["customer_id"] for r in batches[1]["orders"]} <= new_customers  # references name this batch's parents
    new_stations = {r["station_id"] for r in batches[1]["stations"]}
    assert {r["station_id"] for r in batches[1]["readings"]} <= new_stations
