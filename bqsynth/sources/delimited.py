"""Delimited source files: detect their exact format, parse them, and write synthetic ones alike.

Everything here is pure (bytes in, bytes or models out): no GCS, no BigQuery, no randomness.
``sniff_format`` returns a ``FileFormat``; ``read_records`` turns file bytes into rows in the
BigQuery JSON form; ``write_records`` turns rows in that form back into bytes spelled exactly
as the source spells them. What the format leaves open cell by cell (which NULL spelling of a
column that has several, which UTC offset, digits past the microsecond) ``read_spelled`` also
returns, as ``CellSpelling``s, and nothing else of a cell; with them
``write_records(rows, fmt, run_date=<date in its header>, spellings=spellings) == data`` for
every file whose rows are all read (``rows, spellings = read_spelled(data, fmt, src)``).
Without them the rows are synthetic: those choices are drawn with the source's shares.

Detection rules, applied in this order (every tie is broken by a fixed order, never by chance):

1. **Encoding.** A UTF-16/UTF-32 byte order mark, or NUL bytes in every other position, is
   refused ("UTF-16, re-export as UTF-8"); other NUL bytes, a known binary signature (gzip,
   zip, PNG, PDF ...) or more than 1% control bytes are refused as binary. A UTF-8 BOM gives
   ``utf-8-sig``; text that decodes as UTF-8 gives ``utf-8``; otherwise ``latin-1``, unless
   bytes 0x80-0x9F occur: in Latin-1 those are C1 control characters, so the file is really
   Windows-1252 or another code page we cannot read faithfully, and is refused. Text with
   only CR line ends (classic Mac) is refused.
2. **Delimiter.** A multi-character delimiter of ``MULTI_DELIMITERS`` (``~|~``, ``||`` ...)
   wins when it splits >= 90% of the first 500 lines into the same field count > 1, and does
   so more consistently than any of its characters alone or its characters occur nowhere
   else (a ``|`` file with an always-empty column is not a ``||`` file). Otherwise the
   candidates are ``, TAB | ; ^ ~``, the control characters exports use as separators
   (0x1F, 0x1E, 0x1D, 0x1C, 0x01, 0x02; the most frequent of them is not counted as binary)
   and any other punctuation seen in those lines that is not common inside values. Each
   candidate splits those lines (quote-aware); the winner has the highest share of lines
   with its most common field count, that count being > 1; ties go to the larger field
   count, then to the order above. A decimal comma (``12,50``) is only recognised when the
   delimiter is not a comma.
3. **Quote and escape.** The quote character is ``"``, or ``'`` when some fields are wrapped
   in single quotes and none in double quotes (a quote opens a field only at its start, as
   in RFC 4180). A backslash before a quote or a delimiter makes ``\\`` the escape character.
4. **Custom lines.** Leading and trailing records whose field count differs from the most
   common one, or that start with ``#`` or a tag word (HDR, TRL, TOTAL, EOF ...), are custom
   header/trailer lines, kept verbatim. Inside them a digit run equal to the number of data
   rows (possibly zero-padded) is a ``record_count`` field and ``%Y%m%d``, ``%Y-%m-%d``,
   ``%d/%m/%Y``, ``%d.%m.%Y``, ``%Y-%m-%dT%H:%M:%S``, ``%Y-%m-%d %H:%M:%S`` and
   ``%Y%m%d%H%M%S`` values are ``date``/``datetime`` fields (a datetime keeps its source time
   of day when rewritten; only the date becomes the run date).
5. **Null marker.** Unquoted ``NULL``, ``null``, ``\\N`` are nulls anywhere; ``NA``, ``N/A`` only
   in a column whose other values have a typed shape (numbers, dates ...), because ``NA`` is
   also a real code (North America, Namibia). The most frequent non-empty marker becomes the
   file's ``null_marker``, else the empty field. A column spelling NULL otherwise gets its own
   ``FileColumn.null_marker`` (numbers empty, text ``NULL``, as SQL clients export): a STRING
   column with a marker keeps it, and an empty field there is an empty string; another column
   takes its most frequent null spelling. A typed column using several (empty and ``NULL``)
   records each one's share of its NULLs (``FileColumn.null_spellings``); synthetic NULLs are
   spelled with those shares.
6. **Header row.** The first data-shaped record is a header when its values are non-empty,
   distinct, neither null markers nor numbers, dates or times, and either some column below
   is typed (the header cannot be a value of it) or, all columns being strings, more than half
   of its values (a strict majority) differ in shape (length range, digits, ``@``, spaces, case) from the values
   below them. Header texts are sanitised into unique BigQuery names (letters, digits,
   underscore, not starting with a digit), the original kept in ``FileColumn.header`` and
   whether it was quoted in ``FileColumn.header_quoted`` (the writer quotes it the same way).
7. **Types**, per column over its non-null values, first match wins:
   BOOL when every value is one spelling of a pair (true/false, yes/no, Y/N, T/F in the
   source's case; single letters need both seen). ``1``/``0`` stay INT64: a flag and a count
   cannot be told apart, and INT64 keeps the spelling. Then DATE/DATETIME/TIMESTAMP/TIME when
   every value matches one strftime pattern of ``DATE_FORMATS``, ``DATETIME_FORMATS``,
   ``TIMESTAMP_FORMATS``, ``TIME_FORMATS``: zero-padded or unpadded (``%-d/%-m/%Y``: 1/5/2024)
   fields, English month names (``%b``, ``%B``, ``%^b`` for JAN), 12-hour clocks (``%I``,
   ``%p``), fractions of any fixed length (``%3f``, ``%f`` = 6, ``%9f``; values hold microseconds,
   as BigQuery's types do: digits past them are a ``CellSpelling`` of the source and zeros in a
   synthetic file), offsets (``%z``, ``%:z``; ``%:Z``, RFC 3339's ``Z`` for a zero offset and
   ``+01:00`` otherwise, as Java and Go write it), ``Z`` and `` UTC``. A TIMESTAMP column written
   in one offset records it (``FileColumn.utc_offset``) and is written back in it; in several,
   the IANA zone that gives every value its offset (daylight saving: ``+01:00`` in winter,
   ``+02:00`` in summer), the first by name of those that do (``FileColumn.time_zone``), else
   each offset's share (``FileColumn.utc_offsets``); its values are UTC. ``%d/%m`` is tried before ``%m/%d``: a day
   > 12 in either place decides, an undecidable column is read day first and reported
   (``FileColumn.day_month_assumed``, and a warning); 8 digits that are all valid ``%Y%m%d``
   dates are dates. Then numbers as exports write them
   (``number_type``): an optional currency symbol or ISO code before or after the digits
   (``$1,234.56``, ``€ 12,50``, ``12,50 €``, ``CHF 1'234.50``) or a percent sign (``12.5%``),
   a thousands separator (``, . ' ’``, space, no-break and thin spaces: ``1.146,52``,
   ``1 234,56``), a decimal point or comma, negatives as ``-``, ``($5)``, ``$-5`` or ``5-``
   (SAP), all spelled the same way down the column and recorded in ``FileColumn.number``.
   INT64 when no value has decimals (in range); NUMERIC when every value has the same number
   (1-4) of decimals, like money, because then the scale is part of the spelling; FLOAT64
   otherwise (mixed scales, exponents), ``bare_integers`` when whole values are written
   without decimals (``2``, not ``2.0``). Anything else is STRING - notably numbers with
   leading zeros (``00123``: zip codes and account ids, whose zeros an integer would lose), a
   plus sign, or digits grouped by plain spaces with neither decimals nor a currency
   (``555 123``, a phone number more likely than an amount).
8. **Quoting.** ``all`` when every data field (empty ones included) is quoted; ``nonnumeric``
   when exactly the non-numeric columns have every value quoted; ``none`` when nothing is
   quoted and a backslash escapes instead; ``minimal`` otherwise, with ``FileColumn.quoted``
   set for columns whose every non-empty value is quoted.
9. **Column names of headerless files** are ``column_1``, ``column_2`` ... here: this module
   knows spellings, not meaning. ``bqsynth.sources.file_profile`` renames them after what the
   values are (``email``, ``phone``, ``date`` ...).
10. **Refusals** (``FileFormatError``, naming the file and the remedy): empty file, no data
    rows (header only), more than ``max_ragged_share`` rows with a wrong field count (their
    line numbers are listed), binary content, unreadable encodings. Fewer ragged rows are
    skipped and counted in ``ragged_rows``.

Value contract (``read_records`` output, ``write_records`` input): INT64 int, FLOAT64 float,
NUMERIC str with a ``.``, BOOL bool, STRING str, DATE ``YYYY-MM-DD``, DATETIME
``YYYY-MM-DDTHH:MM:SS[.ffffff]``, TIMESTAMP the same in UTC with ``+00:00``, TIME ``HH:MM:SS``,
NULL None. The writer also accepts a space instead of ``T``, ``Z``/`` UTC``/offsets, ints for
numbers and Python date/time objects.

A NUMERIC column keeps its fixed scale (``FileColumn.scale``), so that ``12.5`` is written
``12.50`` as in the source. Numbers are read as the plain number written (``(1.234,56 €)`` is
``-1234.56``, ``12,5 %`` is ``12.5``) and written back with the column's spelling.
"""

from __future__ import annotations

import codecs
import datetime as dt
import functools
import hashlib
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from bqsynth.errors import SourceError
from bqsynth.gcp.names import sanitize_name, unique_names
from bqsynth.models import (
    NUMERIC_TYPES,
    TEMPORAL_TYPES,
    CustomLine,
    FileColumn,
    FileFormat,
    LineField,
    NumberSpelling,
)

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------

STANDARD_DELIMITERS = (",", "\t", "|", ";", "^", "~")
# Punctuation that commonly occurs inside values, never tried as a delimiter.
_VALUE_PUNCTUATION = frozenset("\"'.-_/:@+()%$#&*=!?[]{}<>\\`,")
SNIFF_LINES = 500
# The longest record a streamed file may have (characters): the memory bound of reading a file,
# which is otherwise independent of its size. A record this long is an unclosed quote.
MAX_RECORD_CHARS = 64 * 1024**2
DEFAULT_MAX_RAGGED_SHARE = 0.01
_MAX_LISTED_LINES = 10

TAG_WORDS = frozenset(
    {"HDR", "HEADER", "TRL", "TRAILER", "TLR", "FTR", "FOOTER", "EOF", "EOD", "BOF", "SOF", "TOTAL", "TOTALS"}
)
NULL_MARKERS_STRONG = ("NULL", "null", "\\N")
NULL_MARKERS_WEAK = ("NA", "N/A")
MAX_NUMERIC_SCALE = 4

BOOL_SPELLINGS: tuple[tuple[str, str], ...] = (
    ("true", "false"),
    ("True", "False"),
    ("TRUE", "FALSE"),
    ("yes", "no"),
    ("Yes", "No"),
    ("YES", "NO"),
    ("y", "n"),
    ("Y", "N"),
    ("t", "f"),
    ("T", "F"),
)

