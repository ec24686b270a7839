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

``stream_file_batches`` yields the same rows, runs of plain records as one ``RowBatch``
(split by the C ``csv`` reader, parsed a column at a time: ``bqsynth.sources.record_blocks``),
which is how profiling counts a large file faster with the same results.

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
    sniff_format,
    trailing_custom_records,
)
from bqsynth.sources.record_blocks import RecordBlock, block_dialect, record_items
from bqsynth.sources.value_stats import RowBatch, StreamLimits, chunks_of

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
    for item in stream_file_batches(
        part,
        fmt,
        tally,
        trailer_count=trailer_count,
        tolerated_ragged=tolerated_ragged,
        limits=limits,
        max_ragged_share=max_ragged_share,
        complete=complete,
    ):
        if isinstance(item, RowBatch):
            yield from item
        else:
            yield item


def stream_file_batches(
    part: FilePart,
    fmt: FileFormat,
    tally: PartTally,
    *,
    trailer_count: int | None,
    tolerated_ragged: int,
    limits: StreamLimits,
    max_ragged_share: float = DEFAULT_MAX_RAGGED_SHARE,
    complete: bool = True,
) -> Iterator[dict[str, Any] | RowBatch]:
    """``stream_file_rows``, with runs of plain records (``bqsynth.sources.record_blocks``) as
    ``RowBatch``es of the same rows: what counting a large file fast needs."""
    quotechar = None if fmt.quoting == "none" else fmt.quotechar
    parser = RecordParser(fmt, part.name)
    dialect = block_dialect(fmt.delimiter, quotechar, fmt.escapechar, len(fmt.columns), parser.null_texts())
    with part.open() as stream:
        texts = decode_chunks(chunks_of(stream, limits.chunk_bytes), fmt.encoding, part.name)
        items = record_items(
            texts,
            fmt.delimiter,
            quotechar,
            fmt.escapechar,
            part.name,
            dialect=dialect,
            block_chars=limits.block_chars,
            exact_records=len(fmt.header_lines) + int(fmt.has_header),
            complete=complete,
        )
        _skip_custom_header(items, fmt, part.name)
        # The last records are held back until the file's end tells which are trailer lines.
        held: deque[Record | RecordBlock] = deque()
        held_records = 0
        keep = TRAILER_WINDOW if trailer_count is None else trailer_count
        last_terminated = False
        for item in items:
            size = item.rows if isinstance(item, RecordBlock) else 1
            last_terminated = isinstance(item, RecordBlock) or bool(item.terminator)
            held.append(item)
            held_records += size
            while held and held_records - _records_in(held[0]) >= keep:
                front = held.popleft()
                held_records -= _records_in(front)
                yield from _data_items(front, parser, tally)
    tally.final_newline = last_terminated
    tail = [r for item in held for r in (item.records(part.name) if isinstance(item, RecordBlock) else [item])]
    width = len(fmt.columns)
    if trailer_count is None:
        trailer_count = trailing_custom_records(tail, width)
    if len(tail) < trailer_count:
        raise FileFormatError(
            f"{part.name} has fewer lines than the format's custom trailer lines: all files of a table must "
            "have the same layout"
        )
    tally.trailer_records = tail[len(tail) - trailer_count :]
    for record in tail[: len(tail) - trailer_count]:
        yield from _data_row(record, parser, tally)
    _check_ragged(tally, fmt, part.name, tolerated_ragged, max_ragged_share)


def _records_in(item: Record | RecordBlock) -> int:
    return item.rows if isinstance(item, RecordBlock) else 1


def _skip_custom_header(records: Iterator[Record | RecordBlock], fmt: FileFormat, source: str) -> None:
    wanted = len(fmt.header_lines) + int(fmt.has_header)
    leading = list(islice(records, wanted))  # record_items hands out the first ``wanted`` as Records
    if len(leading) < wanted:
        raise FileFormatError(
            f"{source} has only {len(leading)} lines, fewer than the format's custom lines and header: "
            "all files of a table must have the same layout"
        )
    if fmt.has_header:
        header = leading[-1]
        assert isinstance(header, Record)
        expected = [c.header for c in fmt.columns]
        if header.fields != expected:
            raise FileFormatError(
                f"{source} has the header {header.fields} on line {header.line}, expected {expected}: "
                "all files of a table must have the same columns in the same order"
            )


def _data_items(
    item: Record | RecordBlock, parser: RecordParser, tally: PartTally
) -> Iterator[dict[str, Any] | RowBatch]:
    if isinstance(item, Record):
        yield from _data_row(item, parser, tally)
        return
    try:
        columns = [parser.parse_texts(index, texts) for index, texts in enumerate(item.columns)]
    except (ValueError, ArithmeticError, AssertionError):
        # Read again record by record: parse's error names the line, the value and the column.
        for record in item.records(parser.source):
            yield from _data_row(record, parser, tally)
        return
    tally.data_records += item.rows
    yield RowBatch([c.name for c in parser.fmt.columns], columns, item.rows)


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
