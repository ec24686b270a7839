"""The pure parts of model-named headerless columns: masking, sample lines, the name and format checks."""

from __future__ import annotations

from bqsynth.llm.answers import StatedFormat
from bqsynth.llm.headerless import field_counts, format_check, mask_line, name_problems
from bqsynth.models import FileFormat
from bqsynth.sources.file_profile import HeaderlessSample, data_lines
from bqsynth.sources.file_stream import Head, sniff_head


def test_masking_keeps_the_layout_and_no_character_of_a_value() -> None:
    assert mask_line('Zoë,"Ng, 42",12.5€', ",") == 'Aaa,"Aa, 99",99.9*'
    assert mask_line("7\x01abc\x01\x02", "\x01") == "9\x01aaa\x01*"  # a control delimiter survives, others do not
    assert mask_line("x" * 500, ",", limit=10) == "a" * 10 + "…"


def test_sample_lines_leave_out_custom_lines_the_bom_and_crlf() -> None:
    data = "\ufeffHDR|20240131\r\n1|a\r\n2|b\r\nTRL|2\r\n".encode()
    head = Head(data, complete=True)
    fmt = sniff_head(head, "gs://b/x.txt")
    assert not fmt.has_header and len(fmt.header_lines) == 1 and len(fmt.trailer_lines) == 1
    assert data_lines(head, fmt, 10) == ["1|a", "2|b"]
    assert data_lines(head, fmt, 1) == ["1|a"]
    # A record separator inside a line does not split it (str.splitlines would).
    plain = FileFormat(delimiter="\x1e", has_header=False)
    assert data_lines(Head(b"a\x1eb\nc\x1ed\n", complete=True), plain, 5) == ["a\x1eb", "c\x1ed"]


def test_names_are_checked_for_count_validity_and_uniqueness() -> None:
    assert name_problems(["id", "email"], 2) == []
    [count] = name_problems(["id"], 2)
    assert count.startswith("the file has 2 columns and the answer names 1")
    [invalid] = name_problems(["id", "e-mail"], 2)
    assert "'e-mail' (column 2)" in invalid
    assert any("not BigQuery column names" in p for p in name_problems(["", "x_"], 2))
    [repeated] = name_problems(["Email", "email"], 2)
    assert "'email' repeat" in repeated


def test_field_counts_honour_quotes_and_multi_character_delimiters() -> None:
    fmt = FileFormat(has_header=False)
    assert field_counts(['1,"a,b",c', "2,d,e"], ",", '"', fmt) == [3, 3]
    assert field_counts(['1,"a,b",c'], ",", "'", fmt) == [4]
    assert field_counts(["1~|~a|b~|~c"], "~|~", '"', fmt) == [3]
    assert field_counts(['1,"a'], ",", '"', fmt) is None  # an unterminated quote
    assert field_counts(["1,2"], "", '"', fmt) is None


def test_a_stated_format_is_judged_by_how_it_splits_the_real_lines() -> None:
    tilde = FileFormat(delimiter="~", has_header=False)
    sample = HeaderlessSample("t", "gs://b/t.txt", tilde, ["Ann~1,5~x", "Bo~2,5~y"])
    assert format_check(None, sample) == ([], None)
    assert format_check(StatedFormat(delimiter="~", quotechar='"', has_header=False), sample)[1] == (
        "the model confirmed the detected format"
    )
    problems, _ = format_check(StatedFormat(delimiter=",", quotechar='"', has_header=False), sample)
    assert problems and "reads the sample lines as 2 fields" in problems[0]
    problems, _ = format_check(StatedFormat(delimiter="~", quotechar='"', has_header=True), sample)
    assert problems and "header" in problems[0]