# Day before month wherever both orders fit: an undecidable column is read day first (reported).
_UNPADDED_DATES = ("%-d/%-m/%Y", "%-m/%-d/%Y", "%-d.%-m.%Y")
_NAMED_DATES = (
    "%d-%b-%Y",
    "%d-%^b-%y",
    "%d-%^b-%Y",
    "%d-%b-%y",
    "%d %b %Y",
    "%-d %b %Y",
    "%d %B %Y",
    "%-d %B %Y",
    "%b %d, %Y",
    "%b %-d, %Y",
    "%B %d, %Y",
    "%B %-d, %Y",
)
DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%Y%m%d",
    *_UNPADDED_DATES,
    *_NAMED_DATES,
)
_FRACTIONS = tuple(f"%H:%M:%S.%{n}f" if n != 6 else "%H:%M:%S.%f" for n in (3, 6, 9, 1, 2, 4, 5, 7, 8))
_TIMES_24 = (*_FRACTIONS, "%H:%M:%S", "%H:%M")
TIME_FORMATS = (
    *_TIMES_24,
    "%I:%M:%S %p",
    "%I:%M %p",
    "%-I:%M:%S %p",
    "%-I:%M %p",
    "%-H:%M:%S",
    "%-H:%M",
)
_DATETIME_DATES = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%d/%m/%Y",
    "%m/%d/%Y",
    *_UNPADDED_DATES,
    "%d-%b-%Y",
    "%d-%^b-%y",
)
DATETIME_FORMATS = (
    *(f"{d}{sep}{t}" for d in _DATETIME_DATES for sep in ("T", " ") for t in TIME_FORMATS),
    "%Y%m%d%H%M%S",
)
# ``%:z`` (+01:00) is Python 3.12's strftime directive; we implement it ourselves for 3.11.
# ``%:Z`` is RFC 3339 as Java's ISO_OFFSET_DATE_TIME and Go's time.RFC3339 write it: ``Z`` for a
# zero offset, ``+01:00`` otherwise (Europe/London: Z in winter, +01:00 in summer).
_ZONES = ("Z", "%:z", "%:Z", "%z", " UTC")
TIMESTAMP_FORMATS = tuple(
    f"{d}{sep}{t}{zone}" for zone in _ZONES for d in ("%Y-%m-%d",) for sep in ("T", " ") for t in _TIMES_24
)
# Custom-line date fields, longest first so that a datetime is not read as a date plus noise.
LINE_DATETIME_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%S")
LINE_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%Y%m%d")

_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed data: decompress it first"),
    (b"PK\x03\x04", "a zip archive: extract the file first"),
    (b"\x89PNG", "a PNG image, not a delimited file"),
    (b"%PDF", "a PDF document, not a delimited file"),
    (b"PAR1", "a Parquet file: load it with BigQuery directly or export it as CSV"),
    (b"Obj\x01", "an Avro file: load it with BigQuery directly or export it as CSV"),
)
_UTF_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xff\xfe", "UTF-16"),
)
_CONTROL_BYTES = frozenset(range(0x00, 0x09)) | {0x0B} | frozenset(range(0x0E, 0x20)) | {0x7F}
# Control characters that exports use as delimiters: SOH (Hive), STX, and the ASCII information
# separators FS GS RS US. The most frequent of them in a file is its delimiter, not binary noise.
_SEPARATOR_BYTES = (0x1F, 0x1E, 0x1D, 0x1C, 0x01, 0x02)
CONTROL_DELIMITERS = tuple(chr(byte) for byte in _SEPARATOR_BYTES)
# Multi-character delimiters of exports that avoid any single character a value may hold.
MULTI_DELIMITERS = ("~|~", "|~|", "^|^", "|^|", "||", "~~", "^^", "::", ";;", "##", "@@", "|#|")
QUOTE_CHARS = ('"', "'")

_INT_RE = re.compile(r"-?(?:0|[1-9]\d*)")
_DECIMAL_RE = {".": re.compile(r"-?(?:0|[1-9]\d*)\.(\d+)"), ",": re.compile(r"-?(?:0|[1-9]\d*),(\d+)")}
_FLOAT_RE = {
    ".": re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?[eE][+-]?\d+"),
    ",": re.compile(r"-?(?:0|[1-9]\d*)(?:,\d+)?[eE][+-]?\d+"),
}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

# Numbers as exports write them: 1,234.56  1.234,56  1 234,56  1'234.50  $1,234.56  € 12,50
# 12,50 €  USD 5.00  (1,234.56)  1.234,56-  12.5%. Group marks in preference order.
_GROUP_MARKS = (",", ".", " ", "\u00a0", "\u202f", "\u2009", "'", "\u2019")
_SPACES = " \u00a0\u202f"
_CURRENCY_SIGNS = "".join(chr(c) for c in range(0x20, 0x2100) if unicodedata.category(chr(c)) == "Sc")
# ISO 4217 codes of the currencies exports write most; any other three letters are a code prefix
# (``INV-10400`` is an invoice number, not a negative amount).
CURRENCY_CODES = (
    "USD EUR GBP CHF JPY CNY CAD AUD NZD SEK NOK DKK PLN CZK HUF RON BGN TRY RUB INR BRL MXN ZAR HKD SGD KRW "
    "ILS AED SAR THB IDR MYR PHP TWD ARS CLP COP PEN UAH ISK"
).split()
_CURRENCY = rf"(?:{'|'.join(CURRENCY_CODES)}|R\$|kr|Kč|zł|Fr\.|[{re.escape(_CURRENCY_SIGNS)}])"
_NUMBER_SHAPE = re.compile(
    rf"(?P<open>\()?(?P<lead>-)?(?P<prefix>{_CURRENCY}[{_SPACES}]?)?(?P<mid>-)?"
    rf"(?P<body>\d(?:[\d.,'\u2019{_SPACES}\u2009]*\d)?)"
    rf"(?P<trail>-)?(?P<suffix>[{_SPACES}]?(?:{_CURRENCY}|%))?(?P<close>\))?"
)


class FileFormatError(SourceError, ValueError):
    """A delimited file cannot be read faithfully; the message names the file and the remedy."""


class ValueMisfitError(FileFormatError):
    """A value does not read as the type its column was given (from the rows read before it)."""

    def __init__(self, message: str, column: str) -> None:
        super().__init__(message)
        self.misfit_column = column


def as_text_column(column: FileColumn) -> FileColumn:
    """The column read as STRING: every value kept exactly as written (for a value that fits no type)."""
    return column.model_copy(
        update={
            "type": "STRING",
            "temporal_format": None,
            "decimal_comma": False,
            "scale": None,
            "true_false": None,
            "number": None,
            "utc_offset": None,
            "utc_offsets": None,
            "time_zone": None,
            "time_zone_values": 0,
            "null_spellings": None,
            "day_month_assumed": False,
        }
    )


# ---------------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------------


def detect_encoding(data: bytes, source: str) -> tuple[str, str]:
    """``(encoding, text)`` of a file, or ``FileFormatError`` when it is binary or unreadable."""
    for bom, name in _UTF_BOMS:
        if data.startswith(bom):
            raise FileFormatError(f"{source} is {name} text (byte order mark found): re-export it as UTF-8")
    for signature, what in _BINARY_SIGNATURES:
        if data.startswith(signature):
            raise FileFormatError(f"{source} is binary content, {what}; bqsynth reads delimited text files only")
    if b"\x00" in data:
        if _looks_like_utf16(data):
            raise FileFormatError(
                f"{source} looks like UTF-16 or UTF-32 text without a byte order mark: re-export it as UTF-8"
            )
        raise FileFormatError(f"{source} is binary content (NUL bytes): bqsynth reads delimited text files only")
    controls = _control_bytes(data)
    if controls > 0.01 * len(data):
        raise FileFormatError(
            f"{source} is binary content ({controls} control bytes): bqsynth reads delimited text files only"
        )
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return "utf-8-sig", data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise FileFormatError(
                f"{source} starts with a UTF-8 byte order mark but is not valid UTF-8 "
                f"(byte {error.start}): re-export it as UTF-8"
            ) from error
    try:
        return "utf-8", data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    c1 = sorted({byte for byte in data if 0x80 <= byte <= 0x9F})
    if c1:
        shown = ", ".join(f"0x{byte:02X}" for byte in c1[:5])
        raise FileFormatError(
            f"{source} has an unknown encoding: it is not UTF-8, and bytes {shown} would be control characters "
            "in Latin-1 (probably Windows-1252): re-export it as UTF-8"
        )
    return "latin-1", data.decode("latin-1")


def _control_bytes(data: bytes) -> int:
    """Control bytes in ``data``, not counting the most frequent separator byte (0x1F, 0x01 ...)."""
    tally = Counter(byte for byte in data if byte in _CONTROL_BYTES)
    separators = [byte for byte in _SEPARATOR_BYTES if tally[byte]]
    delimiter = max(separators, key=lambda byte: (tally[byte], -byte), default=None)
    return sum(count for byte, count in tally.items() if byte != delimiter)


