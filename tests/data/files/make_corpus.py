"""(Re)generate the corpus of tricky delimited files and their ``<file>.expected.json``.

Run from anywhere: ``.venv/bin/python tests/data/files/make_corpus.py``. Output is
deterministic (seeded, no clock): rerunning it must leave ``git status`` clean.

The files are spelled here by hand, independently of ``bqsynth.sources.delimited``, and each
expected.json states the truth the detector has to find: the FileFormat fields that
matter, the column names and types, the number of data rows, whether a write of the parsed
rows must give the same bytes back (``round_trip``), and the date in the file's custom
header (``run_date``). Refusal files carry ``{"refuse": "<part of the error message>"}``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
import zoneinfo
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RUN_DATE = "2024-01-31"

FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson", "Moore"]
ACCENTED_FIRST = ["René", "Zoë", "José", "Françoise", "Jürgen", "Inés", "Søren", "Agnès", "Håkon", "Noémie"]
ACCENTED_LAST = ["Müller", "Lefèvre", "Núñez", "Gonçalves", "Østergaard", "Dubé", "Köhler", "Peña"]
CITIES = ["Lyon", "Zürich", "São Paulo", "Kraków", "Montréal", "Málaga", "Köln", "Reykjavík"]
STREETS = ["Hauptstraße", "Bahnhofstraße", "Gartenweg", "Schillerplatz", "Mühlenstraße"]
DOMAINS = ["example.com", "mail.test", "acme.example", "post.example.org"]


NUMBER_DEFAULTS = {"group_mark": "", "prefix": "", "suffix": "", "negative": "minus", "bare_integers": False}


def rng(name: str) -> random.Random:
    """One generator per file, seeded by its name, so files do not shift when one changes."""
    return random.Random(f"bqsynth-corpus-{name}")


def email(r: random.Random, first: str, last: str) -> str:
    return f"{first.lower()}.{last.lower()}{r.randint(1, 99)}@{r.choice(DOMAINS)}"


def money(r: random.Random, low: float = 1, high: float = 500) -> str:
    return f"{r.uniform(low, high):.2f}"


def day(r: random.Random, start: str = "2023-01-01", span: int = 365) -> dt.date:
    return dt.date.fromisoformat(start) + dt.timedelta(days=r.randrange(span))


def moment(r: random.Random, start: str = "2023-06-01") -> dt.datetime:
    return dt.datetime.fromisoformat(start) + dt.timedelta(seconds=r.randrange(200 * 86400))


def minimal(value: str, delimiter: str) -> str:
    """RFC 4180 minimal quoting, written out independently of the code under test."""
    if any(c in value for c in (delimiter, '"', "\n", "\r")):
        return '"' + value.replace('"', '""') + '"'
    return value


def lines_of(
    rows: Sequence[Sequence[str]], delimiter: str, quote: Callable[[str, int], str] | None = None
) -> list[str]:
    def spell(value: str, index: int) -> str:
        return quote(value, index) if quote else minimal(value, delimiter)

    return [delimiter.join(spell(v, i) for i, v in enumerate(row)) for row in rows]


def col(
    name: str,
    kind: str,
    *,
    header: str | None | bool = True,
    fmt: str | None = None,
    comma: bool = False,
    tf: Sequence[str] | None = None,
    scale: int | None = None,
    quoted: bool = False,
    header_quoted: bool = False,
    null: str | None = None,
    number: dict[str, Any] | None = None,
    utc_offset: str | None = None,
    assumed: bool = False,
    null_spellings: dict[str, float] | None = None,
    utc_offsets: dict[str, float] | None = None,
    time_zone: str | None = None,
    time_zone_values: int = 0,
) -> dict[str, Any]:
    spelled_header = name if header is True else (None if header is False else header)
    return {
        "name": name,
        "header": name if header is True else (None if header is False else header),
        "type": kind,
        "temporal_format": fmt,
        "decimal_comma": comma,
        "true_false": list(tf) if tf else None,
        "scale": scale,
        "quoted": quoted,
        "number": None if number is None else {**NUMBER_DEFAULTS, **number},
        "utc_offset": utc_offset,
        "day_month_assumed": assumed,
        "header_quoted": None if spelled_header is None else header_quoted,
        "null_marker": null,
        "null_spellings": null_spellings,
        "utc_offsets": utc_offsets,
        "time_zone": time_zone,
        "time_zone_values": time_zone_values,
    }


def fmt_expected(
    columns: list[dict[str, Any]],
    rows: int,
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
    quoting: str = "minimal",
    escapechar: str | None = None,
    line_terminator: str = "\n",
    has_header: bool = True,
    null_marker: str = "",
    final_newline: bool = True,
    ragged_rows: int = 0,
    header_lines: list[dict[str, Any]] | None = None,
    trailer_lines: list[dict[str, Any]] | None = None,
    round_trip: bool = True,
) -> dict[str, Any]:
    return {
        "format": {
            "encoding": encoding,
            "delimiter": delimiter,
            "quotechar": '"',
            "quoting": quoting,
            "escapechar": escapechar,
            "line_terminator": line_terminator,
            "has_header": has_header,
            "null_marker": null_marker,
            "final_newline": final_newline,
            "ragged_rows": ragged_rows,
            "header_lines": header_lines or [],
            "trailer_lines": trailer_lines or [],
            "columns": columns,
        },
        "rows": rows,
        "round_trip": round_trip,
        "run_date": RUN_DATE,
    }


def custom(text: str, *fields: tuple[str, str, str, int]) -> dict[str, Any]:
    """A custom line and its fields as (kind, the text of the field, format, width)."""
    spans = []
    for kind, part, pattern, width in fields:
        start = text.index(part)
        spans.append({"kind": kind, "start": start, "end": start + len(part), "format": pattern, "width": width})
    return {"text": text, "fields": spans}


def text_file(lines: list[str], terminator: str = "\n", final: bool = True) -> str:
    return terminator.join(lines) + (terminator if final else "")


Corpus = dict[str, tuple[bytes, dict[str, Any]]]


# ---------------------------------------------------------------------------------------------
# Readable files
# ---------------------------------------------------------------------------------------------


def customers(out: Corpus) -> None:
    r = rng("customers")
    rows = []
    for i in range(40):
        first, last = r.choice(FIRST), r.choice(LAST)
        rows.append(
            [
                str(i + 1),
                first,
                last,
                email(r, first, last),
                day(r).isoformat(),
                money(r),
                r.choice(["true", "false"]),
            ]
        )
    header = ["customer_id", "first_name", "last_name", "email", "signup_date", "balance", "is_active"]
    data = text_file(lines_of([header, *rows], ","))
    out["customers.csv"] = (
        data.encode(),
        fmt_expected(
            [
                col("customer_id", "INT64"),
                col("first_name", "STRING"),
                col("last_name", "STRING"),
                col("email", "STRING"),
                col("signup_date", "DATE", fmt="%Y-%m-%d"),
                col("balance", "NUMERIC", scale=2),
                col("is_active", "BOOL", tf=("true", "false")),
            ],
            40,
        ),
    )


def orders_hdr_trl(out: Corpus) -> None:
    r = rng("orders")
    rows = []
    for i in range(42):
        first, last = r.choice(FIRST), r.choice(LAST)
        rows.append([str(500001 + i), email(r, first, last), money(r, 5, 900), day(r).strftime("%Y%m%d")])
    lines = ["HDR|20240131|ACME", *lines_of(rows, "|"), "TRL|0000042"]
    out["orders_hdr_trl.txt"] = (
        text_file(lines).encode(),
        fmt_expected(
            [
                col("column_1", "INT64", header=False),
                col("email", "STRING", header=False),
                col("column_3", "NUMERIC", header=False, scale=2),
                col("date", "DATE", header=False, fmt="%Y%m%d"),
            ],
            42,
            delimiter="|",
            has_header=False,
            header_lines=[custom("HDR|20240131|ACME", ("date", "20240131", "%Y%m%d", 0))],
            trailer_lines=[custom("TRL|0000042", ("record_count", "0000042", "", 7))],
        ),
    )


def semicolon_de(out: Corpus) -> None:
    r = rng("semicolon")
    rows = []
    for _ in range(30):
        rows.append(
            [
                f"{r.choice(ACCENTED_FIRST)} {r.choice(ACCENTED_LAST)}",
                f"{r.choice(STREETS)} {r.randint(1, 120)}",
                f"{r.uniform(1, 2000):.2f}".replace(".", ","),
                day(r).strftime("%d.%m.%Y"),
                str(r.randint(1, 40)),
            ]
        )
    header = ["Kunde", "Straße", "Betrag (EUR)", "Datum", "Menge"]
    out["semicolon_decimal_comma.csv"] = (
        text_file(lines_of([header, *rows], ";")).encode(),
        fmt_expected(
            [
                col("Kunde", "STRING"),
                col("Strasse", "STRING", header="Straße"),
                col("Betrag_EUR", "NUMERIC", header="Betrag (EUR)", scale=2, comma=True),
                col("Datum", "DATE", fmt="%d.%m.%Y"),
                col("Menge", "INT64"),
            ],
            30,
            delimiter=";",
        ),
    )


def products_tsv(out: Corpus) -> None:
    r = rng("products")
    rows = []
    for i in range(25):
        price = round(r.uniform(1, 300), r.choice([1, 2, 3]))
        rows.append(
            [
                f"SKU-{i + 17:05d}",
                f"{r.choice(['Blue', 'Red', 'Steel', 'Oak'])} {r.choice(['chair', 'lamp', 'table, small', 'shelf'])}",
                repr(price),
                str(r.randint(0, 900)),
                moment(r).strftime("%Y-%m-%d %H:%M:%S"),
            ]
        )
    header = ["sku", "product name", "price", "stock", "updated_at"]
    out["products.tsv"] = (
        text_file(lines_of([header, *rows], "\t")).encode(),
        fmt_expected(
            [
                col("sku", "STRING"),
                col("product_name", "STRING", header="product name"),
                col("price", "FLOAT64"),
                col("stock", "INT64"),
                col("updated_at", "DATETIME", fmt="%Y-%m-%d %H:%M:%S"),
            ],
            25,
            delimiter="\t",
        ),
    )


def bom_contacts(out: Corpus) -> None:
    r = rng("bom")
    rows = [
        [
            f"{r.choice(ACCENTED_FIRST)} {r.choice(ACCENTED_LAST)}",
            r.choice(CITIES),
            f"+33 1 {r.randint(10, 99)} {r.randint(10, 99)} {r.randint(10, 99)} {r.randint(10, 99)}",
        ]
        for _ in range(20)
    ]
    data = "\ufeff" + text_file(lines_of([["name", "city", "phone"], *rows], ","))
    out["bom_contacts.csv"] = (
        data.encode("utf-8"),
        fmt_expected([col("name", "STRING"), col("city", "STRING"), col("phone", "STRING")], 20, encoding="utf-8-sig"),
    )


def latin1_clients(out: Corpus) -> None:
    r = rng("latin1")
    rows = [
        [r.choice(ACCENTED_FIRST[:8]), r.choice(ACCENTED_LAST[:6]), r.choice(CITIES[:6]), str(r.randint(18, 90))]
        for _ in range(20)
    ]
    header = ["prénom", "nom", "ville", "âge"]
    data = text_file(lines_of([header, *rows], ","))
    out["latin1_clients.csv"] = (
        data.encode("latin-1"),
        fmt_expected(
            [
                col("prenom", "STRING", header="prénom"),
                col("nom", "STRING"),
                col("ville", "STRING"),
                col("age", "INT64", header="âge"),
            ],
            20,
            encoding="latin-1",
        ),
    )


def quoted_notes(out: Corpus) -> None:
    notes = [
        "Called back, left a message",
        'She said "call me Monday"',
        "Line one\nLine two",
        "plain note",
        'All of it: commas, "quotes"\nand a newline',
        "",
        "trailing comma,",
        '"fully quoted"',
    ]
    r = rng("notes")
    rows = [[str(i + 1), r.choice(FIRST), notes[i % len(notes)], str(r.randint(1, 5))] for i in range(16)]
    data = text_file(lines_of([["note_id", "author", "note", "rating"], *rows], ","))
    out["quoted_notes.csv"] = (
        data.encode(),
        fmt_expected(
            [col("note_id", "INT64"), col("author", "STRING"), col("note", "STRING"), col("rating", "INT64")], 16
        ),
    )


def quote_all(out: Corpus) -> None:
    r = rng("quote_all")
    rows = []
    for i in range(18):
        rows.append(
            [str(i + 1), f"{r.choice(FIRST)} {r.choice(LAST)}", "" if i % 7 == 3 else money(r), day(r).isoformat()]
        )
    lines = lines_of([["id", "full_name", "amount", "created"], *rows], ",", quote=lambda v, _: '"' + v + '"')
    out["quote_all.csv"] = (
        text_file(lines).encode(),
        fmt_expected(
            [
                col("id", "INT64", quoted=True, header_quoted=True),
                col("full_name", "STRING", quoted=True, header_quoted=True),
                col("amount", "NUMERIC", scale=2, quoted=True, header_quoted=True),
                col("created", "DATE", fmt="%Y-%m-%d", quoted=True, header_quoted=True),
            ],
            18,
            quoting="all",
        ),
    )


def crlf_accounts(out: Corpus) -> None:
    r = rng("crlf")
    rows = [
        [
            f"ACC-{r.randint(0, 999999):06d}",
            f"{r.choice(FIRST)} {r.choice(LAST)}",
            day(r, "2015-01-01", 3000).isoformat(),
            money(r, -100, 9000),
        ]
        for _ in range(22)
    ]
    out["crlf_accounts.csv"] = (
        text_file(lines_of([["account", "owner", "opened", "balance"], *rows], ","), "\r\n").encode(),
        fmt_expected(
            [
                col("account", "STRING"),
                col("owner", "STRING"),
                col("opened", "DATE", fmt="%Y-%m-%d"),
                col("balance", "NUMERIC", scale=2),
            ],
            22,
            line_terminator="\r\n",
        ),
    )


def no_final_newline(out: Corpus) -> None:
    r = rng("nofinal")
    rows = [[str(i + 1), r.choice(["open", "closed", "pending"]), str(r.randint(1, 9))] for i in range(12)]
    out["no_final_newline.csv"] = (
        text_file(lines_of([["ticket", "status", "priority"], *rows], ","), final=False).encode(),
        fmt_expected(
            [col("ticket", "INT64"), col("status", "STRING"), col("priority", "INT64")], 12, final_newline=False
        ),
    )


def comment_header(out: Corpus) -> None:
    r = rng("comment")
    rows = [[str(100 + i), r.choice(CITIES), f"{r.uniform(-10, 35):.1f}"] for i in range(25)]
    lines = ["# exported 2024-01-31 by ACME CRM", "# rows: 25", *lines_of([["station", "city", "temp_c"], *rows], ",")]
    out["comment_header.csv"] = (
        text_file(lines).encode(),
        fmt_expected(
            [col("station", "INT64"), col("city", "STRING"), col("temp_c", "NUMERIC", scale=1)],
            25,
            header_lines=[
                custom("# exported 2024-01-31 by ACME CRM", ("date", "2024-01-31", "%Y-%m-%d", 0)),
                custom("# rows: 25", ("record_count", "25", "", 0)),
            ],
        ),
    )


def caret_flags(out: Corpus) -> None:
    r = rng("caret")
    rows = [[str(i + 1), r.choice(["Y", "N"]), r.choice(["Yes", "No"]), r.choice(LAST)] for i in range(15)]
    out["caret_flags.txt"] = (
        text_file(lines_of([["id", "opted_in", "verified", "surname"], *rows], "^")).encode(),
        fmt_expected(
            [
                col("id", "INT64"),
                col("opted_in", "BOOL", tf=("Y", "N")),
                col("verified", "BOOL", tf=("Yes", "No")),
                col("surname", "STRING"),
            ],
            15,
            delimiter="^",
        ),
    )


def tilde_headerless(out: Corpus) -> None:
    r = rng("tilde")
    rows = [
        [
            r.choice(FIRST),
            f"+1 415-555-{r.randint(0, 9999):04d}",
            day(r).strftime("%d/%m/%Y"),
            str(r.randint(1, 3)),
        ]
        for _ in range(24)
    ]
    out["tilde_headerless.txt"] = (
        text_file(lines_of(rows, "~")).encode(),
        fmt_expected(
            [
                col("first_name", "STRING", header=False),
                col("phone", "STRING", header=False),
                col("date", "DATE", header=False, fmt="%d/%m/%Y"),
                col("column_4", "INT64", header=False),
            ],
            24,
            delimiter="~",
            has_header=False,
        ),
    )


def timestamps(out: Corpus) -> None:
    r = rng("timestamps")
    rows = []
    for i in range(20):
        m = moment(r).replace(microsecond=r.randrange(1_000_000))
        rows.append(
            [
                str(i + 1),
                m.strftime("%Y-%m-%dT%H:%M:%SZ"),
                m.strftime("%Y-%m-%d %H:%M:%S+00:00"),
                m.strftime("%Y-%m-%d %H:%M:%S UTC"),
                m.strftime("%Y-%m-%dT%H:%M:%S.%f"),
                m.strftime("%d/%m/%Y %H:%M"),
                m.strftime("%m/%d/%Y"),
                m.strftime("%Y%m%d%H%M%S"),
                m.strftime("%H:%M:%S"),
            ]
        )
    # Make sure the day/month order is decidable: a day > 12 in each column.
    rows[0][5] = "25/12/2023 08:30"
    rows[0][6] = "12/25/2023"
    header = ["event_id", "ts_z", "ts_offset", "ts_utc", "dt_fraction", "local_dt", "us_date", "compact", "at_time"]
    out["timestamps.csv"] = (
        text_file(lines_of([header, *rows], ",")).encode(),
        fmt_expected(
            [
                col("event_id", "INT64"),
                col("ts_z", "TIMESTAMP", fmt="%Y-%m-%dT%H:%M:%SZ"),
                col("ts_offset", "TIMESTAMP", fmt="%Y-%m-%d %H:%M:%S%:z"),
                col("ts_utc", "TIMESTAMP", fmt="%Y-%m-%d %H:%M:%S UTC"),
                col("dt_fraction", "DATETIME", fmt="%Y-%m-%dT%H:%M:%S.%f"),
                col("local_dt", "DATETIME", fmt="%d/%m/%Y %H:%M"),
                col("us_date", "DATE", fmt="%m/%d/%Y"),
                col("compact", "DATETIME", fmt="%Y%m%d%H%M%S"),
                col("at_time", "TIME", fmt="%H:%M:%S"),
            ],
            20,
        ),
    )


def null_markers(out: Corpus) -> None:
    r = rng("nulls")
    rows = []
    for i in range(30):
        rows.append(
            [
                str(i + 1),
                "NULL" if i % 9 == 4 else f"{r.choice(FIRST)} {r.choice(LAST)}",
                "NULL" if i % 5 == 2 else str(r.randint(0, 100)),
                "NULL" if i % 6 == 1 else day(r, "1950-01-01", 20000).isoformat(),
                r.choice(["US", "DE", "FR", "NA", "GB"]),
            ]
        )
    out["null_markers.csv"] = (
        text_file(lines_of([["id", "name", "score", "birth_date", "region"], *rows], ",")).encode(),
        fmt_expected(
            [
                col("id", "INT64"),
                col("name", "STRING"),
                col("score", "INT64"),
                col("birth_date", "DATE", fmt="%Y-%m-%d"),
                col("region", "STRING"),
            ],
            30,
            null_marker="NULL",
        ),
    )


def mysql_export(out: Corpus) -> None:
    r = rng("mysql")
    rows = []
    for i in range(26):
        rows.append(
            [
                str(i + 1),
                f"user{r.randint(100, 999)}",
                "\\N" if i % 4 == 1 else moment(r).strftime("%Y-%m-%d %H:%M:%S"),
                "\\N" if i % 5 == 3 else f"{r.uniform(0, 99):.2f}",
            ]
        )
    out["mysql_export.tsv"] = (
        text_file(lines_of([["id", "login", "last_seen", "credit"], *rows], "\t")).encode(),
        fmt_expected(
            [
                col("id", "INT64"),
                col("login", "STRING"),
                col("last_seen", "DATETIME", fmt="%Y-%m-%d %H:%M:%S"),
                col("credit", "NUMERIC", scale=2),
            ],
            26,
            delimiter="\t",
            null_marker="\\N",
        ),
    )


def leading_zeros(out: Corpus) -> None:
    r = rng("zeros")
    rows = [
        [str(i + 1), f"{r.randint(0, 99999):05d}", f"{r.randint(1, 999):06d}", str(r.randint(0, 1))] for i in range(20)
    ]
    rows[0][1] = "02134"  # at least one zip with a leading zero
    out["leading_zeros.csv"] = (
        text_file(lines_of([["id", "zip", "account_code", "is_vip"], *rows], ",")).encode(),
        fmt_expected(
            [col("id", "INT64"), col("zip", "STRING"), col("account_code", "STRING"), col("is_vip", "INT64")], 20
        ),
    )


def sales_parts(out: Corpus) -> None:
    r = rng("sales")
    header = ["sale_id", "store", "amount", "sold_on"]
    for part, (start, count) in enumerate([(1, 25), (26, 15)], start=1):
        rows = [
            [str(start + i), r.choice(["North", "South", "East", "West"]), money(r, 1, 250), day(r).isoformat()]
            for i in range(count)
        ]
        out[f"sales_part{part}.csv"] = (
            text_file(lines_of([header, *rows], ",")).encode(),
            fmt_expected(
                [
                    col("sale_id", "INT64"),
                    col("store", "STRING"),
                    col("amount", "NUMERIC", scale=2),
                    col("sold_on", "DATE", fmt="%Y-%m-%d"),
                ],
                count,
            ),
        )


def nonnumeric(out: Corpus) -> None:
    r = rng("nonnumeric")
    rows = [[r.choice(FIRST), str(r.randint(1, 20)), money(r, 1, 80), r.choice(CITIES[:4])] for _ in range(14)]

    def quote(value: str, index: int) -> str:
        # QUOTE_NONNUMERIC: numbers bare, every string quoted (the header's names too).
        return value if index in (1, 2) else '"' + value.replace('"', '""') + '"'

    header = ",".join(f'"{name}"' for name in ("name", "qty", "price", "city"))
    out["quote_nonnumeric.csv"] = (
        text_file([header, *lines_of(rows, ",", quote=quote)]).encode(),
        fmt_expected(
            [
                col("name", "STRING", quoted=True, header_quoted=True),
                col("qty", "INT64", header_quoted=True),
                col("price", "NUMERIC", scale=2, header_quoted=True),
                col("city", "STRING", quoted=True, header_quoted=True),
            ],
            14,
            quoting="nonnumeric",
        ),
    )


def totals_trailer(out: Corpus) -> None:
    r = rng("totals")
    rows = [[r.choice(["books", "games", "music"]), str(r.randint(1, 9)), money(r, 1, 60)] for _ in range(12)]
    lines = [*lines_of([["category", "units", "revenue"], *rows], ","), "TOTAL,12,"]
    out["totals_trailer.csv"] = (
        text_file(lines).encode(),
        fmt_expected(
            [col("category", "STRING"), col("units", "INT64"), col("revenue", "NUMERIC", scale=2)],
            12,
            trailer_lines=[custom("TOTAL,12,", ("record_count", "12", "", 0))],
        ),
    )


def escaped_pipes(out: Corpus) -> None:
    r = rng("escaped")
    paths = ["a|b", "c:\\\\temp", "plain", "x|y|z", "semi;colon"]
    rows = []
    for i in range(10):
        value = paths[i % len(paths)].replace("|", "\\|")
        rows.append(f"{i + 1}|{value}|{r.choice(LAST)}")
    out["escaped_pipes.txt"] = (
        text_file(["id|path|owner", *rows]).encode(),
        fmt_expected(
            [col("id", "INT64"), col("path", "STRING"), col("owner", "STRING")],
            10,
            delimiter="|",
            quoting="none",
            escapechar="\\",
        ),
    )


def ragged_tolerated(out: Corpus) -> None:
    r = rng("ragged_ok")
    rows = [[str(i + 1), r.choice(LAST), str(r.randint(1, 99))] for i in range(150)]
    lines = lines_of([["id", "surname", "score"], *rows], ",")
    lines.insert(60, "61,Smith,12,extra")  # one bad row of 151: within the 1% tolerance
    out["ragged_tolerated.csv"] = (
        text_file(lines).encode(),
        fmt_expected(
            [col("id", "INT64"), col("surname", "STRING"), col("score", "INT64")],
            150,
            ragged_rows=1,
            round_trip=False,
        ),
    )


# ---------------------------------------------------------------------------------------------
# Delimiters and markers as exports write them (issue 15)
# ---------------------------------------------------------------------------------------------


def unit_separator(out: Corpus) -> None:
    """ASCII unit separator (0x1F) between fields, as mainframe and SAP extracts write them."""
    r = rng("unit_separator")
    rows = [
        [f"{4711000 + i}", f"{r.choice(ACCENTED_FIRST)} {r.choice(ACCENTED_LAST)}", r.choice(CITIES), money(r, 1, 90)]
        for i in range(20)
    ]
    header = ["KUNNR", "NAME1", "ORT01", "UMSATZ"]
    out["unit_separator.txt"] = (
        text_file(lines_of([header, *rows], "\x1f")).encode(),
        fmt_expected(
            [
                col("KUNNR", "INT64"),
                col("NAME1", "STRING"),
                col("ORT01", "STRING"),
                col("UMSATZ", "NUMERIC", scale=2),
            ],
            20,
            delimiter="\x1f",
        ),
    )


def hive_soh(out: Corpus) -> None:
    """Hive's default text format: SOH (0x01) between fields, no header, NULL written \\N."""
    r = rng("hive_soh")
    rows = [
        [
            str(i + 1),
            f"user{r.randint(100, 999)}",
            "\\N" if i % 6 == 2 else str(r.randint(0, 5000)),
            r.choice(["web", "app"]),
        ]
        for i in range(24)
    ]
    out["hive_soh.txt"] = (
        text_file(lines_of(rows, "\x01")).encode(),
        fmt_expected(
            [
                col("column_1", "INT64", header=False),
                col("column_2", "STRING", header=False),
                col("column_3", "INT64", header=False),
                col("column_4", "STRING", header=False),
            ],
            24,
            delimiter="\x01",
            has_header=False,
            null_marker="\\N",
        ),
    )


