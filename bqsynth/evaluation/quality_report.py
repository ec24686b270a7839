"""The quality report of a run: an HTML page, a Markdown section, headline metrics, findings.

The HTML page is self-contained and needs no network and no JavaScript: plots are inline
SVG drawn here. Plotly (which SDMetrics brings) was the alternative, but embedding
plotly.js once costs 4.8 MB per report, and the Vertex AI console shows HTML artifacts in a
sandboxed frame where scripts may not run; a few kilobytes of SVG per column render
everywhere, print, and can be checked by tests as plain text.

Every value that comes from data (category labels, table and column names, error messages)
is untrusted and goes through ``html.escape``. Plots never show an identifying column's
values (only their lengths, or for text realism their signatures: word count and case
pattern) nor a category seen fewer than k times in the source sample.
"""

from __future__ import annotations

import html
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from bqsynth.evaluation.metrics import (
    MAX_ROWS,
    LeafColumn,
    as_canonical,
    as_datetimes,
    as_numbers,
    bounded,
    is_null,
    is_text_column,
    quality_leaf_columns,
    text_values,
)
from bqsynth.evaluation.run_summary import disclosure_lines, key_counts, key_lines, keys_checked, planner_line
from bqsynth.models import ColumnQuality, RunSummary, TablePlan, TableQuality, TextRealism
from bqsynth.text_kinds import MAX_SIGNATURE_WORDS, text_signature

# Below this share of valid values a column (or table) is reported as a finding.
VALIDITY_THRESHOLD = 0.95
# Below this text realism a column is reported as a finding: it does not look like its kind.
# Measured (tests/unit/test_text_realism.py): lorem sentences, words or paragraphs in title,
# name, city, postcode and job columns score 0.00-0.04; the faked kinds of the demo and of a
# Chinook-like store score 0.47 (Faker jobs for "Sales Manager"-style titles) to 1.00.
TEXT_REALISM_THRESHOLD = 0.3
# Above this share of lorem filler beyond the source's, a text column (not free text) is a
# finding whatever its score: a title column half of lorem words still scores about 0.38,
# as its other half looks right, but every one of those values is of the wrong kind.
FILLER_EXCESS_THRESHOLD = 0.05
HISTOGRAM_BINS = 20
MAX_CATEGORIES = 12
MAX_LENGTH_BINS = 30
SOURCE_COLOUR = "#4c78a8"
SYNTHETIC_COLOUR = "#f58518"


# ---------------------------------------------------------------------------------------------
# Findings and metrics
# ---------------------------------------------------------------------------------------------


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def table_findings(t: TableQuality) -> list[str]:
    """Every problem of one table, as a sentence naming the table; empty when clean."""
    found: list[str] = []
    if t.status == "Failed" or t.error:
        found.append(f"{t.table}: failed: {t.error or 'no error message'}")
    if t.duplicate_primary_keys:
        key = ", ".join(t.primary_key) or "the primary key"
        found.append(f"{t.table}: {_plural(t.duplicate_primary_keys, 'duplicate primary key')} ({key})")
    if t.foreign_key_orphans:
        refs = "; ".join(t.foreign_keys_checked) or "its references"
        found.append(f"{t.table}: {_plural(t.foreign_key_orphans, 'foreign key orphan')} ({refs})")
    if t.not_null_violations:
        found.append(f"{t.table}: {_plural(t.not_null_violations, 'NULL')} in REQUIRED columns")
    if t.type_violations:
        found.append(f"{t.table}: {_plural(t.type_violations, 'column')} with a type that differs from the plan")
    if t.columns_left_empty:
        found.append(f"{t.table}: NULL in every row although the source has values: {', '.join(t.columns_left_empty)}")
    privacy = t.privacy
    if privacy is not None:
        if privacy.identifying_values_leaked:
            columns = ", ".join(privacy.identifying_columns_checked) or "identifying columns"
            found.append(
                f"{t.table}: {_plural(privacy.identifying_values_leaked, 'identifying source value')} leaked "
                f"into the output (checked: {columns})"
            )
        if privacy.exact_row_copies:
            found.append(
                f"{t.table}: {_plural(privacy.exact_row_copies, 'synthetic row')} copy a source row "
                "(all non-key columns equal)"
            )
        if privacy.rare_categories_emitted:
            found.append(
                f"{t.table}: {_plural(privacy.rare_categories_emitted, 'category value')} emitted that the source "
                f"has fewer than {privacy.min_category_count} times"
            )
    if t.validity is not None and t.validity < VALIDITY_THRESHOLD:
        found.append(f"{t.table}: validity {t.validity:.1%} is below {VALIDITY_THRESHOLD:.0%}")
    if t.fidelity is not None:
        for column in t.fidelity.columns:
            if column.validity is not None and column.validity < VALIDITY_THRESHOLD:
                found.append(
                    f"{t.table}.{column.column}: only {column.validity:.1%} of values match {column.validity_rule}"
                )
        found += [f"{t.table}.{c.column}: {text_finding(c)}" for c in t.fidelity.columns if text_finding(c)]
    return found