def _looks_like_utf16(data: bytes) -> bool:
    # ASCII text in UTF-16 has a NUL in every other byte; binary data has them scattered.
    sample = data[:4096]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    half = max(len(sample) // 2, 1)
    return max(even, odd) > 0.4 * half


def decode_as(data: bytes, fmt: FileFormat, source: str) -> str:
    """The text of a file in the (already detected) encoding of ``fmt``."""
    try:
        return data.decode(fmt.encoding)
    except UnicodeDecodeError as error:
        raise FileFormatError(
            f"{source} is not valid {fmt.encoding} (byte {error.start}) although its format says so: "
            "export all files of one table with the same encoding"
        ) from error


# ---------------------------------------------------------------------------------------------
# Tokenizing: records with their quoting, line numbers and raw text
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One record of a delimited text: its fields, which were quoted, and where it came from."""

    fields: list[str]
    quoted: list[bool]
    line: int  # 1-based physical line on which the record starts
    raw: str  # the source text of the record without its terminator
    terminator: str  # "\n", "\r\n", or "" for a last line without one

    @property
    def is_blank(self) -> bool:
        return self.raw == ""


def tokenize(
    text: str,
    delimiter: str,
    quotechar: str | None,
    escapechar: str | None,
    source: str,
    *,
    lenient: bool = False,
    first_line: int = 1,
) -> list[Record]:
    """Split text into records the way an RFC 4180 reader does, keeping what the writer must know.

    A quote opens a field only at its start; inside quotes a doubled quote (or the escape
    character and a quote) is a quote and newlines are data. ``lenient`` ends an unclosed
    quote at the end of the text instead of refusing (used on the sniffing sample, which may
    cut a quoted field in two). ``first_line`` numbers the lines of a text that continues a file.
    """
    stops = re.compile("|".join(re.escape(s) for s in (delimiter, "\n", *([escapechar] if escapechar else []))))
    records: list[Record] = []
    length, pos, line = len(text), 0, first_line
    while pos < length:
        start = pos
        newline = text.find("\n", pos)
        stop = length if newline < 0 else newline
        line_text = text[pos:stop]
        if not (quotechar and quotechar in line_text) and not (escapechar and escapechar in line_text):
            # Nothing quoted or escaped on this line (the usual case): the record is the line split.
            records.append(_plain_record(line_text, delimiter, line, newline >= 0))
            pos = stop + 1 if newline >= 0 else length
            line += newline >= 0
            continue
        fields: list[str] = []
        quoted: list[bool] = []
        while True:
            if quotechar and text.startswith(quotechar, pos):
                value, pos = _scan_quoted(text, pos, quotechar, escapechar, source, line, lenient)
                tail, pos = _scan_unquoted(text, pos, stops, delimiter, escapechar)
                # Text after the closing quote is kept (as csv does); "\r" before "\n" is the CRLF.
                fields.append(value + tail)
                quoted.append(True)
            else:
                value, pos = _scan_unquoted(text, pos, stops, delimiter, escapechar)
                fields.append(value)
                quoted.append(False)
            if pos < length and text.startswith(delimiter, pos):
                pos += len(delimiter)
                continue
            break
        end = pos
        if pos < length:  # at "\n"
            pos += 1
            terminator = "\n"
            if text[end - 1 : end] == "\r" and fields[-1].endswith("\r"):
                fields[-1] = fields[-1][:-1]
                terminator = "\r\n"
                end -= 1
        else:
            terminator = ""
        records.append(Record(fields, quoted, line, text[start:end], terminator))
        line += text.count("\n", start, pos)
    return records


def _plain_record(line_text: str, delimiter: str, line: int, terminated: bool) -> Record:
    """A record of one line without quotes or escapes, as the general scan would read it."""
    fields = line_text.split(delimiter)
    if terminated and line_text.endswith("\r"):
        fields[-1] = fields[-1][:-1]
        return Record(fields, [False] * len(fields), line, line_text[:-1], "\r\n")
    return Record(fields, [False] * len(fields), line, line_text, "\n" if terminated else "")


def _scan_quoted(
    text: str, pos: int, quotechar: str, escapechar: str | None, source: str, line: int, lenient: bool
) -> tuple[str, int]:
    parts: list[str] = []
    i = pos + 1
    while True:
        j = text.find(quotechar, i)
        if escapechar:
            k = text.find(escapechar, i)
            if k != -1 and (j == -1 or k < j):
                parts.append(text[i:k])
                parts.append(text[k + 1 : k + 2])
                i = k + 2
                continue
        if j == -1:
            if lenient:
                parts.append(text[i:])
                return "".join(parts), len(text)
            raise FileFormatError(
                f"{source}: the quoted field opened on line {line} is never closed: fix the quoting "
                "(a quote inside a quoted field must be doubled) and re-export the file"
            )
        parts.append(text[i:j])
        if text.startswith(quotechar, j + 1):
            parts.append(quotechar)
            i = j + 2
            continue
        return "".join(parts), j + 1


def _scan_unquoted(
    text: str, pos: int, stops: re.Pattern[str], delimiter: str, escapechar: str | None
) -> tuple[str, int]:
    if not escapechar:
        match = stops.search(text, pos)
        end = match.start() if match else len(text)
        return text[pos:end], end
    parts: list[str] = []
    while True:
        match = stops.search(text, pos)
        end = match.start() if match else len(text)
        parts.append(text[pos:end])
        pos = end
        if match is None or not escapechar or match.group() != escapechar:
            return "".join(parts), pos
        following = text[end + 1 : end + 2]
        # MySQL's \N is a null marker, not an escaped N: keep it literally.
        if following == "N" and (end + 2 >= len(text) or text.startswith((delimiter, "\n", "\r"), end + 2)):
            parts.append("\\N")
        else:
            parts.append(following or escapechar)
        pos = end + 2


def decode_chunks(chunks: Iterable[bytes], encoding: str, source: str) -> Iterator[str]:
    """The text of a file read in byte chunks, decoded incrementally (a character or a byte order
    mark cut by a chunk boundary is completed by the next chunk)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    for chunk in chunks:
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as error:
            raise _not_encoded_as(source, encoding, offset + error.start) from error
        offset += len(chunk)
        if text:
            yield text
    try:
        text = decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:
        raise _not_encoded_as(source, encoding, offset) from error
    if text:
        yield text


def _not_encoded_as(source: str, encoding: str, offset: int) -> FileFormatError:
    return FileFormatError(
        f"{source} is not valid {encoding} (near byte {offset}) although its format says so (detected from the "
        "start of the file): export all of the file, and all files of one table, with the same encoding"
    )


def iter_records(
    texts: Iterable[str],
    delimiter: str,
    quotechar: str | None,
    escapechar: str | None,
    source: str,
    *,
    complete: bool = True,
    max_record_chars: int = MAX_RECORD_CHARS,
) -> Iterator[Record]:
    """``tokenize`` over a text that arrives in pieces, one record at a time.

    A record is final once the newline that ends it has arrived outside quotes; the rest of a
    piece (a record cut by the piece's end, even inside a quoted field, a doubled quote, a
    CRLF or a multi-character delimiter) waits for the next piece, so the records are exactly
    those ``tokenize`` finds in the whole text. Only the waiting record is held in memory: one
    longer than ``max_record_chars`` is refused, which is what an unclosed quote in a large
    file looks like. ``complete=False`` drops a last record without its newline (the text is a
    head cut off from the rest of the file).
    """
    carry, line = "", 1
    for text in texts:
        buffer = carry + text
        if "\n" not in text:  # no record can end in this piece: only its newline ends one
            carry = buffer
            check_record_length(carry, line, source, max_record_chars)
            continue
        records = tokenize(buffer, delimiter, quotechar, escapechar, source, lenient=True, first_line=line)
        if records and not records[-1].terminator:
            records.pop()
        consumed = sum(len(r.raw) + len(r.terminator) for r in records)
        line += buffer.count("\n", 0, consumed)
        carry = buffer[consumed:]
        check_record_length(carry, line, source, max_record_chars)
        yield from records
    if carry and complete:
        # Strict at the end: a quoted field never closed is refused as tokenize refuses it.
        yield from tokenize(carry, delimiter, quotechar, escapechar, source, first_line=line)


def check_record_length(carry: str, line: int, source: str, limit: int) -> None:
    if len(carry) > limit:
        raise FileFormatError(
            f"{source}: the record starting on line {line} is longer than {limit:,} characters: a quoted field "
            "is probably never closed; fix the quoting (a quote inside a quoted field must be doubled) and "
            "re-export the file"
        )


# ---------------------------------------------------------------------------------------------
# Values: typing, parsing and spelling
# ---------------------------------------------------------------------------------------------

_MONTH_NAMES = (
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
)
_DIRECTIVE_RE = {
    "%Y": r"\d{4}",
    "%y": r"\d{2}",
    "%m": r"(?:0[1-9]|1[0-2])",
    "%-m": r"(?:[1-9]|1[0-2])",
    "%d": r"(?:0[1-9]|[12]\d|3[01])",
    "%-d": r"(?:[1-9]|[12]\d|3[01])",
    "%b": "(?:" + "|".join(m[:3] for m in _MONTH_NAMES) + ")",
    "%^b": "(?:" + "|".join(m[:3].upper() for m in _MONTH_NAMES) + ")",
    "%B": "(?:" + "|".join(_MONTH_NAMES) + ")",
    "%H": r"(?:[01]\d|2[0-3])",
    "%-H": r"(?:1?\d|2[0-3])",
    "%I": r"(?:0[1-9]|1[0-2])",
    "%-I": r"(?:[1-9]|1[0-2])",
    "%p": r"(?:AM|PM)",
    "%M": r"[0-5]\d",
    "%S": r"[0-5]\d",
    "%f": r"\d{6}",
    **{f"%{n}f": rf"\d{{{n}}}" for n in range(1, 10)},
    "%z": r"[+-]\d{4}",
    "%:z": r"[+-]\d{2}:\d{2}",
    "%:Z": r"(?:Z|[+-]\d{2}:\d{2})",
}
# Directives beyond strptime's: %-d %-m %-H %-I (unpadded), %^b (JAN), %3f/%9f (n fraction
# digits; %f is 6), %:z (+01:00), %:Z (Z or +01:00). Python's strftime lacks them or has them only
# on glibc.
_DIRECTIVE_SPLIT = re.compile(r"(%:[zZ]|%[-^]?[A-Za-z]|%[1-9]f)")
_FRACTION = re.compile(r"%([1-9])f")
_PATTERN_CACHE: dict[str, re.Pattern[str]] = {}


def format_regex(pattern: str) -> re.Pattern[str]:
    """A strict regular expression for a strftime pattern: the fraction of seconds and the UTC offset captured."""
    cached = _PATTERN_CACHE.get(pattern)
    if cached is None:
        pieces = []
        for part in _DIRECTIVE_SPLIT.split(pattern):
            if part and (_FRACTION.fullmatch(part) or part == "%f"):
                pieces.append(f"(?P<fraction>{_DIRECTIVE_RE[part]})")
            elif part in ("%z", "%:z", "%:Z"):
                pieces.append(f"(?P<offset>{_DIRECTIVE_RE[part]})")
            elif part:
                pieces.append(_DIRECTIVE_RE.get(part, re.escape(part)))
        cached = _PATTERN_CACHE[pattern] = re.compile("".join(pieces))
    return cached


# The fields of a datetime each directive writes, for the compiled reading of ``_fields_regex``.
_FIELD_OF = {
    "%Y": "Y",
    "%y": "y",
    "%m": "m",
    "%-m": "m",
    "%d": "d",
    "%-d": "d",
    "%b": "b",
    "%^b": "b",
    "%B": "b",
    "%H": "H",
    "%-H": "H",
    "%I": "I",
    "%-I": "I",
    "%p": "p",
    "%M": "M",
    "%S": "S",
}
_MONTH_NUMBERS = {
    **{name.lower(): n for n, name in enumerate(_MONTH_NAMES, 1)},
    **{name[:3].lower(): n for n, name in enumerate(_MONTH_NAMES, 1)},
}


@functools.lru_cache(maxsize=512)
def _fields_regex(pattern: str) -> re.Pattern[str] | None:
    """``format_regex`` with every field captured by name, or None when a field occurs twice (or a
    directive is unknown): what ``_compiled_strptime`` reads without ``datetime.strptime``."""
    pieces, seen = [], set()
    for part in _DIRECTIVE_SPLIT.split(pattern):
        if not part:
            continue
        field = _FIELD_OF.get(part)
        if _FRACTION.fullmatch(part) or part == "%f":
            field = "fraction"
        elif part in ("%z", "%:z", "%:Z"):
            field = "offset"
        elif field is None:
            if _DIRECTIVE_SPLIT.fullmatch(part):
                return None
            pieces.append(re.escape(part))
            continue
        if field in seen:
            return None
        seen.add(field)
        pieces.append(f"(?P<{field}>{_DIRECTIVE_RE[part]})")
    return re.compile("".join(pieces))


def _compiled_strptime(match: re.Match[str]) -> dt.datetime | None:
    """The datetime ``datetime.strptime`` gives a text ``_fields_regex`` matched, without its
    per-call pattern handling (the largest cost of profiling a file of distinct timestamps):
    the same defaults (1900-01-01 00:00), two-digit years (69-99: 1900s, else 2000s), 12-hour
    clocks, and ``ValueError`` for a day the month lacks; None for an offset of over 59 minutes,
    which strptime refuses with its own message."""
    fields = match.groupdict()
    if (year_text := fields.get("Y")) is not None:
        year = int(year_text)
    elif (short := fields.get("y")) is not None:
        year = int(short) + (1900 if int(short) >= 69 else 2000)
    else:
        year = 1900
    month_text, name = fields.get("m"), fields.get("b")
    month = int(month_text) if month_text is not None else _MONTH_NUMBERS[name.lower()] if name else 1
    day = int(fields["d"]) if fields.get("d") is not None else 1
    if (twelve := fields.get("I")) is not None:
        hour = int(twelve) % 12 + (12 if fields.get("p") == "PM" else 0)
    else:
        hour = int(fields["H"]) if fields.get("H") is not None else 0
    minute = int(fields["M"]) if fields.get("M") is not None else 0
    second = int(fields["S"]) if fields.get("S") is not None else 0
    fraction = fields.get("fraction")
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    offset = fields.get("offset")
    if offset and offset != "Z" and int(offset[-2:]) > 59:
        return None
    zone = fixed_offset(_offset_of(offset)) if offset else None
    return dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)