def record_separator(out: Corpus) -> None:
    """Record separator (0x1E) between fields: str.splitlines would take it for a line end."""
    r = rng("record_separator")
    rows = [
        [f"P{r.randint(1000, 9999)}", r.choice(["open", "shipped", "closed"]), day(r).isoformat()] for _ in range(15)
    ]
    out["record_separator.txt"] = (
        text_file(lines_of([["order_ref", "status", "changed_on"], *rows], "\x1e")).encode(),
        fmt_expected(
            [col("order_ref", "STRING"), col("status", "STRING"), col("changed_on", "DATE", fmt="%Y-%m-%d")],
            15,
            delimiter="\x1e",
        ),
    )


def double_pipe(out: Corpus) -> None:
    """``||`` between fields, as legacy warehouse unloads write them; a value holds a single ``|``."""
    r = rng("double_pipe")
    rows = [[str(i + 1), r.choice(["A|B test", "plain", "x|y"]), r.choice(LAST), money(r, 1, 300)] for i in range(18)]
    out["double_pipe.txt"] = (
        text_file([line for line in ("||".join(row) for row in [["id", "variant", "owner", "price"], *rows])]).encode(),
        fmt_expected(
            [col("id", "INT64"), col("variant", "STRING"), col("owner", "STRING"), col("price", "NUMERIC", scale=2)],
            18,
            delimiter="||",
        ),
    )