def text_finding(column: ColumnQuality) -> str:
    """Why a text column does not look like its source, or "" when it does."""
    realism = column.text_realism
    if realism is None:
        return ""
    excess = 0.0 if realism.filler_allowed else realism.filler_synthetic - realism.filler_source
    low = realism.score < TEXT_REALISM_THRESHOLD
    if not low and excess <= FILLER_EXCESS_THRESHOLD:
        return ""
    score = f"text realism {realism.score:.2f}" + (f" is below {TEXT_REALISM_THRESHOLD:.2f}" if low else "")
    filler = f"; {realism.filler_synthetic:.0%} lorem filler (source {realism.filler_source:.0%})" if excess > 0 else ""
    return score + filler


def quality_findings(summary: RunSummary) -> list[str]:
    """Human sentences for every problem in the run; empty when everything is clean."""
    return [finding for t in summary.tables for finding in table_findings(t)]


def metric_name(table: str) -> str:
    """``quality_<table>`` with only letters, digits and underscores (KFP metric names)."""
    return "quality_" + re.sub(r"[^A-Za-z0-9_]", "_", table)


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(float(np.mean(present)), 6) if present else None


def headline_metrics(summary: RunSummary) -> dict[str, float]:
    """Numbers for a KFP Metrics artifact. Counts are always there (0 is news too); averages
    only when some table has them, since a metric must be a number, not None or NaN."""
    tables = summary.tables
    privacy = [t.privacy for t in tables if t.privacy is not None]
    qualities = {t.table: t.fidelity.quality_score for t in tables if t.fidelity is not None}
    metrics: dict[str, float | None] = {
        "quality_overall": _mean(qualities.values()),
        "quality_min": min((q for q in qualities.values() if q is not None), default=None),
        "validity": _mean(t.validity for t in tables),
        "tables": float(len(tables)),
        "tables_failed": float(sum(t.status == "Failed" for t in tables)),
        "foreign_key_orphans": float(sum(t.foreign_key_orphans for t in tables)),
        "duplicate_primary_keys": float(sum(t.duplicate_primary_keys for t in tables)),
        "not_null_violations": float(sum(t.not_null_violations for t in tables)),
        "type_violations": float(sum(t.type_violations for t in tables)),
        "identifying_values_leaked": float(sum(p.identifying_values_leaked for p in privacy)),
        "exact_row_copies": float(sum(p.exact_row_copies for p in privacy)),
        "rare_categories_emitted": float(sum(p.rare_categories_emitted for p in privacy)),
    }
    for table, score in qualities.items():
        metrics[metric_name(table)] = score
    return {name: float(value) for name, value in metrics.items() if value is not None}


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


_MARKDOWN_COLUMNS = (
    "table",
    "quality",
    "shapes",
    "pair trends",
    "text realism",
    "cardinality",
    "validity",
    "leaked",
    "row copies",
    "rare categories (k)",
    "DCR median / baseline",
)


