"""A delimited text's records, runs of plain ones read many at a time by the C ``csv`` reader.

``iter_records`` splits a text one record at a time in Python and keeps everything a writer
needs (which fields were quoted, the raw text, line numbers): exact for every dialect, and
slow on a file of gigabytes. Most of a large export is plain RFC 4180 text, which the
standard library's ``csv`` reader (in C) splits about ten times faster. ``record_items``
returns exactly the records ``iter_records`` finds, in order, except that a run of records
that all keep to the strict grammar below comes as one ``RecordBlock`` of column texts:

* a field is quoted, with only doubled quotes inside and nothing after its closing quote, or
  unquoted, without a quote, carriage return or newline; a record ends with ``\\n`` or ``\\r\\n``;
* the dialect has a one-character delimiter and no escape character;
* no quoted field spells a NULL (``""``, ``"NULL"`` ...): ``csv`` does not tell which fields
  were quoted, and only for those spellings does quoting change a value;
* every record has the table's field count (a ragged row is left to the exact reader, which
  counts it and names its line); no NUL character and no field beyond ``csv``'s size limit.

In that grammar a field's text is unambiguous, so both readers split every record alike;
anything else (a quote inside an unquoted field, text after a closing quote, an escape
character ...) is read by ``tokenize``, record by record, and the grammar takes over again
after it. Pure: text in, records and blocks out.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from bqsynth.sources.delimited import MAX_RECORD_CHARS, Record, check_record_length, iter_records, tokenize


@dataclass(frozen=True)
class BlockDialect:
    """How to split records in blocks, for one file format; ``block_dialect`` builds it."""

    delimiter: str
    quotechar: str | None
    width: int
    grammar: re.Pattern[str]  # matches a run of records in the strict grammar
    quoted_null: re.Pattern[str] | None  # finds a quoted field spelling a NULL: read record by record
    quoted_texts: tuple[str, ...]  # those spellings quoted: a block without them needs no regex search


def block_dialect(
    delimiter: str, quotechar: str | None, escapechar: str | None, width: int, null_texts: Iterable[str]
) -> BlockDialect | None:
    """The block reading of a dialect, or None when only the exact reader reads it (escapes,
    multi-character delimiters, a null spelling holding the quote)."""
    nulls = tuple(sorted(set(null_texts)))
    if escapechar or len(delimiter) != 1 or delimiter in "\r\n" or delimiter == quotechar or width < 1:
        return None
    if quotechar and any(quotechar in text for text in nulls):
        return None
    d = re.escape(delimiter)
    if quotechar:
        q = re.escape(quotechar)
        field = f"(?:{q}(?:[^{q}]|{q}{q})*+{q}|[^{q}{d}\\r\\n]*+)"
    else:
        field = f"[^{d}\\r\\n]*+"
    # Possessive repeats: the grammar is unambiguous, so nothing is ever worth backtracking into.
    grammar = re.compile(f"(?:{field}(?:{d}{field})*+\\r?\\n)*+")
    quoted_null, quoted_texts = None, ()
    if quotechar:
        quoted_texts = tuple(f"{quotechar}{text}{quotechar}" for text in nulls)
        # A whole quoted field (nothing follows a closing quote in the grammar) spelling a NULL; a
        # doubled quote inside a longer quoted field may look like one, and is read record by record.
        spellings = "|".join(re.escape(text) for text in nulls)
        quoted_null = re.compile(f"(?:^|(?<=[{d}\\n])){q}(?:{spellings}){q}(?=[{d}\\r\\n]|$)")
    return BlockDialect(delimiter, quotechar, width, grammar, quoted_null, quoted_texts)


@dataclass(frozen=True)
class RecordBlock:
    """Consecutive complete records of ``width`` fields, as the texts of each column."""

    columns: list[tuple[str, ...]]
    rows: int
    text: str  # the records' source text, read exactly again when a value needs it (an error's line)
    first_line: int
    dialect: BlockDialect

    def records(self, source: str) -> list[Record]:
        """The block's records as ``iter_records`` reads them."""
        return tokenize(
            self.text, self.dialect.delimiter, self.dialect.quotechar, None, source, first_line=self.first_line
        )