def tilde_pipe(out: Corpus) -> None:
    """``~|~`` between fields and no header: a delimiter no value can contain."""
    r = rng("tilde_pipe")
    rows = [
        [f"{r.choice(FIRST)}, {r.choice(LAST)}", day(r).strftime("%Y%m%d"), str(r.randint(1, 40))] for _ in range(16)
    ]
    out["tilde_pipe.dat"] = (
        text_file(["~|~".join(row) for row in rows], "\r\n").encode(),
        fmt_expected(
            [
                col("column_1", "STRING", header=False),
                col("date", "DATE", header=False, fmt="%Y%m%d"),
                col("column_3", "INT64", header=False),
            ],
            16,
            delimiter="~|~",
            has_header=False,
            line_terminator="\r\n",
        ),
    )


def single_quoted(out: Corpus) -> None:
    """Single quotes around values that need them (and ``''`` inside), as some Oracle tools write."""
    r = rng("single_quoted")
    names = ["O'Brien, Pat", "Smith", "D'Angelo", "Lee, Ann", "Miller"]
    rows = [[str(i + 1), names[i % len(names)], r.choice(CITIES[:4]), str(r.randint(1, 9))] for i in range(15)]

    def quote(value: str, _: int) -> str:
        return "'" + value.replace("'", "''") + "'" if ("," in value or "'" in value) else value

    lines = lines_of([["id", "customer", "city", "visits"], *rows], ",", quote=quote)
    expected = fmt_expected(
        [col("id", "INT64"), col("customer", "STRING"), col("city", "STRING"), col("visits", "INT64")], 15
    )
    expected["format"]["quotechar"] = "'"
    out["single_quoted.csv"] = (text_file(lines).encode(), expected)