def _strptime(text: str, pattern: str) -> dt.datetime:
    """``datetime.strptime`` for the patterns of ``format_regex`` (digits past microseconds dropped)."""
    fields = _fields_regex(pattern)
    found = fields.fullmatch(text) if fields is not None else None
    # A text off the pattern's strict shape (callers check it first) is strptime's to judge.
    moment = _compiled_strptime(found) if found is not None else None
    return moment if moment is not None else _library_strptime(text, pattern)


def _library_strptime(text: str, pattern: str) -> dt.datetime:
    """``_strptime`` through ``datetime.strptime`` (patterns ``_fields_regex`` does not compile;
    and the reference the compiled reading is tested against)."""
    match = format_regex(pattern).fullmatch(text)
    fraction = match.groupdict().get("fraction") if match is not None else None
    if match is not None and fraction is not None:
        start, end = match.span("fraction")
        text = text[:start] + fraction[:6].ljust(6, "0") + text[end:]
        pattern = _FRACTION.sub("%f", pattern)
    # strptime's %z reads +0100, +01:00 and Z alike.
    plain = pattern.replace("%:z", "%z").replace("%:Z", "%z").replace("%^b", "%b")
    return dt.datetime.strptime(text, re.sub(r"%-([dmHI])", r"%\1", plain))


def strftime(moment: dt.datetime | dt.date | dt.time, pattern: str, *, sub_microsecond: str = "") -> str:
    """``strftime`` plus ``%:z`` (``+01:00``), ``%:Z`` (``Z`` or ``+01:00``), unpadded ``%-d %-m %-H %-I``,
    ``%^b`` and ``%3f``.

    A fraction of more than six digits (``%9f``) is the microseconds followed by
    ``sub_microsecond`` (the digits past the microsecond a source wrote), else by zeros.
    """
    if "%:z" in pattern or "%:Z" in pattern:
        offset = moment.utcoffset() if isinstance(moment, (dt.datetime, dt.time)) else None
        text = offset_text(offset or dt.timedelta())
        pattern = pattern.replace("%:z", text).replace("%:Z", "Z" if text == "+00:00" else text)
    values = {
        "%-d": lambda m: str(m.day),
        "%-m": lambda m: str(m.month),
        "%-H": lambda m: str(m.hour),
        "%-I": lambda m: str(m.hour % 12 or 12),
        "%^b": lambda m: _MONTH_NAMES[m.month - 1][:3].upper(),
    }
    for directive, value in values.items():
        if directive in pattern:
            pattern = pattern.replace(directive, value(moment))
    fraction = _FRACTION.search(pattern)
    if fraction is not None:
        digits = f"{getattr(moment, 'microsecond', 0):06d}{sub_microsecond}".ljust(9, "0")[: int(fraction.group(1))]
        pattern = _FRACTION.sub(digits, pattern)
    return moment.strftime(pattern)


def matches_format(text: str, pattern: str) -> bool:
    if not format_regex(pattern).fullmatch(text):
        return False
    try:
        _strptime(text, pattern)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ColumnType:
    """How one column's values are spelled: the type and the details the writer needs."""

    type: str
    temporal_format: str | None = None
    decimal_comma: bool = False
    true_false: tuple[str, str] | None = None
    scale: int | None = None
    number: NumberSpelling | None = None
    utc_offset: str | None = None
    day_month_assumed: bool = False
    utc_offsets: dict[str, float] | None = None
    time_zone: str | None = None
    time_zone_values: int = 0


def infer_type(values: Sequence[str], delimiter: str) -> ColumnType:
    """The type of a column from its non-null values (see rule 7 of the module docstring)."""
    distinct = sorted(set(values))
    if not distinct:
        return ColumnType("STRING")
    boolean = _bool_spelling(distinct)
    if boolean is not None:
        return ColumnType("BOOL", true_false=boolean)
    for kind, formats in (
        ("TIMESTAMP", TIMESTAMP_FORMATS),
        ("DATETIME", DATETIME_FORMATS),
        ("DATE", DATE_FORMATS),
        ("TIME", TIME_FORMATS),
    ):
        for pattern in formats:
            if all(matches_format(value, pattern) for value in distinct):
                if pattern == "%Y%m%d" and not all(1900 <= int(v[:4]) <= 2199 for v in distinct):
                    continue
                swapped = swap_day_month(pattern)
                return ColumnType(
                    kind,
                    temporal_format=pattern,
                    day_month_assumed=swapped != pattern and all(matches_format(v, swapped) for v in distinct),
                    **(offset_spelling(values, pattern) if kind == "TIMESTAMP" else {}),
                )
    number = number_type(distinct, delimiter)
    if number is not None:
        return number
    for mark in [".", *([","] if delimiter != "," else [])]:
        if all(
            _FLOAT_RE[mark].fullmatch(v) or _DECIMAL_RE[mark].fullmatch(v) or _INT_RE.fullmatch(v) for v in distinct
        ):
            bare = any(_INT_RE.fullmatch(v) for v in distinct)
            return ColumnType(
                "FLOAT64", decimal_comma=mark == ",", number=NumberSpelling(bare_integers=True) if bare else None
            )
    return ColumnType("STRING")


def swap_day_month(pattern: str) -> str:
    """``%d/%m/%Y`` -> ``%m/%d/%Y`` (unpadded too): the other reading of an all-digit date."""
    if "%b" in pattern or "%B" in pattern or "%^b" in pattern:
        return pattern
    return re.sub(r"%(-?)([dm])", lambda m: f"%{m.group(1)}{'m' if m.group(2) == 'd' else 'd'}", pattern)


def offset_text(offset: dt.timedelta) -> str:
    """``+01:00`` for a UTC offset (whole minutes, as every zone of the tz database since 1972)."""
    seconds = int(offset.total_seconds())
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"{'-' if seconds < 0 else '+'}{hours:02d}:{minutes:02d}"


def _offset_of(text: str) -> str:
    """``+01:00`` from an offset as ``%z``, ``%:z`` or ``%:Z`` write it (``+0100``, ``+01:00``, ``Z``)."""
    if text == "Z":
        return "+00:00"
    digits = text[1:].replace(":", "")
    return f"{text[0]}{digits[:2]}:{digits[2:]}"


def _written_offsets(values: Sequence[str], pattern: str) -> Counter[str]:
    regex = format_regex(pattern)
    offsets: Counter[str] = Counter()
    for value in values:
        match = regex.fullmatch(value)
        if match is not None and match.group("offset"):
            offsets[_offset_of(match.group("offset"))] += 1
    return offsets


def offset_spelling(values: Sequence[str], pattern: str) -> dict[str, Any]:
    """How a TIMESTAMP column chooses the UTC offset it writes (``ColumnType`` fields; values are UTC).

    One offset other than UTC: ``utc_offset``. Several: ``time_zone`` when one IANA zone gives
    every value its offset (a zone with daylight saving writes ``+01:00`` in winter, ``+02:00``
    in summer), with the number of distinct values that showed it; else ``utc_offsets``, each
    offset and its share of the values.
    """
    if not any(directive in pattern for directive in ("%z", "%:z", "%:Z")):
        return {}
    offsets = _written_offsets(values, pattern)
    if len(offsets) == 1:
        offset = next(iter(offsets))
        return {"utc_offset": offset} if offset != "+00:00" else {}
    if not offsets:
        return {}
    moments = {_strptime(v, pattern) for v in set(values)}
    zone = consistent_zone(moments)
    if zone is not None:
        return {"time_zone": zone, "time_zone_values": len(moments)}
    total = sum(offsets.values())
    return {"utc_offsets": {o: round(n / total, 4) for o, n in sorted(offsets.items())}}


# Zones of the tz database named Area/Location: the legacy names (CET, EST5EDT, US/Eastern, Etc/GMT+1)
# are aliases or fixed offsets, never the better name for a zone the values show.
_ZONE_AREAS = ("Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")


@functools.cache
def candidate_zones() -> tuple[str, ...]:
    """Every Area/Location zone of the standard library's tz database, in alphabetical order."""
    import zoneinfo

    return tuple(sorted(z for z in zoneinfo.available_timezones() if z.split("/", 1)[0] in _ZONE_AREAS))


@functools.cache
def zone_info(name: str) -> dt.tzinfo:
    import zoneinfo

    return zoneinfo.ZoneInfo(name)


def consistent_zone(moments: Iterable[dt.datetime]) -> str | None:
    """The first zone (alphabetically: a stable choice) in which every aware moment has the offset it
    was written with, or None. Zones that agree on every moment seen write every such moment the same
    way (Europe/Berlin and Europe/Paris); the order only makes the choice reproducible."""
    pairs = sorted({(m.astimezone(dt.UTC), m.utcoffset()) for m in moments if m.utcoffset() is not None})
    if len({offset for _, offset in pairs}) < 2:
        return None
    for name in candidate_zones():
        zone = zone_info(name)
        if all(instant.astimezone(zone).utcoffset() == offset for instant, offset in pairs):
            return name
    return None


@dataclass(frozen=True)
class _NumberParts:
    body: str
    prefix: str
    suffix: str
    negative: str | None  # the style of a negative value, None for a positive one


def _number_parts(text: str) -> _NumberParts | None:
    match = _NUMBER_SHAPE.fullmatch(text)
    if match is None or bool(match["open"]) != bool(match["close"]):
        return None
    signs = [
        style
        for style, group in (
            ("parentheses", "open"),
            ("minus", "lead"),
            ("minus_after_prefix", "mid"),
            ("trailing_minus", "trail"),
        )
        if match[group]
    ]
    if len(signs) > 1 or (signs == ["minus_after_prefix"] and not match["prefix"]):
        return None
    return _NumberParts(match["body"], match["prefix"] or "", match["suffix"] or "", signs[0] if signs else None)


@functools.lru_cache(maxsize=64)
def _body_regex(decimal_mark: str, group_mark: str) -> re.Pattern[str]:
    whole = rf"0|[1-9]\d{{0,2}}(?:{re.escape(group_mark)}\d{{3}})*" if group_mark else r"0|[1-9]\d*"
    return re.compile(rf"(?:{whole})(?:{re.escape(decimal_mark)}(\d+))?")


def _number_marks(bodies: Sequence[str], delimiter: str, spelled: bool) -> tuple[str, str] | None:
    """The (decimal mark, group mark) every body fits, first in preference order (rule 7).

    A lone ``1.234`` reads as a decimal point and ``1,234`` as a decimal comma (in a comma
    delimited file only next to a group mark, ``"1.234,56"``), but a reading giving every
    value the same number of decimals wins (``12`` and ``1.500`` are grouped integers); a
    group mark must occur in some value, and a plain space groups only next to decimals or a
    currency (``555 123`` is more likely a phone number).
    """
    plain = [(".", ""), *([(",", "")] if delimiter != "," else [])]
    pairs = plain + [(d, g) for d in (".", ",") for g in _GROUP_MARKS if g != d]
    fitting: list[tuple[tuple[str, str], bool]] = []
    for decimal_mark, group_mark in pairs:
        if group_mark and not any(group_mark in b for b in bodies):
            continue
        regex = _body_regex(decimal_mark, group_mark)
        fits = [regex.fullmatch(b) for b in bodies]
        if not all(fits):
            continue
        if group_mark == " " and not spelled and not any(f and f.group(1) for f in fits):
            continue
        uniform = len({len(f.group(1) or "") for f in fits if f}) == 1
        fitting.append(((decimal_mark, group_mark), uniform))
    # "12" next to "1.500": grouped integers, not a mix of scales 0 and 3.
    return next((marks for marks, uniform in fitting if uniform), fitting[0][0] if fitting else None)


