"""Fast CSV path of ``rbascore``: one protocol v2 execute body in, the scored body out.

Standard library only (no splunklib), no I/O: bytes in, bytes out. ``csv.reader`` parses each record only to
read the template's fields; the record itself goes out as the exact bytes it came in as (header line too), with
the score and message cells (and their empty ``__mv_`` twins) appended. So every input column, ``__mv_`` twins
and fields that only some records have included, passes through untouched and in order, and nothing is
re-encoded, whatever the cells hold:
- bytes that are not UTF-8 are carried as surrogate escapes and written back as the same bytes (in the message
  they show as U+FFFD, as a UTF-8 decoder with ``errors="replace"`` shows them);
- NUL characters, which Python 3.9's csv module refuses ("line contains NUL"), are swapped for a character absent
  from the body while parsing and restored in the values.
If the input already has the command's own score or message field (a re-run), those cells are replaced in place
and the other cells keep their exact text.
The body is decoded incrementally and the output built in pieces, so a chunk is held about twice (input bytes,
output bytes), not as decoded text as well.
"""
from __future__ import annotations

import csv
import io
import re
from typing import Callable, Iterator, List, Optional, Tuple

from rbascore_core import MESSAGE_LIMIT, TEXT_LIMIT, Template, clipped, decode_mv, neutralise, render_value


# Splunk's CSV dialect as splunklib writes it (splunklib.searchcommands.internals.CsvDialect).
class SplunkCsv(csv.Dialect):
    delimiter = ","
    quotechar = '"'
    doublequote = True
    skipinitialspace = False
    lineterminator = "\r\n"
    quoting = csv.QUOTE_MINIMAL
    strict = False


# No cap on a cell's size: csv's default (128 KB) would refuse long command lines; splunklib raises it to 10 MB.
csv.field_size_limit(2**31 - 1)

_BATCH_ROWS = 4096  # rows encoded per piece of output: bounds the text held besides the output bytes
# The fields the command writes by default: on a re-run (input that already went through rbascore) they are
# its own output and are replaced. Any other incoming field is never overwritten.
OWN_FIELDS = frozenset({"risk_score", "risk_message"})
_CELL_RE = re.compile(r'"(?:[^"]|"")*"|[^,"]*')  # one well-formed CSV cell, as its raw text


class ChunkError(ValueError):
    """An execute body that is not the CSV splunkd sends; the text says where."""


def _nul_stand_in(body: bytes) -> str:
    """A character that does not occur in the body, to stand for NUL while csv parses it."""
    for code in range(0xE000, 0xF900):  # private use: nearly never in data, tried until one is absent
        if chr(code).encode("utf-8") not in body:
            return chr(code)
    raise ChunkError("execute chunk holds NUL and every private-use character: cannot parse it")