def mixed_nulls(out: Corpus) -> None:
    """NULL spelled per column, as SQL client exports do: NULL in text, empty in numbers; a note
    column holds both empty strings and NULLs."""
    r = rng("mixed_nulls")
    rows = []
    for i in range(24):
        rows.append(
            [
                str(i + 1),
                "NULL" if i % 7 == 3 else r.choice(LAST),
                "" if i % 5 == 1 else str(r.randint(1, 500)),
                "" if i % 8 == 6 else ("NULL" if i % 8 == 2 else r.choice(["call back", "vip", "moved"])),
                r.choice(CITIES[:5]),
            ]
        )
    out["mixed_nulls.csv"] = (
        text_file(lines_of([["id", "surname", "points", "note", "city"], *rows], ",")).encode(),
        fmt_expected(
            [
                col("id", "INT64"),
                col("surname", "STRING"),
                col("points", "INT64", null=""),
                col("note", "STRING"),
                col("city", "STRING"),
            ],
            24,
            null_marker="NULL",
        ),
    )


def header_quoting(out: Corpus) -> None:
    """A header quoted field by field, as a hand-edited Excel export keeps it."""
    r = rng("header_quoting")
    rows = [[str(i + 1), f"{r.choice(FIRST)} {r.choice(LAST)}", money(r, 1, 99), r.choice(CITIES)] for i in range(14)]
    header = '"Customer ID",name,"Amount (EUR)",city'
    out["header_quoting.csv"] = (
        text_file([header, *lines_of(rows, ",")]).encode(),
        fmt_expected(
            [
                col("Customer_ID", "INT64", header="Customer ID", header_quoted=True),
                col("name", "STRING"),
                col("Amount_EUR", "NUMERIC", header="Amount (EUR)", scale=2, header_quoted=True),
                col("city", "STRING"),
            ],
            14,
        ),
    )