def number_type(distinct: Sequence[str], delimiter: str) -> ColumnType | None:
    """INT64, NUMERIC or FLOAT64 with the column's spelling, when every value is one number (rule 7)."""
    parts = [_number_parts(v) for v in distinct]
    if not all(parts):
        return None
    parsed = [p for p in parts if p is not None]
    prefixes, suffixes = {p.prefix for p in parsed}, {p.suffix for p in parsed}
    styles = {p.negative for p in parsed if p.negative}
    if len(prefixes) > 1 or len(suffixes) > 1 or len(styles) > 1:
        return None
    prefix, suffix = prefixes.pop(), suffixes.pop()
    marks = _number_marks([p.body for p in parsed], delimiter, bool(prefix or suffix))
    if marks is None:
        return None
    decimal_mark, group_mark = marks
    regex = _body_regex(decimal_mark, group_mark)
    scales = [len(m.group(1) or "") for m in (regex.fullmatch(p.body) for p in parsed) if m]
    spelling = NumberSpelling(
        group_mark=group_mark, prefix=prefix, suffix=suffix, negative=styles.pop() if styles else "minus"
    )
    comma = decimal_mark == ","
    if not any(scales):
        if not all(_INT64_MIN <= int(_canonical_number(v, spelling, comma)) <= _INT64_MAX for v in distinct):
            return None
        return ColumnType("INT64", number=_plain_or(spelling))
    if len(set(scales)) == 1 and scales[0] <= MAX_NUMERIC_SCALE:
        return ColumnType("NUMERIC", scale=scales[0], decimal_comma=comma, number=_plain_or(spelling))
    spelling = spelling.model_copy(update={"bare_integers": 0 in scales})
    return ColumnType("FLOAT64", decimal_comma=comma, number=_plain_or(spelling))


def _plain_or(spelling: NumberSpelling) -> NumberSpelling | None:
    return None if spelling == NumberSpelling() else spelling


def _canonical_number(text: str, spelling: NumberSpelling | None, decimal_comma: bool) -> str:
    """``-1234.56`` from a spelling such as ``(1.234,56 €)``; ``ValueError`` when it does not fit."""
    spelling = spelling or NumberSpelling()
    parts = _number_parts(text)
    if parts is None or parts.prefix != spelling.prefix or parts.suffix != spelling.suffix:
        raise ValueError(f"not a number spelled like {spelling.prefix}1{spelling.suffix}")
    if parts.negative not in (None, spelling.negative) and not (parts.negative == "minus" and not spelling.prefix):
        raise ValueError(f"a negative number not written {spelling.negative}")
    if parts.negative == "minus_after_prefix" and spelling.negative == "minus":
        raise ValueError("a negative number not written minus")
    decimal_mark = "," if decimal_comma else "."
    if not _body_regex(decimal_mark, spelling.group_mark).fullmatch(parts.body):
        raise ValueError(f"digits not grouped with {spelling.group_mark!r} and {decimal_mark!r} for decimals")
    digits = parts.body.replace(spelling.group_mark, "") if spelling.group_mark else parts.body
    return ("-" if parts.negative else "") + digits.replace(decimal_mark, ".")


def _group(whole: str, mark: str) -> str:
    head = len(whole) % 3 or 3
    return mark.join([whole[:head], *(whole[i : i + 3] for i in range(head, len(whole), 3))])


def spell_number(canonical: str, column: FileColumn) -> str:
    """``-1234.56`` spelled as the column writes numbers (group mark, decimal mark, currency, sign)."""
    spelling = column.number or NumberSpelling()
    negative, digits = canonical.startswith("-"), canonical.lstrip("-")
    mark = "," if column.decimal_comma else "."
    if digits.replace(".", "").isdigit():
        whole, _, fraction = digits.partition(".")
        if spelling.group_mark:
            whole = _group(whole, spelling.group_mark)
        digits = whole + (mark + fraction if fraction else "")
    else:  # exponent, inf, nan
        digits = digits.replace(".", mark)
    prefix, suffix = spelling.prefix, spelling.suffix
    if not negative:
        return f"{prefix}{digits}{suffix}"
    return {
        "minus": f"-{prefix}{digits}{suffix}",
        "minus_after_prefix": f"{prefix}-{digits}{suffix}",
        "parentheses": f"({prefix}{digits}{suffix})",
        "trailing_minus": f"{prefix}{digits}-{suffix}",
    }[spelling.negative]


def _bool_spelling(distinct: Sequence[str]) -> tuple[str, str] | None:
    for true, false in BOOL_SPELLINGS:
        if set(distinct) <= {true, false} and (len(distinct) == 2 or len(true) > 1):
            return true, false
    return None


def is_typed_value(text: str) -> bool:
    """Whether a single value reads as a number, date or time (so it cannot be a header name)."""
    return infer_type([text], "").type not in ("STRING", "BOOL")


_ISO_PATTERNS = frozenset(
    {"%Y-%m-%d", *(f"%Y-%m-%d{sep}%H:%M{seconds}" for sep in ("T", " ") for seconds in ("", ":%S", ":%S.%f"))}
)


def parse_value(text: str, column: FileColumn) -> Any:
    """One non-null source spelling -> the BigQuery JSON form of ``column.type``."""
    kind = column.type
    if kind == "STRING":
        return text
    if kind in NUMERIC_TYPES:
        # Plain spellings (``-12``, ``12.50``) are their own canonical form: no spelling to undo.
        plain = column.number is None and not column.decimal_comma
        if plain and kind == "INT64" and _INT_RE.fullmatch(text):
            return int(text)
        if plain and kind == "NUMERIC" and _DECIMAL_RE["."].fullmatch(text):
            return text
        if kind == "FLOAT64" and column.number is None or (column.number and "e" in text.lower()):
            return float(text.replace(",", ".") if column.decimal_comma else text)
        normal = _canonical_number(text, column.number, column.decimal_comma)
        if kind == "INT64":
            return int(normal)
        if kind == "FLOAT64":
            return float(normal)
        Decimal(normal)  # validates
        return normal
    if kind == "BOOL":
        assert column.true_false is not None
        if text == column.true_false[0]:
            return True
        if text == column.true_false[1]:
            return False
        raise ValueError(f"not one of {column.true_false}")
    pattern = column.temporal_format
    assert pattern is not None
    # One match of the strict shape, whose fields the compiled reading then takes (``_strptime``).
    fields = _fields_regex(pattern) if pattern not in _ISO_PATTERNS else None
    found = (fields or format_regex(pattern)).fullmatch(text)
    if found is None:
        raise ValueError(f"does not match {pattern}")
    if fields is None:
        # ISO spellings need no strptime (the regex has checked the shape; fromisoformat the values).
        moment = dt.datetime.fromisoformat(text) if pattern in _ISO_PATTERNS else _strptime(text, pattern)
    else:
        moment = _compiled_strptime(found) or _library_strptime(text, pattern)
    if kind == "DATE":
        return moment.date().isoformat()
    if kind == "TIME":
        return moment.time().isoformat()
    if kind == "DATETIME":
        return moment.isoformat()
    if moment.tzinfo is None:  # "Z" or " UTC" spelled literally
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat()


def spell_value(value: Any, column: FileColumn, *, offset: str | None = None, sub_microsecond: str = "") -> str:
    """A non-null value in the BigQuery JSON form -> its spelling in the source file.

    A TIMESTAMP is written in ``offset`` when given, else in its column's zone or offset
    (``column_zone``); a fraction longer than six digits ends with ``sub_microsecond``, else zeros.
    """
    kind = column.type
    if kind == "STRING":
        return value if isinstance(value, str) else str(value)
    if kind == "INT64":
        return spell_number(str(int(Decimal(str(value)))) if not isinstance(value, int) else str(value), column)
    if kind == "BOOL":
        true, false = column.true_false or ("true", "false")
        flag = value.strip().lower() in ("true", "1", "yes", "y", "t") if isinstance(value, str) else bool(value)
        return true if flag else false
    if kind == "FLOAT64":
        number = float(value)
        bare = column.number is not None and column.number.bare_integers
        text = str(int(number)) if bare and number.is_integer() and abs(number) < 1e16 else repr(number)
        return spell_number(text, column)
    if kind == "NUMERIC":
        number = Decimal(str(value).replace(",", ".")) if not isinstance(value, Decimal) else value
        text = f"{number:.{column.scale}f}" if column.scale is not None else format(number, "f")
        return spell_number(text, column)
    assert column.temporal_format is not None, f"{column.name}: {kind} column without temporal_format"
    moment = to_temporal(value, kind)
    if kind == "TIMESTAMP" and isinstance(moment, dt.datetime):
        zone = fixed_offset(offset) if offset else column_zone(column)
        if zone is not None:
            moment = moment.astimezone(zone)
    return strftime(moment, column.temporal_format, sub_microsecond=sub_microsecond)


def to_temporal(value: Any, kind: str) -> dt.datetime | dt.date | dt.time:
    """A DATE/DATETIME/TIMESTAMP/TIME value from its ISO text (``T`` or space, zones, ``UTC``) or object."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(" UTC"):
            text = text[:-4] + "+00:00"
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        if kind == "TIME":
            return dt.time.fromisoformat(text)
        if kind == "DATE":
            return dt.date.fromisoformat(text[:10])
        value = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
    if kind == "TIME":
        return value.time() if isinstance(value, dt.datetime) else value
    if kind == "DATE":
        return value.date() if isinstance(value, dt.datetime) else value
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    if kind == "TIMESTAMP":
        value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    elif value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    return value


# ---------------------------------------------------------------------------------------------
# Custom header and trailer lines
# ---------------------------------------------------------------------------------------------


def is_tag_record(record: Record) -> bool:
    """A comment (``# ...``) or a tagged control line (``HDR|...``, ``TRL|...``, ``TOTAL,3``)."""
    first = record.fields[0].strip().upper() if record.fields else ""
    return record.raw.lstrip().startswith("#") or first in TAG_WORDS


def line_fields(text: str, record_count: int) -> list[LineField]:
    """Record counts and dates inside a custom line, left to right, never overlapping."""
    found: list[LineField] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in taken)

    for kind, formats in (("datetime", LINE_DATETIME_FORMATS), ("date", LINE_DATE_FORMATS)):
        for pattern in formats:
            regex = re.compile(r"(?<![0-9])" + format_regex(pattern).pattern + r"(?![0-9])")
            for match in regex.finditer(text):
                start, end = match.span()
                if free(start, end) and matches_format(match.group(), pattern):
                    if 1900 <= _strptime(match.group(), pattern).year <= 2199:
                        found.append(LineField(kind=kind, start=start, end=end, format=pattern))  # type: ignore[arg-type]
                        taken.append((start, end))
    for match in re.finditer(r"(?<![A-Za-z0-9])\d+(?![A-Za-z0-9])", text):
        start, end = match.span()
        if free(start, end) and int(match.group()) == record_count:
            width = len(match.group()) if match.group() != str(record_count) else 0
            found.append(LineField(kind="record_count", start=start, end=end, width=width))
            taken.append((start, end))
    return sorted(found, key=lambda field: field.start)


def custom_line(record: Record, record_count: int) -> CustomLine:
    return CustomLine(text=record.raw, fields=line_fields(record.raw, record_count))