def _markdown_cells(t: TableQuality) -> list[str]:
    f, p = t.fidelity, t.privacy
    cells = [_md_escape(t.table)]
    cells += (
        [
            _fmt(f.quality_score),
            _fmt(f.column_shapes),
            _fmt(f.column_pair_trends),
            _fmt(f.text_realism),
            _fmt(f.cardinality),
        ]
        if f
        else ["n/a"] * 5
    )
    cells.append(_fmt(t.validity))
    if p is None:
        return cells + ["n/a"] * 4
    return cells + [
        f"{p.identifying_values_leaked} ({len(p.identifying_columns_checked)} cols)",
        str(p.exact_row_copies),
        f"{p.rare_categories_emitted} ({p.min_category_count})",
        f"{_fmt(p.dcr_median)} / {_fmt(p.dcr_baseline_median)}",
    ]


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _scored_text(t: TableQuality) -> list[tuple[ColumnQuality, TextRealism]]:
    """The table's text columns with their text realism, in schema order."""
    columns = t.fidelity.columns if t.fidelity is not None else []
    return [(c, r) for c in columns if (r := c.text_realism) is not None]


def _text_realism_markdown(summary: RunSummary) -> list[str]:
    """One line per scored text column: its score and the similarities it is made of."""
    rows = [(t.table, c, r) for t in summary.tables for c, r in _scored_text(t)]
    if not rows:
        return []
    lines = [
        "### Text realism",
        "",
        "How text drawn fresh looks next to its source: value length, word count, case pattern and "
        "character classes compared, less the share of lorem filler beyond the source's.",
        "",
        "| table | column | semantic type | score | length | words | case | classes | filler source / synthetic |",
        "|" + "---|" * 9,
    ]
    for table, c, r in rows:
        filler = f"{r.filler_source:.1%} / {r.filler_synthetic:.1%}" + (" (allowed)" if r.filler_allowed else "")
        cells = [_md_escape(table), _md_escape(c.column), _md_escape(c.semantic_type)]
        cells += [_fmt(v) for v in (r.score, r.length, r.words, r.case, r.classes)] + [filler]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def render_quality_markdown(summary: RunSummary) -> str:
    """A ``## Quality`` section: one line per table, then the findings (or that there are none)."""
    lines = ["## Quality", ""]
    lines.append("| " + " | ".join(_MARKDOWN_COLUMNS) + " |")
    lines.append("|" + "---|" * len(_MARKDOWN_COLUMNS))
    lines += ["| " + " | ".join(_markdown_cells(t)) + " |" for t in summary.tables]
    lines += [
        "",
        "Scores are 0..1, higher is closer to the source sample (SDMetrics). Counts should be 0. "
        "A DCR median well below its baseline means synthetic rows sit closer to real rows than new real rows do.",
        "",
    ]
    lines += _text_realism_markdown(summary)
    lines += [
        "### Findings",
        "",
    ]
    findings = quality_findings(summary)
    lines += [f"- {_md_escape(f)}" for f in findings] if findings else ["No problems found."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# SVG plots
# ---------------------------------------------------------------------------------------------

_PLOT_WIDTH, _PLOT_HEIGHT = 380, 210
_LEFT, _RIGHT, _TOP, _BOTTOM = 40, 10, 28, 58


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def bars_svg(
    title: str, labels: Sequence[str], source: Sequence[float], synthetic: Sequence[float], note: str = ""
) -> str:
    """Grouped bars of two share vectors (source blue, synthetic orange), one group per label.

    With many labels (histogram bins) only the first and last are written under the axis.
    """
    width, height = _PLOT_WIDTH - _LEFT - _RIGHT, _PLOT_HEIGHT - _TOP - _BOTTOM
    top = max([*source, *synthetic, 1e-9])
    group = width / max(len(labels), 1)
    bar = group * 0.4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_PLOT_WIDTH}" height="{_PLOT_HEIGHT}" '
        f'viewBox="0 0 {_PLOT_WIDTH} {_PLOT_HEIGHT}" role="img" aria-label="{_e(title)}">',
        f"<title>{_e(title)}</title>",
        f'<text x="{_LEFT}" y="14" class="t">{_e(title[:60])}</text>',
        f'<line x1="{_LEFT}" y1="{_TOP + height}" x2="{_LEFT + width}" y2="{_TOP + height}" stroke="#999"/>',
        f'<text x="{_LEFT - 4}" y="{_TOP + 8}" class="a" text-anchor="end">{top:.0%}</text>',
    ]
    for i, (real, fake) in enumerate(zip(source, synthetic, strict=True)):
        x = _LEFT + i * group + group * 0.1
        for offset, share, colour in ((0.0, real, SOURCE_COLOUR), (bar, fake, SYNTHETIC_COLOUR)):
            h = height * share / top
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{_TOP + height - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{_e(labels[i])}: {share:.1%}</title></rect>'
            )
    if len(labels) <= MAX_CATEGORIES + 1:
        for i, label in enumerate(labels):
            x, y = _LEFT + (i + 0.5) * group, _TOP + height + 10
            parts.append(
                f'<text x="{x:.1f}" y="{y}" class="a" text-anchor="end" '
                f'transform="rotate(-35 {x:.1f} {y})">{_e(_clipped_label(label))}</text>'
            )
    elif labels:
        y = _TOP + height + 14
        parts.append(f'<text x="{_LEFT}" y="{y}" class="a">{_e(labels[0])}</text>')
        parts.append(f'<text x="{_LEFT + width}" y="{y}" class="a" text-anchor="end">{_e(labels[-1])}</text>')
    if note:
        parts.append(f'<text x="{_LEFT}" y="{_PLOT_HEIGHT - 4}" class="a">{_e(note)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _clipped_label(label: str, limit: int = 14) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return [float(c) / total if total else 0.0 for c in counts]


def _histogram(source: np.ndarray, synthetic: np.ndarray, bins: int) -> tuple[np.ndarray, list[float], list[float]]:
    # The outer 0.5% on each side are folded into the end bins: one outlier (a 12,000 amount
    # among tens) would otherwise squeeze every other value into a single bar.
    low, high = (float(q) for q in np.quantile(np.concatenate([source, synthetic]), [0.005, 0.995]))
    if high <= low:
        high = low + 1.0
    edges = np.linspace(low, high, bins + 1)
    real, fake = np.clip(source, low, high), np.clip(synthetic, low, high)
    return edges, _shares(np.histogram(real, edges)[0]), _shares(np.histogram(fake, edges)[0])


def _edge_label(value: float, column: LeafColumn) -> str:
    if column.sdtype == "datetime":
        moment = pd.Timestamp(value, unit="s")
        return moment.strftime("%H:%M") if column.column_type == "TIME" else moment.strftime("%Y-%m-%d")
    return f"{value:.4g}"


def _numeric_plot(title: str, source: pd.Series, synthetic: pd.Series, column: LeafColumn, note: str) -> str | None:
    if column.sdtype == "datetime":
        real = (as_datetimes(source, column.column_type) - pd.Timestamp(0)).dt.total_seconds()
        fake = (as_datetimes(synthetic, column.column_type) - pd.Timestamp(0)).dt.total_seconds()
    else:
        real, fake = as_numbers(source), as_numbers(synthetic)
    real_values = real.to_numpy(dtype="float64", na_value=np.nan)
    fake_values = fake.to_numpy(dtype="float64", na_value=np.nan)
    real_values, fake_values = real_values[np.isfinite(real_values)], fake_values[np.isfinite(fake_values)]
    if not len(real_values) or not len(fake_values):
        return None
    edges, real_shares, fake_shares = _histogram(real_values, fake_values, HISTOGRAM_BINS)
    labels = [_edge_label(edge, column) for edge in edges[:-1]]
    labels[-1] = _edge_label(edges[-1], column)
    return bars_svg(title, labels, real_shares, fake_shares, note)


def _category_plot(
    title: str, source: pd.Series, synthetic: pd.Series, column: LeafColumn, min_count: int, note: str
) -> str | None:
    real = as_canonical(source, column.column_type).dropna()
    fake = as_canonical(synthetic, column.column_type).dropna()
    if real.empty or fake.empty:
        return None
    counts = real.value_counts()
    # A category seen fewer than k times in the source is never named in the report either.
    shown = [value for value, n in counts.items() if n >= min_count][:MAX_CATEGORIES]
    labels = [*map(str, shown), "(other)"]
    real_counts = np.array([counts.get(v, 0) for v in shown] + [int((~real.isin(shown)).sum())], dtype=float)
    fake_counts = fake.value_counts()
    synthetic_counts = np.array([fake_counts.get(v, 0) for v in shown] + [int((~fake.isin(shown)).sum())], dtype=float)
    if real_counts[-1] == 0 and synthetic_counts[-1] == 0:
        labels, real_counts, synthetic_counts = labels[:-1], real_counts[:-1], synthetic_counts[:-1]
    return bars_svg(title, labels, _shares(real_counts), _shares(synthetic_counts), note)


def _length_plot(title: str, source: pd.Series, synthetic: pd.Series, note: str) -> str | None:
    """Identifiers, names, free text and keys: their value lengths, never their values."""
    real = np.array([len(str(v)) for v in source[~is_null(source)]], dtype=float)
    fake = np.array([len(str(v)) for v in synthetic[~is_null(synthetic)]], dtype=float)
    if not len(real) or not len(fake):
        return None
    low, high = int(min(real.min(), fake.min())), int(max(real.max(), fake.max()))
    bins = max(1, min(high - low + 1, MAX_LENGTH_BINS))
    edges = np.linspace(low, high + 1, bins + 1)
    labels = [str(int(e)) for e in edges[:-1]]
    return bars_svg(
        f"{title} (value length)",
        labels,
        _shares(np.histogram(real, edges)[0]),
        _shares(np.histogram(fake, edges)[0]),
        note,
    )


def _signatures(values: pd.Series) -> Counter[tuple[int, str]]:
    """How many values have each (word count, case pattern): what a value looks like, never the value."""
    return Counter((s.words, s.case) for s in map(text_signature, text_values(values)))


def _signature_label(words: int, case: str) -> str:
    return f"{words}{'+' if words >= MAX_SIGNATURE_WORDS else ''}w {case}"


def text_plot(column: LeafColumn, source: pd.Series, synthetic: pd.Series) -> str | None:
    """Bars of the two columns' signatures (word count and case pattern), the most common of
    both sides ordered by word count; None when a side has no text. A title column of lorem
    sentences shows its bars far to the right of the source's ("7w Sentence" after "3w Title")."""
    real, fake = _signatures(source), _signatures(synthetic)
    if not real or not fake:
        return None
    shown = sorted(key for key, _ in (real + fake).most_common(MAX_CATEGORIES))
    real_counts = [real[key] for key in shown] + [sum(n for k, n in real.items() if k not in shown)]
    fake_counts = [fake[key] for key in shown] + [sum(n for k, n in fake.items() if k not in shown)]
    labels = [*(_signature_label(*key) for key in shown), "(other)"]
    if real_counts[-1] == 0 and fake_counts[-1] == 0:
        labels, real_counts, fake_counts = labels[:-1], real_counts[:-1], fake_counts[:-1]
    filler = f"lorem filler: source {_filler_share(source):.1%}, synthetic {_filler_share(synthetic):.1%}"
    return bars_svg(
        f"{column.path} (words, case)",
        labels,
        _shares(np.array(real_counts, dtype=float)),
        _shares(np.array(fake_counts, dtype=float)),
        filler,
    )


def _filler_share(values: pd.Series) -> float:
    texts = text_values(values)
    return sum(text_signature(t).filler for t in texts) / len(texts) if texts else 0.0


def _null_share(values: pd.Series) -> float:
    return float(is_null(values).mean()) if len(values) else 0.0


def column_plot(column: LeafColumn, source: pd.Series, synthetic: pd.Series, min_count: int = 1) -> str | None:
    """An SVG of the column's source vs synthetic distribution; None when a side has no values."""
    note = f"null: source {_null_share(source):.1%}, synthetic {_null_share(synthetic):.1%}"
    if column.sdtype in ("numerical", "datetime"):
        return _numeric_plot(column.path, source, synthetic, column, note)
    if column.sdtype in ("categorical", "boolean"):
        return _category_plot(column.path, source, synthetic, column, max(min_count, 1), note)
    return _length_plot(column.path, source, synthetic, note)


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1250px}
h1{font-size:1.5em}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:1.05em}
table{border-collapse:collapse;margin:8px 0;font-size:.9em}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.finding{color:#b00020;font-weight:600}.ok{color:#1b7f3b;font-weight:600}
.grid{display:flex;flex-wrap:wrap;gap:8px}.grid svg{border:1px solid #eee;background:#fff}
svg .t{font-size:12px;font-weight:600}svg .a{font-size:9px;fill:#555}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}.muted{color:#777}
"""


def _kv_table(rows: Sequence[tuple[str, object]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _findings_html(findings: Sequence[str]) -> str:
    if not findings:
        return '<p class="ok">No problems found.</p>'
    return "<ul>" + "".join(f'<li class="finding">{_e(f)}</li>' for f in findings) + "</ul>"


def _columns_table(t: TableQuality) -> str:
    if t.fidelity is None or not t.fidelity.columns:
        return ""
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "column",
            "semantic type",
            "metric",
            "shape",
            "text",
            "validity rule",
            "valid",
            "null src",
            "null syn",
        )
    )
    rows = []
    for c in t.fidelity.columns:
        bad = c.validity is not None and c.validity < VALIDITY_THRESHOLD
        cells = [
            _e(c.column),
            _e(c.semantic_type),
            _e(c.shape_metric or "—"),
            _num(c.shape_score),
            _text_cell(c),
            _e(c.validity_rule or "—"),
            f'<span class="finding">{_num(c.validity)}</span>' if bad else _num(c.validity),
            _num(c.null_rate_source),
            _num(c.null_rate_synthetic),
        ]
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _text_cell(column: ColumnQuality) -> str:
    if column.text_realism is None:
        return _num(None)
    score = _num(column.text_realism.score)
    return f'<span class="finding">{score}</span>' if text_finding(column) else score


def _text_realism_html(
    t: TableQuality, sample: tuple[pd.DataFrame, pd.DataFrame] | None, plan: TablePlan | None
) -> str:
    """The text columns' scores, what they are made of, and a plot of each column's signatures."""
    scored = _scored_text(t)
    if not scored:
        return '<p class="muted">No text column drawn fresh to score.</p>'
    head = "".join(
        f"<th>{h}</th>"
        for h in ("column", "semantic type", "score", "length", "words", "case", "classes", "filler src", "filler syn")
    )
    rows = []
    for c, r in scored:
        filler = _num(r.filler_synthetic) + (' <span class="muted">(allowed)</span>' if r.filler_allowed else "")
        cells = [_e(c.column), _e(c.semantic_type), _text_cell(c)]
        cells += [_num(v) for v in (r.length, r.words, r.case, r.classes, r.filler_source)] + [filler]
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    table = f"<table><tr>{head}</tr>{''.join(rows)}</table>"
    if sample is None or plan is None:
        return table
    source, synthetic = bounded(sample[0], MAX_ROWS), bounded(sample[1], MAX_ROWS)
    names = {c.column for c, _ in scored}
    plots = [
        text_plot(column, source[column.path], synthetic[column.path])
        for column in quality_leaf_columns(plan)
        if column.path in names
        and is_text_column(column)
        and column.path in source.columns
        and column.path in synthetic.columns
    ]
    return table + '<div class="grid">' + "".join(svg for svg in plots if svg) + "</div>"


def _plots_html(t: TableQuality, sample: tuple[pd.DataFrame, pd.DataFrame] | None, plan: TablePlan | None) -> str:
    if sample is None or plan is None:
        return '<p class="muted">No samples to plot.</p>'
    source, synthetic = bounded(sample[0], MAX_ROWS), bounded(sample[1], MAX_ROWS)
    k = t.privacy.min_category_count if t.privacy is not None else 1
    plots = []
    for column in quality_leaf_columns(plan):
        if column.path not in source.columns or column.path not in synthetic.columns:
            continue
        svg = column_plot(column, source[column.path], synthetic[column.path], k)
        plots.append(svg or f'<p class="muted">{_e(column.path)}: no values to plot</p>')
    if not plots:
        return '<p class="muted">No columns to plot.</p>'
    legend = (
        f'<p class="legend"><span style="background:{SOURCE_COLOUR}"></span>source sample'
        f'<span style="background:{SYNTHETIC_COLOUR}"></span>synthetic sample (share of non-null values)</p>'
    )
    return legend + '<div class="grid">' + "".join(plots) + "</div>"


def _table_section(t: TableQuality, sample: tuple[pd.DataFrame, pd.DataFrame] | None, plan: TablePlan | None) -> str:
    f, p = t.fidelity, t.privacy
    integrity = _kv_table(
        [
            ("status", t.status),
            (
                "rows requested / generated / loaded / in target",
                f"{t.rows_requested} / {t.rows_generated} / {t.rows_loaded} / {t.rows_in_target}",
            ),
            ("duplicate primary keys", t.duplicate_primary_keys),
            ("foreign key orphans", t.foreign_key_orphans),
            ("NULLs in REQUIRED columns", t.not_null_violations),
            ("type violations", t.type_violations),
            ("keys checked", keys_checked(t)),
            ("seconds", f"{t.seconds:.1f}"),
        ]
    )
    fidelity = (
        _kv_table(
            [
                ("quality score", _num(f.quality_score)),
                ("column shapes", _num(f.column_shapes)),
                ("column pair trends", _num(f.column_pair_trends)),
                ("text realism", _num(f.text_realism)),
                ("cardinality (children per parent)", _num(f.cardinality)),
                ("rows compared (source / synthetic)", f"{f.source_rows} / {f.synthetic_rows}"),
            ]
        )
        if f
        else '<p class="muted">Not computed.</p>'
    )
    privacy = (
        _kv_table(
            [
                ("identifying values leaked", p.identifying_values_leaked),
                ("identifying columns checked", ", ".join(p.identifying_columns_checked) or "none"),
                ("public columns (kept as observed, not checked)", ", ".join(p.public_columns) or "none"),
                ("exact row copies", p.exact_row_copies),
                (f"rare categories emitted (k = {p.min_category_count})", p.rare_categories_emitted),
                ("DCR median / 5th percentile", f"{_num(p.dcr_median)} / {_num(p.dcr_p05)}"),
                ("DCR baseline median (held-out source rows)", _num(p.dcr_baseline_median)),
            ]
        )
        if p
        else '<p class="muted">Not computed.</p>'
    )
    return (
        f'<section id="{_e(t.table)}"><h2>{_e(t.table)} <span class="muted">→ {_e(t.target_table)}</span></h2>'
        f"{_findings_html(table_findings(t))}"
        f'<div class="grid"><div><h3>Integrity</h3>{integrity}</div><div><h3>Fidelity</h3>{fidelity}</div>'
        f"<div><h3>Privacy</h3>{privacy}</div>"
        f"<div><h3>Validity</h3>{_kv_table([('share of values in format', _num(t.validity))])}</div></div>"
        f"<h3>Columns</h3>{_columns_table(t)}<h3>Distributions</h3>{_plots_html(t, sample, plan)}"
        f"<h3>Text realism</h3>{_text_realism_html(t, sample, plan)}</section>"
    )


def _keys_html(summary: RunSummary) -> str:
    items = "".join(f"<li>{_e(line.removeprefix('- '))}</li>" for line in key_lines(summary))
    return f"<details><summary>every key and reference, with its evidence</summary><ul>{items}</ul></details>"


def _disclosures_html(summary: RunSummary) -> str:
    first, _, *listed = disclosure_lines(summary.disclosures)
    items = "".join(f"<li>{_e(line.removeprefix('- '))}</li>" for line in listed)
    return f"<p>{_e(first)}</p>" + (f"<ul>{items}</ul>" if items else "")


def render_html(
    summary: RunSummary,
    samples: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]],
    plans: Mapping[str, TablePlan],
) -> str:
    """The whole report as one offline HTML page; ``samples`` maps table name -> (source, synthetic)."""
    metrics = headline_metrics(summary)
    # Counts read better as integers; scores keep three decimals.
    headline = _kv_table(
        [
            (name, _num(value) if name == "validity" or name.startswith("quality_") else int(value))
            for name, value in metrics.items()
        ]
    )
    findings = quality_findings(summary)
    toc = " · ".join(f'<a href="#{_e(t.table)}">{_e(t.table)}</a>' for t in summary.tables)
    sections = "".join(_table_section(t, samples.get(t.table), plans.get(t.table)) for t in summary.tables)
    return (
        "<!DOCTYPE html>"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>bqsynth quality: batch {_e(summary.batch_id)}</title><style>{_CSS}</style></head><body>"
        f"<h1>bqsynth quality report: batch <code>{_e(summary.batch_id)}</code></h1>"
        f"<p>{_e(planner_line(summary))}; {len(summary.tables)} tables in {summary.seconds:.1f} s. "
        "Scores are 0..1, higher is closer to the source sample (SDMetrics); counts should be 0. "
        "Quality is the mean of column shapes, pair trends and text realism (how text drawn fresh looks: "
        "length, words, case, characters and lorem filler against the source's). "
        "A DCR median well below its baseline means synthetic rows sit closer to real rows than new real rows do.</p>"
        f"<h2>Headline</h2>{headline}<h3>Findings</h3>{_findings_html(findings)}"
        f"<h2>Keys and relationships</h2><p>{_e(key_counts(summary))}</p>{_keys_html(summary)}"
        f"<h2>Public and private columns</h2>{_disclosures_html(summary)}"
        f"<p>{toc}</p>{sections}"
        "</body></html>"
    )


# ---------------------------------------------------------------------------------------------
# Terminal
# ---------------------------------------------------------------------------------------------


QUALITY_HEADINGS = (
    "table",
    "quality",
    "shapes",
    "pairs",
    "text",
    "parents",
    "valid",
    "leaked",
    "copies",
    "rare",
    "DCR (held out)",
    "NULL/type",
)


def _percent_cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def quality_cells(t: TableQuality) -> list[str]:
    f, p = t.fidelity, t.privacy
    dcr = "-"
    if p and p.dcr_median is not None:
        baseline = f"{p.dcr_baseline_median:.3f}" if p.dcr_baseline_median is not None else "-"
        dcr = f"{p.dcr_median:.3f} ({baseline})"
    return [
        t.table,
        _percent_cell(f.quality_score if f else None),
        _percent_cell(f.column_shapes if f else None),
        _percent_cell(f.column_pair_trends if f else None),
        _percent_cell(f.text_realism if f else None),
        _percent_cell(f.cardinality if f else None),
        _percent_cell(t.validity),
        str(p.identifying_values_leaked) if p else "-",
        str(p.exact_row_copies) if p else "-",
        str(p.rare_categories_emitted) if p else "-",
        dcr,
        f"{t.not_null_violations}/{t.type_violations}",
    ]


def quality_table(summary: RunSummary) -> Table:
    """Fidelity, privacy and validity per evaluated table (quality = mean of shapes, pairs and text realism)."""
    table = Table(
        title="quality: synthetic vs source samples (SDMetrics; text = text realism; "
        "parents = children-per-parent shape)",
        caption="leaked = identifying values found in the source; copies = rows equal to a source row; "
        "rare = categories seen < k times; DCR = median distance to the closest source record",
    )
    for name in QUALITY_HEADINGS:
        table.add_column(name, justify="left" if name == "table" else "right")
    for quality in summary.tables:
        if quality.fidelity is not None or quality.privacy is not None:
            table.add_row(*quality_cells(quality), style="green" if quality.ok else "red")
    return table


def print_quality(summary: RunSummary, console: Console | None = None) -> None:
    """The quality table and every finding, after the run summary (``run_summary.print_summary``)."""
    console = console or Console(width=150)
    console.print(quality_table(summary))
    for finding in quality_findings(summary):
        console.print(f"[red]{finding}[/red]")