def read_block(text: str, dialect: BlockDialect, first_line: int) -> RecordBlock | None:
    """Records in the strict grammar (``text`` is a match of ``dialect.grammar``) read by ``csv``;
    None when the exact reader must read them (see the module's rules)."""
    if "\x00" in text:
        return None
    # A substring test first: it is many times faster than the regex, which only confirms a hit.
    if (
        dialect.quoted_null is not None
        and any(q in text for q in dialect.quoted_texts)
        and dialect.quoted_null.search(text)
    ):
        return None
    quoting = csv.QUOTE_MINIMAL if dialect.quotechar else csv.QUOTE_NONE
    try:
        rows = list(
            csv.reader(
                io.StringIO(text, newline=""),
                delimiter=dialect.delimiter,
                quotechar=dialect.quotechar or '"',
                quoting=quoting,
                doublequote=True,
                strict=True,
            )
        )
    except csv.Error:  # a field longer than csv.field_size_limit()
        return None
    if not rows or set(map(len, rows)) != {dialect.width}:
        return None  # a ragged or blank line (csv reads a blank line as no field, tokenize as one)
    return RecordBlock([*zip(*rows, strict=True)], len(rows), text, first_line, dialect)


@dataclass
class _Cursor:
    line: int = 1  # the line the next record starts on
    records: int = 0  # records handed out so far


def record_items(
    texts: Iterable[str],
    delimiter: str,
    quotechar: str | None,
    escapechar: str | None,
    source: str,
    *,
    dialect: BlockDialect | None,
    block_chars: int,
    exact_records: int,
    complete: bool = True,
    max_record_chars: int = MAX_RECORD_CHARS,
) -> Iterator[Record | RecordBlock]:
    """``iter_records`` of ``texts``, with runs of plain records as ``RecordBlock``s.

    The text is gathered ``block_chars`` at a time (plus a record cut by the previous block).
    The first ``exact_records`` records (custom header lines and the header) always come as
    ``Record``s. Without a ``dialect``, or with ``block_chars`` 0, this is ``iter_records``.
    """
    if dialect is None or block_chars <= 0:
        yield from iter_records(
            texts,
            delimiter,
            quotechar,
            escapechar,
            source,
            complete=complete,
            max_record_chars=max_record_chars,
        )
        return
    cursor = _Cursor()
    carry = ""
    pending: list[str] = []
    size = 0
    for text in texts:
        pending.append(text)
        size += len(text)
        if size < block_chars:
            continue
        buffer = carry + "".join(pending)
        pending, size = [], 0
        carry = yield from _complete_records(buffer, dialect, source, cursor, exact_records)
        check_record_length(carry, cursor.line, source, max_record_chars)
    carry = yield from _complete_records(carry + "".join(pending), dialect, source, cursor, exact_records)
    if carry and complete:
        # Strict at the end: a quoted field never closed is refused as tokenize refuses it.
        yield from tokenize(carry, dialect.delimiter, dialect.quotechar, None, source, first_line=cursor.line)


def _complete_records(
    buffer: str, dialect: BlockDialect, source: str, cursor: _Cursor, exact_records: int
) -> Iterator[Record | RecordBlock]:
    """The complete records at the start of ``buffer``, in blocks where the grammar allows; returns
    the rest (a record not yet ended)."""
    pos = 0
    while True:
        # The header and custom lines come one by one, then as many blocks as the grammar allows.
        match = dialect.grammar.match(buffer, pos) if cursor.records >= exact_records else None
        end = match.end() if match else pos
        if end > pos:
            text = buffer[pos:end]
            block = read_block(text, dialect, cursor.line)
            if block is not None:
                yield block
                cursor.records += block.rows
            else:
                records = tokenize(text, dialect.delimiter, dialect.quotechar, None, source, first_line=cursor.line)
                yield from records
                cursor.records += len(records)
            cursor.line += text.count("\n")
            pos = end
        record = _first_record(buffer, pos, dialect, source, cursor.line)
        if record is None:
            return buffer[pos:]
        yield record
        cursor.records += 1
        consumed = len(record.raw) + len(record.terminator)
        cursor.line += buffer.count("\n", pos, pos + consumed)
        pos += consumed


def _first_record(buffer: str, pos: int, dialect: BlockDialect, source: str, line: int) -> Record | None:
    """The record starting at ``pos`` (outside the grammar) once its newline has arrived, else None.

    A record is final once the newline ending it arrives outside quotes (as in ``iter_records``),
    so tokenizing up to ever further newlines finds it without reading the rest of the buffer.
    """
    newline = buffer.find("\n", pos)
    while newline >= 0:
        records = tokenize(
            buffer[pos : newline + 1],
            dialect.delimiter,
            dialect.quotechar,
            None,
            source,
            lenient=True,
            first_line=line,
        )
        if records and records[0].terminator:
            return records[0]
        newline = buffer.find("\n", max(newline + 1, 2 * newline - pos))
    return None