def render_custom_lines(lines: list[CustomLine], *, record_count: int, run_date: dt.date) -> list[str]:
    """The custom lines with record counts and dates rewritten for the output file."""
    rendered: list[str] = []
    for line in lines:
        text = line.text
        for field in sorted(line.fields, key=lambda f: f.start, reverse=True):
            original = line.text[field.start : field.end]
            if field.kind == "record_count":
                new = str(record_count).zfill(field.width)
            elif field.kind == "date":
                new = strftime(run_date, field.format)
            else:
                # Only the date changes; the time of day of the source export is kept.
                moment = _strptime(original, field.format)
                new = strftime(dt.datetime.combine(run_date, moment.timetz()), field.format)
            text = text[: field.start] + new + text[field.end :]
        rendered.append(text)
    return rendered


# ---------------------------------------------------------------------------------------------
# Sniffing
# ---------------------------------------------------------------------------------------------


def _modal_count(counts: Iterable[int]) -> tuple[int, float]:
    """The most common field count (ties: the larger count) and the share of records having it."""
    tally = Counter(counts)
    if not tally:
        return 0, 0.0
    count, hits = max(tally.items(), key=lambda item: (item[1], item[0]))
    return count, hits / sum(tally.values())


def _delimiter_score(sample: str, candidate: str, quotechar: str, source: str) -> tuple[int, float, list[Record]]:
    records = tokenize(sample, candidate, quotechar, None, source, lenient=True)
    counts = [len(r.fields) for r in records if not r.is_blank and not is_tag_record(r)]
    count, share = _modal_count(counts)
    return count, share, records


def _multi_delimiter(sample: str, quotechar: str, source: str) -> str | None:
    """A multi-character delimiter (``||``, ``~|~``) that splits the lines alike (>= 90%) and
    either more consistently than any of its characters alone, or whose characters occur only
    inside it (else ``|`` with an always-empty column would pass for ``||``)."""
    for candidate in MULTI_DELIMITERS:
        if candidate not in sample:
            continue
        count, share, _ = _delimiter_score(sample, candidate, quotechar, source)
        if count < 2 or share < 0.9:
            continue
        singles = [_delimiter_score(sample, c, quotechar, source) for c in sorted(set(candidate))]
        best_single = max((s for n, s, _ in singles if n >= 2), default=0.0)
        only_inside = all(sample.count(c) == sample.count(candidate) * candidate.count(c) for c in set(candidate))
        if share > best_single or only_inside:
            return candidate
    return None


def sniff_delimiter(sample: str, source: str, quotechar: str = '"') -> str:
    """The delimiter giving the most consistent field count > 1 over the sample lines (rule 2)."""
    multi = _multi_delimiter(sample, quotechar, source)
    if multi is not None:
        return multi
    others = sorted(
        {
            c
            for c in sample
            if not c.isalnum()
            and not c.isspace()
            and c not in _VALUE_PUNCTUATION
            and c not in STANDARD_DELIMITERS
            and unicodedata.category(c)[0] in "PS"
        }
    )
    best: tuple[float, int, int] | None = None
    chosen = ","
    for rank, candidate in enumerate((*STANDARD_DELIMITERS, *CONTROL_DELIMITERS, *others)):
        if candidate not in sample or candidate == quotechar:
            continue
        count, share, _ = _delimiter_score(sample, candidate, quotechar, source)
        if count < 2:
            continue
        score = (round(share, 3), count, -rank)
        if best is None or score > best:
            best, chosen = score, candidate
    return chosen


def sniff_quotechar(sample: str, delimiter: str, source: str) -> str:
    """``'`` when fields are wrapped in single quotes and none in double quotes, else ``"`` (rule 3)."""
    records = tokenize(sample, delimiter, '"', None, source, lenient=True)
    double = sum(q for r in records for q in r.quoted)
    single = sum(
        1
        for r in records
        for field, quoted in zip(r.fields, r.quoted, strict=True)
        if not quoted and len(field) >= 2 and field[0] == field[-1] == "'"
    )
    return "'" if single and not double else '"'


def _sniff_escape(text: str, delimiter: str, quotechar: str) -> str | None:
    return "\\" if ("\\" + quotechar) in text or ("\\" + delimiter) in text else None


def _line_terminator(records: Sequence[Record]) -> str:
    ends = Counter(r.terminator for r in records if r.terminator)
    return "\r\n" if ends["\r\n"] > ends["\n"] else "\n"


@dataclass
class _Layout:
    header_records: list[Record]
    trailer_records: list[Record]
    body: list[Record]
    width: int


def _layout(records: list[Record], *, trailers: bool = True) -> _Layout:
    width, _ = _modal_count(len(r.fields) for r in records if not r.is_blank and not is_tag_record(r))
    lead = 0
    while lead < len(records) and is_custom_record(records[lead], width):
        lead += 1
    trail = len(records) - (trailing_custom_records(records[lead:], width) if trailers else 0)
    return _Layout(records[:lead], records[trail:], records[lead:trail], width)


def is_custom_record(record: Record, width: int) -> bool:
    """A custom header or trailer line: a tag line or comment, or a field count other than the data's."""
    return is_tag_record(record) or len(record.fields) != width


def trailing_custom_records(records: Sequence[Record], width: int) -> int:
    """How many of the last records are custom trailer lines (rule 4)."""
    count = 0
    while count < len(records) and is_custom_record(records[-1 - count], width):
        count += 1
    return count


def _choose_null_marker(rows: Sequence[Record], width: int, delimiter: str) -> str:
    """Rule 5: the most frequent non-empty null marker, else the empty field."""
    used: Counter[str] = Counter()
    for index in range(width):
        cells = [(r.fields[index], r.quoted[index]) for r in rows]
        unquoted = Counter(v for v, q in cells if not q)
        for marker in NULL_MARKERS_STRONG:
            used[marker] += unquoted[marker]
        weak = [m for m in NULL_MARKERS_WEAK if unquoted[m]]
        if weak:
            others = [v for v, _ in cells if v not in ("", *NULL_MARKERS_STRONG, *NULL_MARKERS_WEAK)]
            if others and infer_type(others, delimiter).type != "STRING":
                for marker in weak:
                    used[marker] += unquoted[marker]
    ranked = [m for m in (*NULL_MARKERS_STRONG, *NULL_MARKERS_WEAK) if used[m]]
    return max(ranked, key=lambda m: used[m]) if ranked else ""


@dataclass(frozen=True)
class _ColumnNulls:
    marker: str | None  # None: the file's marker, or no NULL seen
    shares: dict[str, float] | None  # a typed column spelling NULL several ways: each spelling's share


def _column_nulls(rows: Sequence[Record], types: Sequence[ColumnType], file_marker: str) -> list[_ColumnNulls]:
    """Rule 5, per column: how each column spells NULL where that differs from the file's marker.

    A STRING column with a marker (``NULL``, ``\\N`` ...) uses it, and an empty field there is
    an empty string; another column uses its most frequent null spelling, the empty field
    included (ties: the file's), and when it uses several, each one's share of its NULLs.
    """
    found: list[_ColumnNulls] = []
    for index, kind in enumerate(types):
        unquoted = Counter(r.fields[index] for r in rows if not r.quoted[index])
        spelled = [m for m in (*NULL_MARKERS_STRONG, *NULL_MARKERS_WEAK) if unquoted[m]]
        weak_ok = file_marker in NULL_MARKERS_WEAK or kind.type != "STRING"
        spelled = [m for m in spelled if m in NULL_MARKERS_STRONG or (weak_ok and m == file_marker)]
        if kind.type != "STRING" and unquoted[""]:
            spelled.append("")
        if not spelled:
            found.append(_ColumnNulls(None, None))
            continue
        best = max(spelled, key=lambda m: (unquoted[m], m == file_marker))
        shares = None
        if kind.type != "STRING" and len(spelled) > 1:
            total = sum(unquoted[m] for m in spelled)
            shares = {m: round(unquoted[m] / total, 4) for m in sorted(spelled)}
        found.append(_ColumnNulls(None if best == file_marker else best, shares))
    return found


def _typing_values(rows: Sequence[Record], index: int, null_marker: str) -> list[str]:
    return [
        r.fields[index]
        for r in rows
        if r.fields[index] != ""
        and not (not r.quoted[index] and (r.fields[index] == null_marker or r.fields[index] in NULL_MARKERS_STRONG))
    ]


def _column_types(rows: Sequence[Record], width: int, null_marker: str, delimiter: str) -> list[ColumnType]:
    return [infer_type(_typing_values(rows, i, null_marker), delimiter) for i in range(width)]


def _looks_like_header(first: Record, rows: Sequence[Record], types: Sequence[ColumnType]) -> bool:
    """Rule 6: is the first data-shaped record a row of column names?"""
    values = [v.strip() for v in first.fields]
    if any(v == "" or v in NULL_MARKERS_STRONG for v in values):
        return False
    if len(set(values)) != len(values) or any(is_typed_value(v) for v in values):
        return False
    if not rows:
        return all(re.match(r"[^\W\d]", v) for v in values)
    if any(t.type != "STRING" for t in types):
        return True
    differing = sum(_shape_differs(v, [r.fields[i] for r in rows if r.fields[i] != ""]) for i, v in enumerate(values))
    return 2 * differing > len(values)


_SHAPE_CLASSES = (str.isdigit, str.isupper, str.islower, lambda c: c == "@", str.isspace)


def _shape_differs(name: str, values: Sequence[str]) -> bool:
    if not values or name in values:
        return not values
    lengths = [len(v) for v in values]
    if not min(lengths) <= len(name) <= max(lengths):
        return True
    for test in _SHAPE_CLASSES:
        in_name = any(test(c) for c in name)
        in_values = [any(test(c) for c in v) for v in values]
        if (all(in_values) and not in_name) or (not any(in_values) and in_name):
            return True
    return False


def _quoting(rows: Sequence[Record], types: Sequence[ColumnType], escapechar: str | None) -> tuple[str, list[bool]]:
    """Rule 8: the quoting style and the per-column ``quoted`` flags."""
    width = len(types)
    flags = []
    for i in range(width):
        non_empty = [r.quoted[i] for r in rows if r.fields[i] != "" or r.quoted[i]]
        flags.append(bool(non_empty) and all(non_empty))
    every = [q for r in rows for q in r.quoted]
    if every and all(every):
        return "all", flags
    if not any(every):
        return ("none" if escapechar else "minimal"), flags
    numeric = [t.type in NUMERIC_TYPES for t in types]
    quoted_any = [any(r.quoted[i] for r in rows) for i in range(width)]
    if any(numeric) and not all(numeric):
        if all(flags[i] == (not numeric[i]) and not (numeric[i] and quoted_any[i]) for i in range(width)):
            return "nonnumeric", flags
    return "minimal", flags