# ---------------------------------------------------------------------------------------------
# Numbers as exports write them (issue 15, item 1)
# ---------------------------------------------------------------------------------------------


def grouped(amount: str, group: str, decimal: str) -> str:
    """``-1234.56`` with a thousands separator and a decimal mark, written out by hand."""
    sign, digits = ("-", amount[1:]) if amount.startswith("-") else ("", amount)
    whole, _, fraction = digits.partition(".")
    groups = []
    while len(whole) > 3:
        whole, groups = whole[:-3], [whole[-3:], *groups]
    text = group.join([whole, *groups])
    return sign + text + (decimal + fraction if fraction else "")


def general(value: float) -> str:
    """A number as Excel's "General" format writes it: shortest digits, whole numbers bare."""
    return str(int(value)) if value.is_integer() else repr(value)


def excel_us_money(out: Corpus) -> None:
    """Excel (en-US) "Save as CSV" of formatted cells: $1,234.56, ($12.00), 1,234 units, 12.5%."""
    r = rng("excel_us_money")
    rows = []
    for i in range(30):
        amount = f"{r.uniform(-2500, 25000):.2f}"
        body = grouped(amount.lstrip("-"), ",", ".")
        money_text = f"(${body})" if amount.startswith("-") else f"${body}"
        units = grouped(str(r.choice([r.randint(1, 999), r.randint(1000, 250000)])), ",", ".")
        share = general(round(r.uniform(0, 40), r.choice([0, 1, 2])))
        rows.append([f"INV-{10400 + i}", money_text, units, f"{share}%"])
    rows[0][1] = "($1,146.52)"  # at least one negative amount
    rows[1][3] = "2%"  # and one whole percentage next to decimals
    out["excel_us_money.csv"] = (
        text_file(lines_of([["Invoice", "Amount", "Units", "Discount"], *rows], ",")).encode(),
        fmt_expected(
            [
                col("Invoice", "STRING"),
                col("Amount", "NUMERIC", scale=2, number={"group_mark": ",", "prefix": "$", "negative": "parentheses"}),
                col("Units", "INT64", number={"group_mark": ","}),
                col("Discount", "FLOAT64", number={"suffix": "%", "bare_integers": True}),
            ],
            30,
        ),
    )


def sap_de_amounts(out: Corpus) -> None:
    """SAP list export (de-DE), tab-separated: 1.146,52 and 12,00- (trailing minus), 1.500 units."""
    r = rng("sap_de_amounts")
    rows = []
    for i in range(25):
        amount = f"{r.uniform(-5000, 50000):.2f}"
        body = grouped(amount.lstrip("-"), ".", ",")
        quantity = r.choice([r.randint(1, 999), r.randint(1000, 90000)])
        rows.append(
            [
                str(4900001234 + i),
                day(r).strftime("%d.%m.%Y"),
                body + ("-" if amount.startswith("-") else ""),
                "EUR",
                grouped(str(quantity), ".", ","),
            ]
        )
    rows[0][2], rows[0][4], rows[1][4] = "1.146,52", "12", "1.500"
    rows[2][2] = "12,00-"
    header = ["Belegnummer", "Buchungsdatum", "Betrag", "Währung", "Menge"]
    out["sap_de_amounts.txt"] = (
        text_file(lines_of([header, *rows], "\t")).encode(),
        fmt_expected(
            [
                col("Belegnummer", "INT64"),
                col("Buchungsdatum", "DATE", fmt="%d.%m.%Y"),
                col(
                    "Betrag",
                    "NUMERIC",
                    scale=2,
                    comma=True,
                    number={"group_mark": ".", "negative": "trailing_minus"},
                ),
                col("Wahrung", "STRING", header="Währung"),
                col("Menge", "INT64", number={"group_mark": "."}),
            ],
            25,
            delimiter="\t",
        ),
    )


