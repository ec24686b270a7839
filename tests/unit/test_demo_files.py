"""The demo's delimited feeds: deterministic, well-formed, and referencing the demo tables."""

from demo.feeds import demo_files
from demo.warehouse import build_demo_tables


def test_demo_files_are_deterministic_and_reference_demo_keys() -> None:
    tables = build_demo_tables(seed=42)
    files = demo_files(tables, seed=42)
    assert files == demo_files(build_demo_tables(seed=42), seed=42)
    assert files != demo_files(tables, seed=7)

    targets = files["feeds/targets/Branch_Targets.psv"].decode().splitlines()
    assert targets[0] == "HDR|20241231|ACME BANK"
    assert targets[-1] == f"TRL|{len(targets) - 2:07d}"  # the trailer counts the data lines
    branch_ids = {row["branch_id"] for row in next(t for t in tables if t.name == "Dim_Branch").rows}
    assert {int(line.split("|")[0]) for line in targets[1:-1]} == branch_ids

    card_ids = {row["card_id"] for row in next(t for t in tables if t.name == "Dim_Card").rows}
    for name in ("feeds/disputes/Card_Disputes_part1.csv", "feeds/disputes/Card_Disputes_part2.csv"):
        data = files[name]
        assert data.startswith("\ufeff".encode())
        lines = data.decode("utf-8-sig").splitlines()
        assert lines[0] == "dispute_id;card_id;opened_on;amount;reason;customer_note"
        assert {int(line.split(";")[1]) for line in lines[1:]} <= card_ids