def sniff_format(
    data: bytes, source: str, *, max_ragged_share: float = DEFAULT_MAX_RAGGED_SHARE, complete: bool = True
) -> FileFormat:
    """The exact format of a delimited file (rules in the module docstring), or ``FileFormatError``.

    ``complete=False``: ``data`` is the head of a larger file, cut after a newline. Its last
    record may be cut, so it is dropped; the trailer lines, the record counts in custom lines,
    the final newline and the ragged rows are then the file's end's to tell, and the caller
    that reads the rest completes them (``bqsynth.sources.file_stream``).
    """
    if not data.strip():
        raise FileFormatError(f"{source} is empty: export the table again with a header row and its data rows")
    encoding, text = detect_encoding(data, source)
    if not text.strip():
        raise FileFormatError(f"{source} is empty: export the table again with a header row and its data rows")
    if "\r" in text and "\n" not in text:
        raise FileFormatError(f"{source} uses CR-only (classic Mac) line ends: re-export it with LF or CRLF line ends")
    # Split on "\n" only: str.splitlines also splits on 0x1C-0x1E, which are delimiters here.
    sample = "\n".join(text.split("\n", SNIFF_LINES)[:SNIFF_LINES])
    delimiter = sniff_delimiter(sample, source)
    quotechar = sniff_quotechar(sample, delimiter, source)
    if quotechar != '"':
        delimiter = sniff_delimiter(sample, source, quotechar)
    escapechar = _sniff_escape(text, delimiter, quotechar)
    records = tokenize(text, delimiter, quotechar, escapechar, source, lenient=not complete)
    if not complete and records and not records[-1].terminator:
        records.pop()  # a record cut inside a quoted field by the end of the head
    layout = _layout(records, trailers=complete)
    if not layout.body:
        raise FileFormatError(
            f"{source} has no data rows, only {len(records)} header or comment lines: export the data too"
        )

    good = [r for r in layout.body if len(r.fields) == layout.width]
    core = [r for r in good if r is not layout.body[0]]
    # The possible header row is left out: its names would make every column look like text.
    null_marker = _choose_null_marker(core or good, layout.width, delimiter)
    core_types = _column_types(core, layout.width, null_marker, delimiter)
    has_header = _looks_like_header(layout.body[0], core, core_types)
    data_records = layout.body[1:] if has_header else layout.body
    if not data_records:
        raise FileFormatError(f"{source} has a header row but no data rows: export the data rows too")
    ragged = [r for r in data_records if len(r.fields) != layout.width]
    if complete and len(ragged) > max_ragged_share * len(data_records):
        lines = ", ".join(str(r.line) for r in ragged[:_MAX_LISTED_LINES])
        more = f" and {len(ragged) - _MAX_LISTED_LINES} more" if len(ragged) > _MAX_LISTED_LINES else ""
        raise FileFormatError(
            f"{source} has {len(ragged)} of {len(data_records)} rows with a field count other than "
            f"{layout.width} (lines {lines}{more}), more than the {max_ragged_share:.0%} tolerated: "
            "fix the quoting or the delimiters of those rows and re-export the file"
        )
    rows = [r for r in data_records if len(r.fields) == layout.width]
    types = core_types if has_header else _column_types(rows, layout.width, null_marker, delimiter)
    quoting, flags = _quoting(rows, types, escapechar)
    headers = [v for v in layout.body[0].fields] if has_header else [None] * layout.width
    header_flags = list(layout.body[0].quoted) if has_header else [None] * layout.width
    column_nulls = _column_nulls(rows, types, null_marker)
    fallbacks = [f"column_{i + 1}" for i in range(layout.width)]
    names = unique_names([sanitize_name(h) if h else "" for h in headers], fallbacks)
    columns = [
        FileColumn(
            name=name,
            header=header,
            type=t.type,
            temporal_format=t.temporal_format,
            decimal_comma=t.decimal_comma,
            number=t.number,
            utc_offset=t.utc_offset,
            utc_offsets=t.utc_offsets,
            time_zone=t.time_zone,
            time_zone_values=t.time_zone_values,
            day_month_assumed=t.day_month_assumed,
            true_false=t.true_false,
            scale=t.scale,
            quoted=flag,
            header_quoted=header_flag,
            null_marker=nulls.marker,
            null_spellings=nulls.shares,
        )
        for name, header, t, flag, header_flag, nulls in zip(
            names, headers, types, flags, header_flags, column_nulls, strict=True
        )
    ]
    for column in columns:
        if column.day_month_assumed:
            log.warning(
                "%s, column %s: no value has a day above 12, so the day/month order of %s is assumed "
                "(day first); if the file writes month first, correct temporal_format in the plan",
                source,
                column.name,
                column.temporal_format,
            )
    fmt = FileFormat(
        encoding=encoding,  # type: ignore[arg-type]
        delimiter=delimiter,
        quotechar=quotechar,
        quoting=quoting,  # type: ignore[arg-type]
        escapechar=escapechar,
        line_terminator=_line_terminator(records),  # type: ignore[arg-type]
        has_header=has_header,
        header_lines=[custom_line(r, len(data_records)) for r in layout.header_records],
        trailer_lines=[custom_line(r, len(data_records)) for r in layout.trailer_records],
        columns=columns,
        null_marker=null_marker,
        final_newline=text.endswith("\n"),
        ragged_rows=len(ragged),
    )
    return fmt


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def null_spelling(column: FileColumn, fmt: FileFormat) -> str:
    """How ``column`` writes a NULL: its own marker, else the file's."""
    return fmt.null_marker if column.null_marker is None else column.null_marker


def _field_value(text: str, quoted: bool, column: FileColumn, fmt: FileFormat) -> Any:
    marker = null_spelling(column, fmt)
    if not quoted and (text in (marker, fmt.null_marker) or (column.type != "STRING" and text in NULL_MARKERS_STRONG)):
        return None
    if text == "":
        # An empty field is NULL unless it can be an empty string: in a STRING column, quoted
        # (or unquoted when NULL has its own marker), and not in a file quoting every field.
        empty_string = column.type == "STRING" and (quoted or marker != "")
        return "" if empty_string and not (quoted and fmt.quoting == "all" and marker == "") else None
    return parse_value(text, column)


@dataclass(frozen=True)
class _GroupedNumber:
    """The common spelling of a number column with a group mark and nothing else (``-1,234.56``),
    read without ``_canonical_number``'s general parse, which gives the same value for it."""

    shape: re.Pattern[str]
    group_mark: str
    decimal_mark: str
    kind: str

    def read(self, text: str) -> Any:
        """The value ``parse_value`` gives ``text``, or None when the text is not in the common shape."""
        if not self.shape.fullmatch(text):
            return None
        canonical = text.replace(self.group_mark, "").replace(self.decimal_mark, ".")
        return int(canonical) if self.kind == "INT64" else float(canonical) if self.kind == "FLOAT64" else canonical


def _grouped_number(column: FileColumn) -> _GroupedNumber | None:
    spelling = column.number
    if column.type not in ("INT64", "NUMERIC", "FLOAT64") or spelling is None or not spelling.group_mark:
        return None
    if spelling.prefix or spelling.suffix or spelling.negative != "minus":
        return None
    decimal_mark = "," if column.decimal_comma else "."
    group, point = re.escape(spelling.group_mark), re.escape(decimal_mark)
    # ASCII digits only (\d takes any script's); no exponent, which parse_value reads as a float.
    fraction = "" if column.type == "INT64" else rf"(?:{point}[0-9]+)?"
    shape = re.compile(rf"-?(?:0|[1-9][0-9]{{0,2}}(?:{group}[0-9]{{3}})*){fraction}")
    return _GroupedNumber(shape, spelling.group_mark, decimal_mark, column.type)


class RecordParser:
    """Data records of one format as rows in BigQuery JSON form (``read_records``' parsing).

    A file repeats its values (dates, codes, amounts), so each typed column remembers the
    spellings it has parsed, up to ``cache_size`` of them: the memory stays bounded and a
    repeated value costs one dictionary lookup instead of a strptime or a number regex.
    """

    def __init__(self, fmt: FileFormat, source: str, *, cache_size: int = 4096) -> None:
        self.fmt = fmt
        self.source = source
        self.cache_size = cache_size
        # STRING values are their own text: nothing to remember.
        self._caches: list[dict[str, Any] | None] = [{} if c.type != "STRING" else None for c in fmt.columns]
        self._nulls = [{"", null_spelling(c, fmt), fmt.null_marker, *NULL_MARKERS_STRONG} for c in fmt.columns]
        self._grouped = [_grouped_number(c) for c in fmt.columns]

    def parse(self, record: Record) -> dict[str, Any]:
        """One data record (of ``len(fmt.columns)`` fields) as a row."""
        row: dict[str, Any] = {}
        fmt = self.fmt
        for column, cache, nulls, text, quoted in zip(
            fmt.columns, self._caches, self._nulls, record.fields, record.quoted, strict=True
        ):
            if cache is not None and (known := cache.get(text)) is not None:
                row[column.name] = known
                continue
            try:
                value = _field_value(text, quoted, column, fmt)
            except (ValueError, InvalidOperation, AssertionError) as error:
                spelled = f" in format {column.temporal_format}" if column.type in TEMPORAL_TYPES else ""
                raise ValueMisfitError(
                    f"{self.source}, line {record.line}: value {text!r} of column {column.name} is not a "
                    f"{column.type}{spelled} like the rest of the column ({error}): all files of a table "
                    "must spell a column the same way; fix or remove the value",
                    column.name,
                ) from error
            # Null spellings are not remembered: whether they are NULL depends on their quoting.
            if cache is not None and text not in nulls and len(cache) < self.cache_size:
                cache[text] = value
            row[column.name] = value
        return row

    def null_texts(self) -> set[str]:
        """Every text that may read as NULL in some column (depending on its quoting)."""
        return set().union(*self._nulls)

    def parse_texts(self, index: int, texts: Sequence[str]) -> list[Any]:
        """Column ``index``'s unquoted fields as ``parse`` reads them, a whole column at a time.

        Raises what parsing a value raises (``ValueError`` ...), without the line: the caller
        reads those records with ``parse`` again, whose error names the line and the column.
        """
        column, fmt, cache, nulls = self.fmt.columns[index], self.fmt, self._caches[index], self._nulls[index]
        if cache is None:  # STRING: a value is its text, unless the text spells a NULL
            return [text if text not in nulls else _field_value(text, False, column, fmt) for text in texts]
        grouped = self._grouped[index]
        values = []
        for text in texts:
            value = cache.get(text)
            if value is None:
                value = grouped.read(text) if grouped is not None else None
            if value is None:
                value = _field_value(text, False, column, fmt)
                if text not in nulls and len(cache) < self.cache_size:
                    cache[text] = value
            values.append(value)
        return values


def _parse_rows(records: Sequence[Record], fmt: FileFormat, source: str) -> list[dict[str, Any]]:
    parser = RecordParser(fmt, source)
    return [parser.parse(record) for record in records]


def read_records(data: bytes, fmt: FileFormat, source: str) -> list[dict[str, Any]]:
    """The data rows of a file in ``fmt``, keyed by column name, values in BigQuery JSON form.

    Custom lines and the header row are checked against ``fmt`` (a different header means a
    different file layout); rows with a wrong field count are skipped within the ragged
    tolerance, as ``sniff_format`` did.
    """
    return _parse_rows(_data_records(data, fmt, source), fmt, source)


def read_spelled(
    data: bytes, fmt: FileFormat, source: str
) -> tuple[list[dict[str, Any]], list[dict[str, CellSpelling]]]:
    """``read_records``' rows, and for each row the free choices its cells made (``CellSpelling``).

    What a byte-identical rewrite of the source needs besides its rows and its format; the rows
    are exactly ``read_records``' (canonical values: UTC timestamps, microseconds).
    """
    records = _data_records(data, fmt, source)
    rows = _parse_rows(records, fmt, source)
    return rows, [record_spellings(record, row, fmt) for record, row in zip(records, rows, strict=True)]


