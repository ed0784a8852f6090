"""Fast CSV path of ``rbascore``: one protocol v2 execute body in, the scored body out.

Standard library only (no splunklib), no I/O: bytes in, bytes out. ``csv.reader`` parses each record only to
read the template's fields; the record itself goes out as the exact text it came in as, with the score and
message cells (and their empty ``__mv_`` twins) appended. So every input column, ``__mv_`` twins and fields that
only some records have included, passes through untouched and in order, and nothing is re-encoded. If the input
already has the score or message field, rows are re-encoded with those cells overwritten in place.
The body is decoded incrementally and the output built in pieces, so a chunk is held about twice (input bytes,
output bytes), not as decoded text as well.
"""
from __future__ import annotations

import csv
import io
from typing import Callable, Iterator, List, Tuple

from rbascore_core import Template, decode_mv, neutralise, render_value

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


class ChunkError(ValueError):
    """An execute body that is not the CSV splunkd sends; the text says where."""


def _mv_text(encoded: str) -> str:
    return render_value(decode_mv(encoded))


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
        text = io.TextIOWrapper(io.BytesIO(body), encoding="utf-8", errors="replace", newline="")
        raw: List[str] = []  # the physical lines of the record csv.reader is parsing
        keep = raw.append

        def lines() -> Iterator[str]:
            for line in text:
                keep(line)
                yield line

        reader = csv.reader(lines(), SplunkCsv)
        try:
            header = next(reader)
        except StopIteration:
            return [], 0
        raw.clear()
        width = len(header)
        message = self._message_function(header)
        tail = [name for name in (self.score_field, self.message_field) if name not in header]
        pieces: List[bytes] = []
        count = 0
        if len(tail) == 2:
            # Usual case: both output fields are new. Each record goes out as the exact text it came in as, plus
            # its score and message cells: nothing to re-encode, so nothing can be altered.
            head = _csv_line(header + tail + ["__mv_" + name for name in tail])
            suffix = ",,\r\n"
            prefix = "," + _csv_cell(self.score_text) + ","
            out: List[str] = [head]
            add = out.append
            for row in reader:
                count += 1
                if len(row) != width:
                    raise ChunkError(f"execute chunk record {count} has {len(row)} values for {width} columns")
                record = raw[0] if len(raw) == 1 else "".join(raw)
                raw.clear()
                add(record.rstrip("\r\n") + prefix + _csv_cell(message(row)) + suffix)
                if count % _BATCH_ROWS == 0:
                    pieces.append("".join(out).encode("utf-8"))
                    out.clear()
            if out and count:
                pieces.append("".join(out).encode("utf-8"))
        else:
            count = self._rewrite(reader, raw, header, tail, message, pieces)
        if count == 0:
            return [], 0
        self.records += count
        return pieces, count

    def _rewrite(self, reader: Iterator[List[str]], raw: List[str], header: List[str], tail: List[str],
                 message: Callable[[List[str]], str], pieces: List[bytes]) -> int:
        """Input that already has the score and/or message field: overwrite them in place, re-encode rows."""
        position = {name: i for i, name in enumerate(header)}
        width = len(header)
        score = self.score_text
        targets = [(position.get(name), position.get("__mv_" + name)) for name in
                   (self.score_field, self.message_field)]
        out = io.StringIO()
        writer = csv.writer(out, SplunkCsv)
        writer.writerow(header + tail + ["__mv_" + name for name in tail])
        blanks = [""] * len(tail)
        count = 0
        for row in reader:
            count += 1
            raw.clear()
            if len(row) != width:
                raise ChunkError(f"execute chunk record {count} has {len(row)} values for {width} columns")
            values = (score, message(row))
            extra = []
            for (index, mv_index), value in zip(targets, values):
                if index is None:
                    extra.append(value)
                else:
                    row[index] = value
                    if mv_index is not None:
                        row[mv_index] = ""
            writer.writerow(row + extra + blanks)
            if count % _BATCH_ROWS == 0:
                pieces.append(out.getvalue().encode("utf-8"))
                out.seek(0)
                out.truncate()
        if count:
            pieces.append(out.getvalue().encode("utf-8"))
        return count

    # -- message ----------------------------------------------------------------------------------------

    def _message_function(self, header: List[str]) -> Callable[[List[str]], str]:
        """message(row) for rows under this header; counts missing/empty template fields as it goes."""
        position = {name: i for i, name in enumerate(header)}
        if len(position) != len(header):
            seen: set = set()
            dupes = sorted({n for n in header if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
            raise ChunkError(f"execute chunk header repeats column(s): {', '.join(dupes)}")
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
                    value = _mv_text(row[mv])
                else:
                    value = row[plain]
                    if "$" in value:
                        value = neutralise(value)
                if count_it and not value and plain is not None:
                    counts[name] += 1
                parts.append(value)
                parts.append(literal)
            for name in absent:
                counts[name] += 1
            return "".join(parts)

        return message


def _csv_cell(value: str) -> str:
    """One cell as QUOTE_MINIMAL writes it."""
    if '"' in value:
        return '"' + value.replace('"', '""') + '"'
    if "," in value or "\n" in value or "\r" in value:
        return '"' + value + '"'
    return value


def _csv_line(values: List[str]) -> str:
    return ",".join(_csv_cell(v) for v in values) + "\r\n"