def fr_nbsp_euros(out: Corpus) -> None:
    """Excel (fr-FR) CSV: semicolons, narrow no-break space between thousands, 1 234,56 €, 12,5 %."""
    r = rng("fr_nbsp_euros")
    rows = []
    for _ in range(22):
        amount = f"{r.uniform(-900, 90000):.2f}"
        rows.append(
            [
                f"{r.choice(ACCENTED_FIRST)} {r.choice(ACCENTED_LAST)}",
                grouped(amount, "\u202f", ",") + "\u00a0€",
                f"{r.uniform(0, 30):.1f}".replace(".", ",") + "\u00a0%",
            ]
        )
    rows[0][1] = "-1\u202f146,52\u00a0€"
    out["fr_nbsp_euros.csv"] = (
        text_file(lines_of([["Client", "Montant", "Remise"], *rows], ";")).encode(),
        fmt_expected(
            [
                col("Client", "STRING"),
                col("Montant", "NUMERIC", scale=2, comma=True, number={"group_mark": "\u202f", "suffix": "\u00a0€"}),
                col("Remise", "NUMERIC", scale=1, comma=True, number={"suffix": "\u00a0%"}),
            ],
            22,
            delimiter=";",
        ),
    )


def swiss_francs(out: Corpus) -> None:
    """Swiss exports: CHF 1'234.50 with an apostrophe between thousands, CHF -12.00 for negatives."""
    r = rng("swiss_francs")
    rows = []
    for i in range(18):
        amount = f"{r.uniform(-3000, 120000):.2f}"
        body = grouped(amount.lstrip("-"), "'", ".")
        rows.append([str(i + 1), r.choice(CITIES), f"CHF -{body}" if amount.startswith("-") else f"CHF {body}"])
    rows[0][2] = "CHF -1'146.50"
    out["swiss_francs.csv"] = (
        text_file(lines_of([["id", "branch", "balance"], *rows], ",")).encode(),
        fmt_expected(
            [
                col("id", "INT64"),
                col("branch", "STRING"),
                col(
                    "balance",
                    "NUMERIC",
                    scale=2,
                    number={"group_mark": "'", "prefix": "CHF ", "negative": "minus_after_prefix"},
                ),
            ],
            18,
        ),
    )


def float_integers(out: Corpus) -> None:
    """A FLOAT column with a decimal comma whose whole values are written bare (2, not 2,0)."""
    r = rng("float_integers")
    rows = []
    for i in range(20):
        value = general(round(r.uniform(0, 9), r.choice([0, 1, 3])))
        rows.append([str(i + 1), value.replace(".", ","), r.choice(["kg", "l", "m"])])
    rows[0][1], rows[1][1] = "2", "1,5"
    out["float_integers.csv"] = (
        text_file(lines_of([["pos", "menge", "einheit"], *rows], ";")).encode(),
        fmt_expected(
            [
                col("pos", "INT64"),
                col("menge", "FLOAT64", comma=True, number={"bare_integers": True}),
                col("einheit", "STRING"),
            ],
            20,
            delimiter=";",
        ),
    )


# ---------------------------------------------------------------------------------------------
# Dates and times as exports write them (issue 15, item 2)
# ---------------------------------------------------------------------------------------------


def unpadded(d: dt.date | dt.datetime, day_first: bool = False) -> str:
    """``1/5/2024`` as Excel writes m/d/yyyy (or d/m/yyyy), written out by hand."""
    return f"{d.day}/{d.month}/{d.year}" if day_first else f"{d.month}/{d.day}/{d.year}"


def clock12(m: dt.datetime, seconds: bool = True) -> str:
    hour = m.hour % 12 or 12
    return f"{hour}:{m.minute:02d}" + (f":{m.second:02d}" if seconds else "") + (" AM" if m.hour < 12 else " PM")


def excel_us_dates(out: Corpus) -> None:
    """Excel (en-US) CSV: 1/5/2024 and 1/5/2024 1:05:09 PM, months and days unpadded."""
    r = rng("excel_us_dates")
    rows = []
    for i in range(24):
        m = moment(r)
        rows.append([str(i + 1), unpadded(day(r)), f"{unpadded(m)} {clock12(m)}", clock12(moment(r), seconds=False)])
    rows[0][1], rows[0][2] = "12/25/2023", "12/25/2023 11:59:59 PM"  # a day above 12 decides the order
    out["excel_us_dates.csv"] = (
        text_file(lines_of([["id", "order_date", "shipped_at", "slot"], *rows], ",")).encode(),
        fmt_expected(
            [
                col("id", "INT64"),
                col("order_date", "DATE", fmt="%-m/%-d/%Y"),
                col("shipped_at", "DATETIME", fmt="%-m/%-d/%Y %-I:%M:%S %p"),
                col("slot", "TIME", fmt="%-I:%M %p"),
            ],
            24,
        ),
    )


def oracle_dates(out: Corpus) -> None:
    """Oracle SQL*Plus spool: DD-MON-RR dates (05-JAN-24), pipes, a month-name date column too."""
    r = rng("oracle_dates")
    months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    names = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ]
    rows = []
    for i in range(20):
        hired, born = day(r, "2015-01-01", 3000), day(r, "1960-01-01", 12000)
        rows.append(
            [
                str(7000 + i),
                r.choice(LAST).upper(),
                f"{hired.day:02d}-{months[hired.month - 1]}-{hired.year % 100:02d}",
                f"{names[born.month - 1][:3]} {born.day}, {born.year}",
            ]
        )
    out["oracle_dates.txt"] = (
        text_file(lines_of([["EMPNO", "ENAME", "HIREDATE", "BIRTHDAY"], *rows], "|")).encode(),
        fmt_expected(
            [
                col("EMPNO", "INT64"),
                col("ENAME", "STRING"),
                col("HIREDATE", "DATE", fmt="%d-%^b-%y"),
                col("BIRTHDAY", "DATE", fmt="%b %-d, %Y"),
            ],
            20,
            delimiter="|",
        ),
    )