def _repair(value: str) -> str:
    """Surrogate escapes (bytes that were not UTF-8) as U+FFFD, for text the command writes itself."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class ChunkScorer:
    """Adds ``score_field`` and ``message_field`` to every row of execute bodies, one body at a time.

    Counts, per template field, the records in which it was missing or empty (``missing_counts``) and the records
    seen (``records``), for the once-per-search warning.
    """

    def __init__(self, template: Template, score_text: str, score_field: str, message_field: str):
        self.template = template
        self.score_text = score_text
        self.score_field = score_field
        self.message_field = message_field
        self.missing_counts = {name: 0 for name in template.field_names}
        self.records = 0

    # -- per chunk ------------------------------------------------------------------------------------

    def process(self, body: bytes) -> Tuple[List[bytes], int]:
        """Score one execute body. Returns the output body as pieces of bytes and the number of records.

        An empty body or one with only a header gives no output (no records)."""
        if not body:
            return [], 0
        counts = dict(self.missing_counts)
        try:
            return self._process(body, strict=True)
        except UnicodeDecodeError:
            # Not all UTF-8: start again carrying the odd bytes as surrogate escapes (rare, so the common
            # case pays nothing for it).
            self.missing_counts.update(counts)
            return self._process(body, strict=False)

    def _process(self, body: bytes, strict: bool) -> Tuple[List[bytes], int]:
        errors = "strict" if strict else "surrogateescape"
        text = io.TextIOWrapper(io.BytesIO(body), encoding="utf-8", errors=errors, newline="")
        nul = _nul_stand_in(body) if b"\x00" in body else None
        raw: List[str] = []  # the physical lines of the record csv.reader is parsing
        keep = raw.append

        def lines() -> Iterator[str]:
            for line in text:
                keep(line)
                yield line

        def lines_without_nul() -> Iterator[str]:
            for line in text:
                keep(line)
                yield line.replace("\x00", nul) if "\x00" in line else line  # type: ignore[arg-type]

        reader = csv.reader(lines() if nul is None else lines_without_nul(), SplunkCsv)
        header = _header(reader)
        if header is None:
            return [], 0
        head_text = "".join(raw).rstrip("\r\n")
        raw.clear()
        fix: Optional[Callable[[str], str]] = None
        if nul is not None or not strict:
            fix = _fixer(nul, strict)
            if nul is not None:
                header = [name.replace(nul, "\x00") for name in header]
        width = len(header)
        message = self._message_function(header, fix)
        self.check_outputs(header)
        tail = [name for name in (self.score_field, self.message_field) if name not in header]
        head = head_text + "".join("," + _csv_cell(name) for name in tail + ["__mv_" + name for name in tail])
        pieces: List[bytes] = []
        out: List[str] = [head + "\r\n"]
        count = 0
        if len(tail) == 2:
            # Usual case: both output fields are new. Each record goes out as the exact text it came in as, plus
            # its score and message cells: nothing to re-encode, so nothing can be altered.
            suffix = ",,\r\n"
            prefix = "," + _csv_cell(self.score_text) + ","
            add = out.append
            try:
                for row in reader:
                    count += 1
                    if len(row) != width:
                        raise ChunkError(f"execute chunk record {count} has {len(row)} values for {width} columns")
                    record = raw[0] if len(raw) == 1 else "".join(raw)
                    raw.clear()
                    add(record.rstrip("\r\n") + prefix + _csv_cell(message(row)) + suffix)
                    if count % _BATCH_ROWS == 0:
                        pieces.append("".join(out).encode("utf-8", errors))
                        out.clear()
            except csv.Error as error:
                raise _not_csv(count + 1, error) from None
        else:
            count = self._rewrite(reader, raw, header, tail, message, out, pieces, errors, nul)
        if count == 0:
            return [], 0
        if out:
            pieces.append("".join(out).encode("utf-8", errors))
        self.records += count
        return pieces, count

    def check_outputs(self, header: List[str]) -> None:
        """The command never overwrites a field that came in with the results, except its own output."""
        for option, name in (("score_field", self.score_field), ("message_field", self.message_field)):
            if name in header and name not in OWN_FIELDS:
                raise ChunkError(
                    f"{option}={clipped(name, TEXT_LIMIT)}: the results already have a field of that name and "
                    "rbascore does not overwrite incoming fields (only its own risk_score and risk_message on a "
                    f"re-run): choose another {option}")

    def _rewrite(self, reader: Iterator[List[str]], raw: List[str], header: List[str], tail: List[str],
                 message: Callable[[List[str]], str], out: List[str], pieces: List[bytes], errors: str,
                 nul: Optional[str]) -> int:
        """Input that already has the score and/or message field: replace those cells in place; every other
        cell keeps its exact text (re-encoded only if the record's quoting is not well-formed CSV)."""
        position = {name: i for i, name in enumerate(header)}
        width = len(header)
        targets = [(position.get(name), position.get("__mv_" + name)) for name in
                   (self.score_field, self.message_field)]
        blanks = [""] * len(tail)
        count = 0
        try:
            for row in reader:
                count += 1
                if len(row) != width:
                    raise ChunkError(f"execute chunk record {count} has {len(row)} values for {width} columns")
                cells = _split_cells("".join(raw).rstrip("\r\n"), width)
                raw.clear()
                if cells is None:
                    cells = [_csv_cell(v.replace(nul, "\x00") if nul else v) for v in row]
                extra = []
                for (index, mv_index), value in zip(targets, (self.score_text, message(row))):
                    if index is None:
                        extra.append(_csv_cell(value))
                    else:
                        cells[index] = _csv_cell(value)
                        if mv_index is not None:
                            cells[mv_index] = ""
                out.append(",".join(cells + extra + blanks) + "\r\n")
                if count % _BATCH_ROWS == 0:
                    pieces.append("".join(out).encode("utf-8", errors))
                    out.clear()
        except csv.Error as error:
            raise _not_csv(count + 1, error) from None
        return count

    # -- message ----------------------------------------------------------------------------------------

    def _message_function(self, header: List[str], fix: Optional[Callable[[str], str]]
                          ) -> Callable[[List[str]], str]:
        """message(row) for rows under this header; counts missing/empty template fields as it goes.
        ``fix`` (NUL restored, non-UTF-8 bytes as U+FFFD) applies to the cells the message uses."""
        position = {name: i for i, name in enumerate(header)}
        if len(position) != len(header):
            seen: set = set()
            dupes = sorted({n for n in header if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
            raise ChunkError(clipped(f"execute chunk header repeats column(s): {', '.join(dupes)}", MESSAGE_LIMIT))
        counts = self.missing_counts
        literals = self.template.literals
        counted: set = set()
        plan = []  # (name, plain index or None, __mv_ index or None, count it?, following literal)
        for name, literal in zip(self.template.fields, literals[1:]):
            plan.append((name, position.get(name), position.get("__mv_" + name), name not in counted, literal))
            counted.add(name)
        absent = [name for name in self.template.field_names if name not in position]
        lead = literals[0]

        def message(row: List[str]) -> str:
            parts = [lead]
            for name, plain, mv, count_it, literal in plan:
                if plain is None:
                    value = ""
                elif mv is not None and row[mv]:
                    value = render_value(decode_mv(fix(row[mv]) if fix else row[mv]))
                else:
                    value = fix(row[plain]) if fix else row[plain]
                    if "$" in value or not value.isascii():
                        value = neutralise(value)
                if count_it and not value and plain is not None:
                    counts[name] += 1
                parts.append(value)
                parts.append(literal)
            for name in absent:
                counts[name] += 1
            return "".join(parts)

        return message


def _header(reader: Iterator[List[str]]) -> Optional[List[str]]:
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as error:
        raise ChunkError(f"execute chunk header is not CSV: {clipped(str(error), TEXT_LIMIT)}") from None


def _not_csv(record: int, error: csv.Error) -> ChunkError:
    return ChunkError(f"execute chunk record {record} is not CSV: {clipped(str(error), TEXT_LIMIT)}")


def _fixer(nul: Optional[str], strict: bool) -> Callable[[str], str]:
    if nul is not None and not strict:
        return lambda value: _repair(value.replace(nul, "\x00"))
    if nul is not None:
        return lambda value: value.replace(nul, "\x00")
    return _repair


def _split_cells(record: str, width: int) -> Optional[List[str]]:
    """A record's raw text as the raw text of its cells, or None if it is not ``width`` well-formed cells."""
    cells: List[str] = []
    pos, end = 0, len(record)
    match = _CELL_RE.match
    while True:
        cell = match(record, pos)
        assert cell is not None  # the pattern matches the empty string
        cells.append(cell.group())
        pos = cell.end()
        if pos == end:
            return cells if len(cells) == width else None
        if record[pos] != ",":
            return None
        pos += 1


def _csv_cell(value: str) -> str:
    """One cell as QUOTE_MINIMAL writes it."""
    if '"' in value:
        return '"' + value.replace('"', '""') + '"'
    if "," in value or "\n" in value or "\r" in value:
        return '"' + value + '"'
    return value
