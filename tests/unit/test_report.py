"""The run summary as users read it."""

import io

from rich.console import Console

from bqsynth.evaluation.quality_report import render_html
from bqsynth.evaluation.run_summary import print_summary, render_markdown
from bqsynth.models import KeyChoice, Relationship, RunSummary, TableQuality


def quality(table: str, **overrides: object) -> TableQuality:
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
        foreign_keys_checked=["customer_id -> Customer.id"],
        status="Completed",
        seconds=1.25,
    )
    values.update(overrides)
    return TableQuality(**values)


def test_markdown_lists_counts_keys_checked_and_errors() -> None:
    summary = RunSummary(
        batch_id="b1",
        seconds=2.0,
        tables=[quality("Orders"), quality("Lines", status="Failed", error="Lines: load refused", rows_loaded=0)],
    )
    text = render_markdown(summary)
    assert "| Orders | Completed | 10 | 10 | 10 | 10 | 1 | 0 | 0 | 1.2 |" in text
    assert "- Orders: primary key (id); references: customer_id -> Customer.id" in text
    assert "- Lines: Lines: load refused" in text
    assert "planned by offline" in text
    assert not summary.ok


def test_model_tokens_and_fallbacks_are_reported() -> None:
    summary = RunSummary(
        batch_id="b3",
        seconds=1.0,
        tables=[quality("Orders")],
        engine="gemini:gemini-2.5-flash",
        llm_tokens_used=1234,
        llm_fallbacks={"Orders": "invalid JSON after 2 repairs"},
    )
    assert (
        "planned by gemini:gemini-2.5-flash, 1234 tokens; planned offline instead: Orders: invalid JSON after 2 repairs"
    ) in render_markdown(summary)


def test_terminal_summary_shows_every_table() -> None:
    out = io.StringIO()
    print_summary(
        RunSummary(batch_id="b2", seconds=1.0, tables=[quality("Orders", foreign_key_orphans=3)]),
        Console(file=out, width=150),
    )
    assert "Orders" in out.getvalue() and "b2" in out.getvalue()


def orders_to_customer(column: str, confidence: float, evidence: str) -> Relationship:
    return Relationship(
        child_table="Orders",
        child_columns=[column],
        parent_table="Customer",
        parent_columns=["id"],
        origin="inferred",
        confidence=confidence,
        evidence=evidence,
    )


def test_keys_and_relationships_are_counted_and_listed_with_their_evidence() -> None:
    summary = RunSummary(
        batch_id="b4",
        seconds=1.0,
        tables=[quality("Orders"), quality("Customer")],
        primary_keys=[
            KeyChoice(table="Customer", columns=["id"], origin="declared", evidence="declared PRIMARY KEY"),
            KeyChoice(table="Orders", columns=["o_id"], origin="inferred", confidence=0.95, evidence="unique (exact)"),
        ],
        relationships=[orders_to_customer("cust", 0.8, "'cust' abbreviates 'customer'")],
        rejected_relationships=[orders_to_customer("total", 0.0, "rejected: below 90% inclusion")],
    )
    text = render_markdown(summary)
    assert "primary keys: 1 declared, 1 inferred; references: 0 declared, 1 inferred, 1 rejected" in text
    assert "- Orders(cust) -> Customer(id): inferred, confidence 0.8: 'cust' abbreviates 'customer'" in text
    assert "- rejected Orders(total) -> Customer(id): rejected: below 90% inclusion" in text
    html = render_html(summary, {}, {})
    assert "Keys and relationships" in html and "Orders(cust) -&gt; Customer(id)" in html