def fractional_timestamps(out: Corpus) -> None:
    """Milli-, micro- and nanosecond fractions; Z, +01:00 and -05:00 kept as written.

    The nanosecond column holds microsecond data padded with 000, as Spark and Snowflake
    write TIMESTAMP(9) of microsecond values (BigQuery keeps microseconds).
    """
    r = rng("fractional_timestamps")
    rows = []
    for i in range(20):
        m = moment(r).replace(microsecond=r.randrange(1_000_000))
        utc = m.replace(tzinfo=dt.UTC)
        paris = utc.astimezone(dt.timezone(dt.timedelta(hours=1)))
        ny = utc.astimezone(dt.timezone(dt.timedelta(hours=-5)))
        rows.append(
            [
                str(i + 1),
                m.strftime("%Y-%m-%d %H:%M:%S.") + f"{m.microsecond // 1000:03d}",
                m.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                paris.strftime("%Y-%m-%dT%H:%M:%S.") + f"{m.microsecond:06d}000+01:00",
                ny.strftime("%Y-%m-%d %H:%M:%S-05:00"),
                m.strftime("%H:%M:%S.") + f"{m.microsecond // 1000:03d}",
            ]
        )
    header = ["event_id", "logged_ms", "received_us", "processed_ns", "billed_at", "at_ms"]
    out["fractional_timestamps.csv"] = (
        text_file(lines_of([header, *rows], ",")).encode(),
        fmt_expected(
            [
                col("event_id", "INT64"),
                col("logged_ms", "DATETIME", fmt="%Y-%m-%d %H:%M:%S.%3f"),
                col("received_us", "TIMESTAMP", fmt="%Y-%m-%dT%H:%M:%S.%fZ"),
                col("processed_ns", "TIMESTAMP", fmt="%Y-%m-%dT%H:%M:%S.%9f%:z", utc_offset="+01:00"),
                col("billed_at", "TIMESTAMP", fmt="%Y-%m-%d %H:%M:%S%:z", utc_offset="-05:00"),
                col("at_ms", "TIME", fmt="%H:%M:%S.%3f"),
            ],
            20,
        ),
    )


def ambiguous_dates(out: Corpus) -> None:
    """Day and month never above 12: the order cannot be decided, is read day first and reported."""
    r = rng("ambiguous_dates")
    rows = []
    for i in range(12):
        d = dt.date(2024, r.randint(1, 12), r.randint(1, 12))
        rows.append([str(i + 1), d.strftime("%d/%m/%Y"), r.choice(["in", "out"])])
    out["ambiguous_dates.csv"] = (
        text_file(lines_of([["id", "booked", "direction"], *rows], ",")).encode(),
        fmt_expected(
            [col("id", "INT64"), col("booked", "DATE", fmt="%d/%m/%Y", assumed=True), col("direction", "STRING")], 12
        ),
    )


def eu_unpadded(out: Corpus) -> None:
    """German short dates with unpadded day and month (5.1.2024) and 24-hour unpadded clock."""
    r = rng("eu_unpadded")
    rows = []
    for i in range(18):
        d, m = day(r), moment(r)
        rows.append([str(i + 1), f"{d.day}.{d.month}.{d.year}", f"{m.day}.{m.month}.{m.year} {m.hour}:{m.minute:02d}"])
    rows[0][1] = "31.1.2024"
    out["eu_unpadded.csv"] = (
        text_file(lines_of([["nr", "datum", "zeitpunkt"], *rows], ";")).encode(),
        fmt_expected(
            [
                col("nr", "INT64"),
                col("datum", "DATE", fmt="%-d.%-m.%Y"),
                col("zeitpunkt", "DATETIME", fmt="%-d.%-m.%Y %-H:%M"),
            ],
            18,
            delimiter=";",
        ),
    )


# ---------------------------------------------------------------------------------------------
# Spellings chosen value by value (issue 15, items 2 and 3)
# ---------------------------------------------------------------------------------------------


def shares(spellings: Sequence[str]) -> dict[str, float]:
    """Each spelling's share, rounded to 4 places, in sorted order (as a profile records them)."""
    counts = Counter(spellings)
    return {k: round(counts[k] / len(spellings), 4) for k in sorted(counts)}


def typed_mixed_nulls(out: Corpus) -> None:
    """Typed columns writing NULL both as an empty field and as NULL: rows appended by two jobs, one
    writing SQL NULLs as NULL (a bcp or psql export), the other leaving them empty (a spreadsheet)."""
    r = rng("typed_mixed_nulls")
    rows, amount_nulls, shipped_nulls = [], [], []
    for i in range(40):
        second_job = i >= 22
        null = "" if second_job else "NULL"
        amount = money(r, 5, 900) if i % 4 else null
        shipped = day(r, "2024-01-01").isoformat() if i % 3 else ("NULL" if i % 2 else null)
        amount_nulls += [amount] if amount in ("", "NULL") else []
        shipped_nulls += [shipped] if shipped in ("", "NULL") else []
        surname = "NULL" if i % 9 == 4 else r.choice(LAST)
        rows.append([str(i + 1), surname, amount, shipped])
    out["typed_mixed_nulls.csv"] = (
        text_file(lines_of([["order_id", "surname", "amount", "shipped_on"], *rows], ",")).encode(),
        fmt_expected(
            [
                col("order_id", "INT64"),
                col("surname", "STRING"),
                col("amount", "NUMERIC", scale=2, null_spellings=shares(amount_nulls)),
                col("shipped_on", "DATE", fmt="%Y-%m-%d", null_spellings=shares(shipped_nulls)),
            ],
            40,
            null_marker="NULL",
        ),
    )


def berlin_dst(out: Corpus) -> None:
    """Local times of a German system with their offset, as Java's OffsetDateTime writes them:
    +01:00 in winter and +02:00 in summer (Europe/Berlin), across a year and both changes."""
    r = rng("berlin_dst")
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    rows = []
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for i in range(36):
        instant = start + dt.timedelta(seconds=r.randrange(366 * 86400))
        if i == 0:  # the fall-back hour, 02:30 local twice: the first one (CEST)
            instant = dt.datetime(2024, 10, 27, 0, 30, tzinfo=dt.UTC)
        if i == 1:  # and the second one (CET)
            instant = dt.datetime(2024, 10, 27, 1, 30, tzinfo=dt.UTC)
        local = instant.astimezone(berlin)
        offset = local.strftime("%z")
        rows.append([str(i + 1), local.strftime("%Y-%m-%dT%H:%M:%S") + f"{offset[:3]}:{offset[3:]}", money(r)])
    out["berlin_dst.csv"] = (
        text_file(lines_of([["booking", "booked_at", "amount"], *rows], ",")).encode(),
        fmt_expected(
            [
                col("booking", "INT64"),
                # Every zone giving all 36 values their offset writes them alike; the first by name is taken.
                col(
                    "booked_at",
                    "TIMESTAMP",
                    fmt="%Y-%m-%dT%H:%M:%S%:z",
                    time_zone=first_zone_like(berlin, rows),
                    time_zone_values=36,
                ),
                col("amount", "NUMERIC", scale=2),
            ],
            36,
        ),
    )


