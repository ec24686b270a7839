"""Read a delimited file of any size as a stream of rows, in memory independent of its size.

A file's format is detected from its head (``sniff_head``: the whole file when it is no
larger than ``StreamLimits.sniff_bytes``, exactly as ``sniff_format`` reads it; else the head
cut after a newline). ``stream_file_rows`` then reads the whole file once, chunk by chunk, and
yields its data rows: it skips the custom header lines and checks the header row as
``read_records`` does, counts the rows with a wrong field count (refusing too many, as
``sniff_format`` and ``read_records`` do), and holds back the last records until the end of
the file tells which of them are custom trailer lines. What only the end of a large file
tells (its trailer lines, the record count written in its custom lines, its final newline,
its ragged rows) completes the head's format in ``completed_format``.

Pure apart from the ``BinaryIO`` it is handed: the caller opens the file (a local file, a
``google.cloud.storage`` ``BlobReader``, bytes in memory).
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, BinaryIO

from bqsynth.models import CustomLine, FileFormat
from bqsynth.sources.delimited import (
    DEFAULT_MAX_RAGGED_SHARE,
    FileFormatError,
    Record,
    RecordParser,
    custom_line,
    decode_chunks,
    iter_records,
    sniff_format,
    trailing_custom_records,
)
from bqsynth.sources.value_stats import StreamLimits, chunks_of

# Records held back at the end of a large file for its trailer lines: exports write one or two.
TRAILER_WINDOW = 64
_MAX_RAGGED_LINES = 10


@dataclass(frozen=True)
class FilePart:
    """One file of a file source: its name (a gs:// URI) and how to open it for reading."""

    name: str
    open: Callable[[], BinaryIO]

    @classmethod
    def from_bytes(cls, name: str, data: bytes) -> FilePart:
        return cls(name, lambda: io.BytesIO(data))


@dataclass(frozen=True)
class Head:
    """The first bytes of a file: all of it when ``complete``, else cut after its last newline."""

    data: bytes
    complete: bool


def read_head(part: FilePart, limit: int) -> Head:
    with part.open() as stream:
        data = stream.read(limit + 1)
    if len(data) <= limit:
        return Head(data, True)
    # A newline byte is never inside a UTF-8 or Latin-1 character, so the cut splits none.
    cut = data.rfind(b"\n", 0, limit)
    if cut < 0:
        raise FileFormatError(
            f"{part.name}: its first {limit:,} bytes hold no line end: it is not a delimited text file, "
            "or its records are far longer than any export writes"
        )
    return Head(data[: cut + 1], False)


def sniff_head(head: Head, name: str, *, max_ragged_share: float = DEFAULT_MAX_RAGGED_SHARE) -> FileFormat:
    """``sniff_format`` of a file's head (the whole file's format when the head is the whole file)."""
    return sniff_format(head.data, name, max_ragged_share=max_ragged_share, complete=head.complete)


@dataclass
class PartTally:
    """What reading one file found besides its rows."""

    data_records: int = 0  # data rows plus ragged rows, as custom lines count them
    ragged: int = 0
    ragged_lines: list[int] = field(default_factory=list)
    trailer_records: list[Record] = field(default_factory=list)
    final_newline: bool = False

    @property
    def rows(self) -> int:
        return self.data_records - self.ragged


def stream_file_rows(
    part: FilePart,
    fmt: FileFormat,
    tally: PartTally,
    *,
    trailer_count: int | None,
    tolerated_ragged: int,
    limits: StreamLimits,
    max_ragged_share: float = DEFAULT_MAX_RAGGED_SHARE,
    complete: bool = True,
) -> Iterator[dict[str, Any]]:
    """The data rows of one file read in ``fmt``, in file order; ``tally`` is filled as it goes.

    ``trailer_count``: the file's custom trailer lines, or None to tell them from its last
    records (rule 4 of ``bqsynth.sources.delimited``). More than ``max_ragged_share`` ragged
    rows, and more than ``tolerated_ragged``, are refused once the file is read.
    ``complete=False``: the file is a head cut after a newline; a record it cuts is dropped.
    """
    quotechar = None if fmt.quoting == "none" else fmt.quotechar
    with part.open() as stream:
        texts = decode_chunks(chunks_of(stream, limits.chunk_bytes), fmt.encoding, part.name)
        records = iter_records(texts, fmt.delimiter, quotechar, fmt.escapechar, part.name, complete=complete)
        _skip_custom_header(records, fmt, part.name)
        parser = RecordParser(fmt, part.name)
        held: deque[Record] = deque()
        keep = TRAILER_WINDOW if trailer_count is None else trailer_count
        last: Record | None = None
        for record in records:
            last = record
            held.append(record)
            if len(held) > keep:
                yield from _data_row(held.popleft(), parser, tally)
    tally.final_newline = last is not None and bool(last.terminator)
    width = len(fmt.columns)
    if trailer_count is None:
        trailer_count = trailing_custom_records(list(held), width)
    if len(held) < trailer_count:
        raise FileFormatError(
            f"{part.name} has fewer lines than the format's custom trailer lines: all files of a table must "
            "have the same layout"
        )
    tally.trailer_records = list(held)[len(held) - trailer_count :]
    for record in list(held)[: len(held) - trailer_count]:
        yield from _data_row(record, parser, tally)
    _check_ragged(tally, fmt, part.name, tolerated_ragged, max_ragged_share)


def _skip_custom_header(records: Iterator[Record], fmt: FileFormat, source: str) -> None:
    wanted = len(fmt.header_lines) + int(fmt.has_header)
    leading = list(islice(records, wanted))
    if len(leading) < wanted:
        raise FileFormatError(
            f"{source} has only {len(leading)} lines, fewer than the format's custom lines and header: "
            "all files of a table must have the same layout"
        )
    if fmt.has_header:
        header = leading[-1]
        expected = [c.header for c in fmt.columns]
        if header.fields != expected:
            raise FileFormatError(
                f"{source} has the header {header.fields} on line {header.line}, expected {expected}: "
                "all files of a table must have the same columns in the same order"
            )


def _data_row(record: Record, parser: RecordParser, tally: PartTally) -> Iterator[dict[str, Any]]:
    tally.data_records += 1
    if len(record.fields) != len(parser.fmt.columns):
        tally.ragged += 1
        if len(tally.ragged_lines) < _MAX_RAGGED_LINES:
            tally.ragged_lines.append(record.line)
        return
    yield parser.parse(record)


def _check_ragged(tally: PartTally, fmt: FileFormat, source: str, tolerated: int, share: float) -> None:
    if tally.ragged <= share * max(tally.data_records, 1) or tally.ragged <= tolerated:
        return
    lines = ", ".join(str(line) for line in tally.ragged_lines)
    more = " and more" if tally.ragged > len(tally.ragged_lines) else ""
    raise FileFormatError(
        f"{source} has {tally.ragged} of {tally.data_records} rows with a field count other than "
        f"{len(fmt.columns)} (lines {lines}{more}), more than the {share:.0%} tolerated: check that it uses the "
        f"delimiter {fmt.delimiter!r}, fix the quoting or the delimiters of those rows and re-export the file"
    )


def completed_format(head_format: FileFormat, tally: PartTally) -> FileFormat:
    """A large file's format from its head's, completed with what reading all of it found."""
    count = tally.data_records

    def recounted(lines: list[CustomLine]) -> list[CustomLine]:
        return [custom_line(_line_record(line.text), count) for line in lines]

    return head_format.model_copy(
        update={
            "header_lines": recounted(head_format.header_lines),
            "trailer_lines": [custom_line(r, count) for r in tally.trailer_records],
            "final_newline": tally.final_newline,
            "ragged_rows": tally.ragged,
        }
    )


def _line_record(text: str) -> Record:
    return Record(fields=[text], quoted=[False], line=0, raw=text, terminator="")