def _data_records(data: bytes, fmt: FileFormat, source: str) -> list[Record]:
    text = decode_as(data, fmt, source)
    quotechar = None if fmt.quoting == "none" else fmt.quotechar
    records = tokenize(text, fmt.delimiter, quotechar, fmt.escapechar, source)
    skip_head, skip_tail = len(fmt.header_lines), len(fmt.trailer_lines)
    if len(records) < skip_head + skip_tail + int(fmt.has_header):
        raise FileFormatError(
            f"{source} has only {len(records)} lines, fewer than the format's custom lines and header: "
            "all files of a table must have the same layout"
        )
    body = records[skip_head : len(records) - skip_tail]
    width = len(fmt.columns)
    if fmt.has_header:
        header, body = body[0], body[1:]
        expected = [c.header for c in fmt.columns]
        if header.fields != expected:
            raise FileFormatError(
                f"{source} has the header {header.fields} on line {header.line}, expected {expected}: "
                "all files of a table must have the same columns in the same order"
            )
    good = [r for r in body if len(r.fields) == width]
    ragged = len(body) - len(good)
    if ragged > DEFAULT_MAX_RAGGED_SHARE * max(len(body), 1) and ragged > fmt.ragged_rows:
        lines = ", ".join([str(r.line) for r in body if len(r.fields) != width][:_MAX_LISTED_LINES])
        raise FileFormatError(
            f"{source} has {ragged} rows without {width} fields (lines {lines}): check that it uses the "
            f"delimiter {fmt.delimiter!r} like the other files of the table, or fix those rows"
        )
    return good


# ---------------------------------------------------------------------------------------------
# The free choices of a spelling: what the format alone does not fix
# ---------------------------------------------------------------------------------------------

_OFFSET_TEXT = re.compile(r"[+-](?:[01]\d|2[0-3]):[0-5]\d")


@dataclass(frozen=True)
class CellSpelling:
    """The free choices a source made in spelling one cell, beyond its value and its column's format.

    Only these degrees of freedom, never the cell's text (a rewrite from the text would be
    identical whatever the format got wrong): which NULL spelling of its column (``null``),
    which UTC offset a TIMESTAMP was written in (``offset``, ``+01:00``), and the digits past
    the microsecond of a longer fraction (``sub_microsecond``, ``789`` of ``.123456789``),
    which BigQuery's microsecond types cannot hold. Unset = the column's default.
    """

    null: str | None = None
    offset: str | None = None
    sub_microsecond: str = ""

    def __post_init__(self) -> None:
        if self.null is not None and self.null not in ("", *NULL_MARKERS_STRONG, *NULL_MARKERS_WEAK):
            raise ValueError(f"{self.null!r} is not a NULL spelling")
        if self.offset is not None and not _OFFSET_TEXT.fullmatch(self.offset):
            raise ValueError(f"{self.offset!r} is not a UTC offset such as +01:00")
        if self.sub_microsecond and not (len(self.sub_microsecond) <= 3 and self.sub_microsecond.isdigit()):
            raise ValueError(f"{self.sub_microsecond!r} is not up to 3 digits past the microsecond")


def record_spellings(record: Record, row: Mapping[str, Any], fmt: FileFormat) -> dict[str, CellSpelling]:
    """The cells of one data record whose spelling is not their column's default, by column name."""
    found: dict[str, CellSpelling] = {}
    for column, text in zip(fmt.columns, record.fields, strict=True):
        value = row[column.name]
        if value is None:
            if text != null_spelling(column, fmt) and text in ("", *NULL_MARKERS_STRONG, *NULL_MARKERS_WEAK):
                found[column.name] = CellSpelling(null=text)
            continue
        if column.type not in ("TIMESTAMP", "DATETIME", "TIME") or column.temporal_format is None:
            continue
        match = format_regex(column.temporal_format).fullmatch(text)
        if match is None:
            continue
        groups = match.groupdict()
        fraction, written = groups.get("fraction") or "", groups.get("offset")
        past = fraction[6:] if fraction[6:].strip("0") else ""
        offset = None
        if written is not None:
            offset = _offset_of(written)
            if not column.utc_offsets and offset == default_offset(column, to_temporal(value, "TIMESTAMP")):
                offset = None
        if past or offset:
            found[column.name] = CellSpelling(offset=offset, sub_microsecond=past)
    return found


def default_offset(column: FileColumn, instant: Any) -> str:
    """The offset a TIMESTAMP column writes ``instant`` in when nothing else says: its zone's, its one offset, UTC."""
    zone = column_zone(column)
    if zone is None or not isinstance(instant, dt.datetime):
        return "+00:00"
    offset = instant.astimezone(zone).utcoffset()
    return offset_text(offset) if offset is not None else "+00:00"


@functools.lru_cache(maxsize=256)
def _zone_of(time_zone: str | None, utc_offset: str | None) -> dt.tzinfo | None:
    if time_zone:
        return zone_info(time_zone)
    if utc_offset:
        return fixed_offset(utc_offset)
    return None


def column_zone(column: FileColumn) -> dt.tzinfo | None:
    """The zone a TIMESTAMP column writes its values in: its inferred IANA zone, its one offset, or None (UTC)."""
    return _zone_of(column.time_zone, column.utc_offset)


@functools.lru_cache(maxsize=256)
def fixed_offset(offset: str) -> dt.timezone:
    hours, minutes = offset[1:].split(":")
    delta = dt.timedelta(hours=int(hours), minutes=int(minutes))
    return dt.timezone(-delta if offset[0] == "-" else delta)


def draw(shares: Mapping[str, float], key: str) -> str:
    """One of ``shares``' keys, with its share, as a stable function of ``key`` (not of any random state).

    The writer of synthetic files spells a NULL or picks an offset with it, keyed by the seed,
    the file, the column and the row: the same plan writes the same bytes.
    """
    point = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") / 2**64
    total = sum(shares.values())
    cumulative = 0.0
    choices = sorted(shares)
    for choice in choices:
        cumulative += shares[choice] / total
        if point < cumulative:
            return choice
    return choices[-1]


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def _needs_quotes(text: str, fmt: FileFormat) -> bool:
    specials = (fmt.quotechar, "\n", "\r", *([fmt.escapechar] if fmt.escapechar else []))
    # The delimiter must first occur where the field ends: ``x|`` before ``||`` would be split early.
    return any(s in text for s in specials) or (text + fmt.delimiter).find(fmt.delimiter) < len(text)


def _quote(text: str, fmt: FileFormat) -> str:
    if fmt.escapechar:
        inner = text.replace(fmt.escapechar, fmt.escapechar * 2).replace(fmt.quotechar, fmt.escapechar + fmt.quotechar)
    else:
        inner = text.replace(fmt.quotechar, fmt.quotechar * 2)
    return f"{fmt.quotechar}{inner}{fmt.quotechar}"


def _escape(text: str, fmt: FileFormat) -> str:
    assert fmt.escapechar is not None
    escaped = text.replace(fmt.escapechar, fmt.escapechar * 2)
    for special in (fmt.delimiter, fmt.quotechar, "\n", "\r"):
        escaped = escaped.replace(special, fmt.escapechar + special)
    return escaped


def _field(text: str, column: FileColumn | None, fmt: FileFormat) -> str:
    """A non-null field spelled ``text``, quoted or escaped as the source would."""
    marker = fmt.null_marker if column is None else null_spelling(column, fmt)
    must = _needs_quotes(text, fmt) or text in (marker, fmt.null_marker)
    if fmt.quoting == "none":
        if fmt.escapechar and text != "":
            return _escape(text, fmt) if _needs_quotes(text, fmt) else text
        # No escape character: quoting is the only way such a value can be read back.
        return _quote(text, fmt) if must else text
    quote = (
        fmt.quoting == "all"
        or must
        or (column is not None and column.quoted)
        or (fmt.quoting == "nonnumeric" and (column is None or column.type not in NUMERIC_TYPES))
    )
    return _quote(text, fmt) if quote else text


def _header_field(column: FileColumn, fmt: FileFormat) -> str:
    # Quoted as in the source, field by field; else wherever the style quotes strings.
    text = column.header if column.header is not None else column.name
    if column.header_quoted is not None and fmt.quoting != "none":
        return _quote(text, fmt) if column.header_quoted or _needs_quotes(text, fmt) else text
    if fmt.quoting in ("all", "nonnumeric") or (fmt.quoting == "minimal" and column.quoted):
        return _quote(text, fmt)
    return _field(text, None, fmt)


def _row_line(row: Mapping[str, Any], fmt: FileFormat, cells: Mapping[str, CellSpelling] | None, key: str) -> str:
    """One data line. ``cells``: the source's choices (a rewrite of source rows); None: synthetic
    rows, whose NULL spellings and offsets are drawn with the source's shares, keyed by ``key``."""
    fields = []
    for column in fmt.columns:
        value = row.get(column.name)
        cell = cells.get(column.name) if cells is not None else None
        if value is None:
            if cell is not None and cell.null is not None:
                marker = cell.null
            elif cells is None and column.null_spellings:
                marker = draw(column.null_spellings, f"{key}:{column.name}:null")
            else:
                marker = null_spelling(column, fmt)
            empty_all = fmt.quoting == "all" and marker == ""
            fields.append(_quote("", fmt) if empty_all else marker)
            continue
        offset, past = (cell.offset, cell.sub_microsecond) if cell is not None else (None, "")
        if offset is None and cells is None and column.utc_offsets and column.type == "TIMESTAMP":
            offset = draw(column.utc_offsets, f"{key}:{column.name}:offset")
        fields.append(_field(spell_value(value, column, offset=offset, sub_microsecond=past), column, fmt))
    return fmt.delimiter.join(fields)


def _encode(text: str, encoding: str) -> bytes:
    if encoding != "latin-1":
        return text.encode(encoding)
    # Synthetic values may hold characters Latin-1 lacks: drop accents first, then use "?".
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        chars = [
            c if ord(c) < 256 else unicodedata.normalize("NFKD", c).encode("latin-1", "ignore").decode("latin-1")
            for c in text
        ]
        return "".join(ch or "?" for ch in chars).encode("latin-1", "replace")


def write_records(
    rows: Iterable[Mapping[str, Any]],
    fmt: FileFormat,
    *,
    run_date: dt.date,
    spellings: Sequence[Mapping[str, CellSpelling]] | None = None,
    seed: int = 0,
    stream: str = "",
) -> bytes:
    """Rows in BigQuery JSON form as a file spelled exactly like the source of ``fmt``.

    ``spellings`` (from ``read_spelled``, one mapping per row): the choices the source made cell
    by cell, for a byte-identical rewrite of its rows. Without them the rows are synthetic: a
    column writing NULL several ways spells each NULL with the source's shares, a TIMESTAMP
    column in several offsets takes its zone's (daylight saving included) or one drawn with the
    source's shares, each a stable function of ``seed``, ``stream`` (the file), the column and
    the row; digits past the microsecond are zeros (BigQuery holds microseconds).
    """
    if spellings is not None:
        data_lines = [_row_line(row, fmt, cells, "") for row, cells in zip(rows, spellings, strict=True)]
    else:
        data_lines = [_row_line(row, fmt, None, f"{seed}:{stream}:{index}") for index, row in enumerate(rows)]
    lines = render_custom_lines(fmt.header_lines, record_count=len(data_lines), run_date=run_date)
    if fmt.has_header:
        lines.append(fmt.delimiter.join(_header_field(c, fmt) for c in fmt.columns))
    lines.extend(data_lines)
    lines.extend(render_custom_lines(fmt.trailer_lines, record_count=len(data_lines), run_date=run_date))
    text = fmt.line_terminator.join(lines)
    if lines and fmt.final_newline:
        text += fmt.line_terminator
    return _encode(text, fmt.encoding)