def london_rfc3339(out: Corpus) -> None:
    """A Go service's log in Europe/London: time.RFC3339 writes a zero offset as Z (winter) and
    +01:00 otherwise (summer), as Java's ISO_OFFSET_DATE_TIME does."""
    r = rng("london_rfc3339")
    london = zoneinfo.ZoneInfo("Europe/London")
    rows = []
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for i in range(30):
        local = (start + dt.timedelta(seconds=r.randrange(366 * 86400))).astimezone(london)
        offset = local.strftime("%z")
        zone = "Z" if offset == "+0000" else f"{offset[:3]}:{offset[3:]}"
        rows.append([str(i + 1), local.strftime("%Y-%m-%dT%H:%M:%S") + zone, r.choice(["ok", "retry", "failed"])])
    out["london_rfc3339.csv"] = (
        text_file(lines_of([["event_id", "occurred_at", "status"], *rows], ",")).encode(),
        fmt_expected(
            [
                col("event_id", "INT64"),
                col(
                    "occurred_at",
                    "TIMESTAMP",
                    fmt="%Y-%m-%dT%H:%M:%S%:Z",
                    time_zone=first_zone_like(london, rows),
                    time_zone_values=30,
                ),
                col("status", "STRING"),
            ],
            30,
        ),
    )


def first_zone_like(zone: zoneinfo.ZoneInfo, rows: Sequence[Sequence[str]]) -> str:
    """The alphabetically first Area/Location zone giving each row's instant the offset ``zone`` gives it."""
    instants = [dt.datetime.fromisoformat(row[1].replace("Z", "+00:00")) for row in rows]
    areas = ("Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")
    for name in sorted(zoneinfo.available_timezones()):
        if name.split("/", 1)[0] not in areas:
            continue
        other = zoneinfo.ZoneInfo(name)
        if all(m.astimezone(other).utcoffset() == m.astimezone(zone).utcoffset() for m in instants):
            return name
    raise AssertionError("no zone: the file is not what it should be")


def offset_mix(out: Corpus) -> None:
    """Orders of shops in Tokyo, Paris and New York, each written in its shop's standard offset
    (+0900, +0100, -0500 as ``%z`` writes them): no one zone has all three."""
    r = rng("offset_mix")
    shops = [("TYO", 9), ("PAR", 1), ("NYC", -5)]
    rows, offsets = [], []
    for i in range(30):
        shop, hours = r.choice(shops)
        instant = moment(r, "2024-01-05").replace(tzinfo=dt.UTC)
        local = instant.astimezone(dt.timezone(dt.timedelta(hours=hours)))
        offsets.append(f"{'-' if hours < 0 else '+'}{abs(hours):02d}:00")
        rows.append([str(i + 1), shop, local.strftime("%Y-%m-%d %H:%M:%S%z")])
    out["offset_mix.csv"] = (
        text_file(lines_of([["order_id", "shop", "ordered_at"], *rows], ",")).encode(),
        fmt_expected(
            [
                col("order_id", "INT64"),
                col("shop", "STRING"),
                col("ordered_at", "TIMESTAMP", fmt="%Y-%m-%d %H:%M:%S%z", utc_offsets=shares(offsets)),
            ],
            30,
        ),
    )


def nanoseconds(out: Corpus) -> None:
    """Nine-digit fractions with real nanoseconds, as Spark, Snowflake and Parquet tools write
    TIMESTAMP(9) and TIME(9): BigQuery keeps the microseconds, the file the rest."""
    r = rng("nanoseconds")
    rows = []
    for i in range(20):
        m = moment(r)
        nanos = f"{r.randrange(10**9):09d}"
        if i == 3:
            nanos = "123456000"  # microsecond data among them
        rows.append(
            [
                str(i + 1),
                m.strftime("%Y-%m-%dT%H:%M:%S.") + nanos + "Z",
                m.strftime("%Y-%m-%d %H:%M:%S.") + nanos[::-1],
                m.strftime("%H:%M:%S.") + nanos,
            ]
        )
    out["nanoseconds.csv"] = (
        text_file(lines_of([["trade_id", "executed_at", "booked_local", "at_time"], *rows], ",")).encode(),
        fmt_expected(
            [
                col("trade_id", "INT64"),
                col("executed_at", "TIMESTAMP", fmt="%Y-%m-%dT%H:%M:%S.%9fZ"),
                col("booked_local", "DATETIME", fmt="%Y-%m-%d %H:%M:%S.%9f"),
                col("at_time", "TIME", fmt="%H:%M:%S.%9f"),
            ],
            20,
        ),
    )


# ---------------------------------------------------------------------------------------------
# Files that must be refused
# ---------------------------------------------------------------------------------------------


def refusals(out: Corpus) -> None:
    out["refuse_empty.csv"] = (b"", {"refuse": "is empty"})
    out["refuse_header_only.csv"] = (b"customer_id,name,email\n", {"refuse": "no data rows"})
    r = rng("ragged_bad")
    lines = ["id,name,score"]
    for i in range(20):
        extra = ",oops" if i in (3, 7, 11, 15, 18) else ""
        lines.append(f"{i + 1},{r.choice(LAST)},{r.randint(1, 9)}{extra}")
    out["refuse_ragged.csv"] = (text_file(lines).encode(), {"refuse": "lines 5, 9, 13, 17, 20"})
    out["refuse_gzip.csv"] = (gzip.compress(b"id,name\n1,Alice\n", mtime=0), {"refuse": "gzip"})
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fe"
        "a7d6a4420000000049454e44ae426082"
    )
    out["refuse_image.png"] = (png, {"refuse": "PNG"})
    out["refuse_utf16.csv"] = ("id,name\n1,Zoë\n2,René\n".encode("utf-16"), {"refuse": "UTF-16"})
    out["refuse_cp1252.csv"] = (
        "id,quote\n1,\u201chello\u201d \u2013 €5\n2,plain\n".encode("cp1252"),
        {"refuse": "Windows-1252"},
    )
    out["refuse_binary.dat"] = (bytes(range(256)) * 4, {"refuse": "binary"})


BUILDERS = [
    customers,
    orders_hdr_trl,
    semicolon_de,
    products_tsv,
    bom_contacts,
    latin1_clients,
    quoted_notes,
    quote_all,
    crlf_accounts,
    no_final_newline,
    comment_header,
    caret_flags,
    tilde_headerless,
    timestamps,
    null_markers,
    mysql_export,
    leading_zeros,
    sales_parts,
    nonnumeric,
    totals_trailer,
    escaped_pipes,
    ragged_tolerated,
    unit_separator,
    hive_soh,
    record_separator,
    double_pipe,
    tilde_pipe,
    single_quoted,
    mixed_nulls,
    header_quoting,
    excel_us_money,
    sap_de_amounts,
    fr_nbsp_euros,
    swiss_francs,
    float_integers,
    excel_us_dates,
    oracle_dates,
    fractional_timestamps,
    ambiguous_dates,
    eu_unpadded,
    typed_mixed_nulls,
    berlin_dst,
    offset_mix,
    london_rfc3339,
    nanoseconds,
    refusals,
]


def build() -> Corpus:
    corpus: Corpus = {}
    for builder in BUILDERS:
        builder(corpus)
    return corpus


def main() -> None:
    for name, (data, expected) in build().items():
        (HERE / name).write_bytes(data)
        (HERE / f"{name}.expected.json").write_text(json.dumps(expected, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {len(build())} files to {HERE}")


if __name__ == "__main__":
    main()
