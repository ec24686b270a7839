"""The quality report as users read it: findings, headline metrics, Markdown and HTML."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import pandas as pd
import pytest
from rich.console import Console

from bqsynth.evaluation import metrics
from bqsynth.evaluation.quality_report import (
    bars_svg,
    column_plot,
    headline_metrics,
    metric_name,
    print_quality,
    quality_findings,
    render_html,
    render_quality_markdown,
)
from bqsynth.models import ColumnQuality, RunSummary, TableFidelity, TablePrivacy, TableQuality
from tests.unit.test_quality import customer_frame, customer_plan


def table_quality(table: str, **overrides: object) -> TableQuality:
    values: dict = dict(
        table=table,
        target_table=f"p.d.{table}",
        rows_requested=10,
        rows_generated=10,
        rows_loaded=10,
        rows_in_target=10,
        duplicate_primary_keys=0,
        foreign_key_orphans=0,
        primary_key=["id"],
        foreign_keys_checked=["branch_id -> branch.id"],
        fidelity=TableFidelity(quality_score=0.9, column_shapes=0.95, column_pair_trends=0.85, cardinality=0.8),
        privacy=TablePrivacy(min_category_count=5, identifying_columns_checked=["email"], dcr_median=0.2),
        validity=1.0,
        status="Completed",
        seconds=1.5,
    )
    values.update(overrides)
    return TableQuality(**values)


def summary(*tables: TableQuality) -> RunSummary:
    return RunSummary(batch_id="b-1", seconds=12.0, tables=list(tables))


# --- findings --------------------------------------------------------------------------------


def test_a_clean_run_has_no_findings() -> None:
    assert quality_findings(summary(table_quality("customer"), table_quality("branch"))) == []


def test_findings_name_every_problem() -> None:
    broken = table_quality(
        "customer",
        duplicate_primary_keys=2,
        foreign_key_orphans=7,
        not_null_violations=1,
        type_violations=3,
        validity=0.5,
        privacy=TablePrivacy(
            identifying_values_leaked=4,
            identifying_columns_checked=["email", "phone"],
            exact_row_copies=1,
            rare_categories_emitted=2,
            min_category_count=5,
        ),
        fidelity=TableFidelity(columns=[ColumnQuality(column="phone", validity_rule="pattern:###-####", validity=0.5)]),
    )
    failed = table_quality("branch", status="Failed", error="load refused")
    findings = quality_findings(summary(broken, failed))
    text = "\n".join(findings)
    assert "customer: 2 duplicate primary keys (id)" in text
    assert "customer: 7 foreign key orphans (branch_id -> branch.id)" in text
    assert "customer: 1 NULL in REQUIRED columns" in text
    assert "customer: 3 columns with a type that differs from the plan" in text
    assert "customer: 4 identifying source values leaked into the output (checked: email, phone)" in text
    assert "customer: 1 synthetic row copy a source row" in text
    assert "customer: 2 category values emitted that the source has fewer than 5 times" in text
    assert "customer: validity 50.0% is below 95%" in text
    assert "customer.phone: only 50.0% of values match pattern:###-####" in text
    assert "branch: failed: load refused" in text
    assert len(findings) == 10


def test_computed_privacy_of_a_leaky_output_becomes_a_finding() -> None:
    """End to end: a copied source email and a copied row end up as findings."""
    plan, source = customer_plan(), customer_frame(seed=1)
    synthetic = customer_frame(seed=2, id_start=5000)
    synthetic.loc[0, "email"] = source.loc[0, "email"]
    copied = source.iloc[[4]].assign(id=9999)
    synthetic = pd.concat([synthetic, copied], ignore_index=True)
    leaked = metrics.leaked_values(source["email"], synthetic["email"])
    privacy = metrics.privacy_scores(
        source,
        synthetic,
        plan,
        leaked_values=leaked,
        identifying_columns=["email"],
        source_value_counts={},
        min_category_count=5,
    )
    fidelity = metrics.fidelity_scores(source, synthetic, plan)
    result = table_quality(
        "customer", privacy=privacy, fidelity=fidelity, validity=metrics.table_validity(fidelity.columns)
    )
    findings = quality_findings(summary(result))
    assert result.validity == 1.0  # a copied email is well-formed: validity cannot see it
    assert any("2 identifying source values leaked" in f for f in findings)  # the copied row's email too
    assert any("1 synthetic row copy a source row" in f for f in findings)


# --- metrics and Markdown --------------------------------------------------------------------


def test_headline_metrics() -> None:
    metrics = headline_metrics(
        summary(
            table_quality("customer", foreign_key_orphans=3, validity=0.9),
            table_quality(
                "order-lines",
                duplicate_primary_keys=1,
                fidelity=TableFidelity(quality_score=0.7),
                privacy=TablePrivacy(identifying_values_leaked=2, exact_row_copies=4, rare_categories_emitted=1),
                validity=0.8,
            ),
            table_quality("failed", status="Failed", fidelity=None, privacy=None, validity=None),
        )
    )
    assert metrics == {
        "quality_overall": pytest.approx(0.8),
        "quality_min": 0.7,
        "validity": pytest.approx(0.85),
        "tables": 3.0,
        "tables_failed": 1.0,
        "foreign_key_orphans": 3.0,
        "duplicate_primary_keys": 1.0,
        "not_null_violations": 0.0,
        "type_violations": 0.0,
        "identifying_values_leaked": 2.0,
        "exact_row_copies": 4.0,
        "rare_categories_emitted": 1.0,
        "quality_customer": 0.9,
        "quality_order_lines": 0.7,
    }
    assert all(isinstance(v, float) for v in metrics.values())


def test_headline_metrics_leave_out_averages_nobody_computed() -> None:
    metrics = headline_metrics(summary(table_quality("t", fidelity=None, privacy=None, validity=None)))
    assert "quality_overall" not in metrics and "validity" not in metrics and "quality_t" not in metrics
    assert metrics["foreign_key_orphans"] == 0.0
    assert metric_name("Sales.Order Lines") == "quality_Sales_Order_Lines"


def test_markdown_has_a_line_per_table_and_the_findings() -> None:
    clean = render_quality_markdown(summary(table_quality("customer")))
    assert clean.startswith("## Quality\n")
    assert "| customer | 0.900 | 0.950 | 0.850 | n/a | 0.800 | 1.000 | 0 (1 cols) | 0 | 0 (5) | 0.200 / n/a |" in clean
    assert "No problems found." in clean
    broken = render_quality_markdown(summary(table_quality("a|b", foreign_key_orphans=2, fidelity=None)))
    assert "| a\\|b | n/a | n/a | n/a | n/a | n/a | 1.000 |" in broken
    assert "- a\\|b: 2 foreign key orphans" in broken


# --- HTML ------------------------------------------------------------------------------------


class _Parsed(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:  # noqa: ANN001
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def page() -> str:
    plan = customer_plan()
    source, synthetic = customer_frame(seed=1), customer_frame(seed=2)
    # Untrusted data: a frequent category that is markup, and a rare one that must not be named.
    source.loc[:99, "segment"] = "<script>alert('x')</script>"
    source.loc[100:101, "segment"] = "RareSecretValue"
    synthetic.loc[:99, "segment"] = "<script>alert('x')</script>"
    fidelity = metrics.fidelity_scores(source, synthetic, plan)
    privacy = metrics.privacy_scores(
        source,
        synthetic,
        plan,
        leaked_values=1,
        identifying_columns=["email"],
        source_value_counts={},
        min_category_count=5,
    )
    tables = [
        table_quality("customer", fidelity=fidelity, privacy=privacy, foreign_key_orphans=2),
        table_quality("<b>branch</b>", status="Failed", error="<img src=x onerror=alert(1)>", fidelity=None),
    ]
    return render_html(summary(*tables), {"customer": (source, synthetic)}, {"customer": plan})


def test_html_is_one_offline_page_without_scripts(page: str) -> None:
    parsed = _Parsed()
    parsed.feed(page)
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    assert "script" not in parsed.tags and "img" not in parsed.tags and "b" not in parsed.tags
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched from the network
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_html_shows_headline_sections_findings_and_a_plot_per_column(page: str) -> None:
    assert "bqsynth quality report: batch <code>b-1</code>" in page
    assert "quality_overall" in page and "foreign_key_orphans" in page
    assert '<section id="customer">' in page and '<section id="&lt;b&gt;branch&lt;/b&gt;">' in page
    assert '<li class="finding">customer: 2 foreign key orphans' in page
    assert '<li class="finding">customer: 1 identifying source value leaked' in page
    plotted = [c for c in metrics.quality_leaf_columns(customer_plan())]
    text = [c for c in plotted if metrics.is_text_column(c)]  # a second plot: their signatures
    assert [c.path for c in text] == ["email", "phone", "postal_code", "address.city", "address.state"]
    assert page.count("<svg") == len(plotted) + len(text)
    assert "email (value length)" in page  # identifying columns: lengths only


def test_html_never_shows_identifying_values_or_rare_categories(page: str) -> None:
    source = customer_frame(seed=1)
    assert source.loc[0, "email"] not in page and source.loc[0, "address.city"] not in page
    assert "RareSecretValue" not in page
    assert "(other)" in page


def test_html_without_samples_still_renders() -> None:
    page = render_html(summary(table_quality("customer")), {}, {})
    assert "No samples to plot." in page and "<svg" not in page


def test_bars_svg_draws_two_bars_per_label_and_escapes() -> None:
    svg = bars_svg("a<b", ["x&y", "z"], [0.5, 0.5], [1.0, 0.0], note="null: 0%")
    assert svg.count("<rect") == 4
    assert "a&lt;b" in svg and "x&amp;y" in svg and "null: 0%" in svg


def test_numeric_and_datetime_plots_are_histograms_with_readable_ends() -> None:
    columns = {c.path: c for c in metrics.quality_leaf_columns(customer_plan())}
    amounts = pd.Series([float(v) for v in range(1, 1000)] + [1e9])  # one outlier
    svg = column_plot(columns["balance"], amounts, amounts)
    assert svg is not None and svg.count("<rect") == 2 * 20
    assert ">1e+09<" not in svg  # folded into the last bin, not stretching the axis
    dates = pd.Series(["2020-01-01", "2021-06-30", None])
    svg = column_plot(columns["signup"], dates, dates)
    assert svg is not None and ">2020-01-01<" in svg and "null: source 33.3%, synthetic 33.3%" in svg
    assert column_plot(columns["age"], pd.Series([None]), amounts) is None


def test_terminal_quality_table_shows_scores_and_findings() -> None:
    leaky = table_quality(
        "Orders",
        fidelity=TableFidelity(quality_score=0.912, column_shapes=0.95),
        privacy=TablePrivacy(identifying_values_leaked=2, dcr_median=0.1, dcr_baseline_median=0.12),
    )
    out = io.StringIO()
    print_quality(summary(leaky), Console(file=out, width=200))
    text = out.getvalue()
    assert "91.2%" in text and "95.0%" in text and "0.100 (0.120)" in text
    assert "Orders" in text and "leak" in text.lower()
