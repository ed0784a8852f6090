"""rbascore: attach the RBA risk score and risk message to every result (custom streaming search command).

    ... | rbascore impact=<0-100> confidence=<0-100> message="<template>"
                   [score_field=risk_score] [message_field=risk_message]

Search command protocol v2 (commands.conf ``chunked = true``). splunklib handles getinfo, option parsing and
error reporting; execute chunks go through a CSV fast path (rbascore_csv) that passes every input cell
through unchanged and appends the two output cells.
"""
from __future__ import annotations

import json
import os
import re
import sys

_BIN = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_BIN, "..", "lib"))
if _BIN not in sys.path:
    sys.path.insert(1, _BIN)

from splunklib.searchcommands import Configuration, Option, StreamingCommand, dispatch, validators  # noqa: E402
from splunklib.searchcommands.internals import MetadataDecoder  # noqa: E402

from rbascore_core import (  # noqa: E402
    Template,
    describe_missing,
    format_score,
    parse_percent,
    parse_template,
    risk_score,
    validate_output_field,
)
from rbascore_csv import ChunkError, ChunkScorer  # noqa: E402

_HEADER = re.compile(rb"chunked\s+1\.0\s*,\s*(\d+)\s*,\s*(\d+)\s*\n")
_ILLEGAL = re.compile(r"Illegal value: (\w+)=")
_REQUIRED_ONE = re.compile(r'A value for "(\w+)" is required$')
_REQUIRED_MANY = re.compile(r"Values for these required options are missing: (.*)$")
_REASONS: dict = {}  # option name -> why its value was refused (splunklib's message omits the reason)


class _Checked(validators.Validator):
    """A splunklib validator around one of the core's checks; remembers why a value was refused."""

    def __init__(self, name: str, check):
        self.name = name
        self.check = check

    def __call__(self, value):
        if value is None:
            return None
        try:
            return self.check(value)
        except ValueError as error:
            _REASONS[self.name] = str(error)
            raise

    def format(self, value):
        if value is None:
            return None
        return value.source if isinstance(value, Template) else str(value)


# distributed=False: the app is installed on search heads only (its slim partition targets _search_heads), so
# splunkd must never ship this command to indexers, even when an analyst puts it right after an event search.
@Configuration(distributed=False)
class RbaScoreCommand(StreamingCommand):
    """Adds ``risk_score`` = impact x confidence / 100 and ``risk_message`` (the template with ``$field$``
    tokens filled from the record) to every record."""

    impact = Option(require=True, validate=_Checked("impact", lambda v: parse_percent("impact", v)),
                    doc="Impact, a number from 0 to 100.")
    confidence = Option(require=True, validate=_Checked("confidence", lambda v: parse_percent("confidence", v)),
                        doc="Confidence, a number from 0 to 100.")
    message = Option(require=True, validate=_Checked("message", parse_template),
                     doc="Risk message template; $field$ is replaced by the record's value, $$ is a literal $.")
    score_field = Option(default="risk_score",
                         validate=_Checked("score_field", lambda v: validate_output_field("score_field", v)),
                         doc="Name of the score field (default risk_score).")
    message_field = Option(default="risk_message",
                           validate=_Checked("message_field", lambda v: validate_output_field("message_field", v)),
                           doc="Name of the message field (default risk_message).")

    _scorer: ChunkScorer | None = None

    # -- options --------------------------------------------------------------------------------------

    def prepare(self):
        if self.fieldnames:
            self.error_exit(ValueError("positional arguments"),
                            "rbascore takes only name=value options; unexpected: " + " ".join(self.fieldnames))
        if self.score_field == self.message_field:
            self.error_exit(ValueError("same output field"),
                            f"score_field and message_field must differ (both are {self.score_field})")
        score = format_score(risk_score(self.impact, self.confidence))
        self._scorer = ChunkScorer(self.message, score, self.score_field, self.message_field)

    def write_error(self, message, *args):
        # splunklib formats messages with str.format: protect braces coming from the user's option values.
        match = _ILLEGAL.match(message)
        if match and match.group(1) in _REASONS:
            message = f"{message} ({_REASONS[match.group(1)]})"
        # An option whose value was refused was reported already: not again as "missing".
        match = _REQUIRED_ONE.match(message)
        if match and match.group(1) in _REASONS:
            return
        match = _REQUIRED_MANY.match(message)
        if match:
            names = [n for n in match.group(1).split(", ") if n not in _REASONS]
            if not names:
                return
            message = (f'A value for "{names[0]}" is required' if len(names) == 1 else
                       "Values for these required options are missing: " + ", ".join(names))
        if not args:
            message = message.replace("{", "{{").replace("}", "}}")
        super().write_error(message, *args)

    def _report_unexpected_error(self):
        # splunklib's version puts the source file path and line in the search's error message.
        error_type, error, _ = sys.exc_info()
        self.logger.error("rbascore failed", exc_info=True)
        text = str(error) if isinstance(error, ChunkError) else f"{error_type.__name__}: {error}"
        self.write_error("rbascore: " + text)

    # -- records --------------------------------------------------------------------------------------

    def stream(self, records):
        """Record-at-a-time form (splunklib's own record path, used only under protocol v1)."""
        scorer = self._scorer
        assert scorer is not None
        template, score = scorer.template, scorer.score_text
        for record in records:
            record[self.score_field] = score
            record[self.message_field] = template.render_mapping(record)
            yield record

    def _execute_v2(self, ifile, process):
        """Protocol v2 execute loop: each chunk's CSV body is scored as text by the fast path."""
        istream = self._as_binary_stream(ifile)
        writer = self._record_writer
        scorer = self._scorer
        assert scorer is not None
        while True:
            chunk = _read_chunk(istream)
            if chunk is None:
                return
            metadata, body = chunk
            action = getattr(metadata, "action", None)
            if action != "execute":
                raise RuntimeError(f"Expected execute action, not {action}")
            self._finished = bool(getattr(metadata, "finished", False))
            writer.is_flushed = False
            self._metadata.update(metadata)
            del chunk, metadata
            pieces, count = scorer.process(body)
            del body
            if self._finished:
                self._warn_once(scorer)
            _write_reply(writer, pieces, count, self._finished)

    def _warn_once(self, scorer: ChunkScorer) -> None:
        missing = {name: n for name, n in scorer.missing_counts.items() if n}
        if missing:
            self.write_warning(describe_missing(missing, scorer.records).replace("{", "{{").replace("}", "}}"))


def _read_chunk(istream):
    """(metadata, body bytes) of the next chunk, or None at end of input. Body stays bytes: the fast path
    decodes it incrementally instead of holding a decoded copy."""
    header = istream.readline()
    if not header:
        return None
    match = _HEADER.fullmatch(header)
    if match is None:
        raise RuntimeError(f"Failed to parse transport header: {header[:100]!r}")
    meta_len, body_len = int(match.group(1)), int(match.group(2))
    meta = istream.read(meta_len)
    body = istream.read(body_len) if body_len else b""
    if len(meta) != meta_len or len(body) != body_len:
        raise RuntimeError("Input ended inside a chunk")
    return MetadataDecoder().decode(meta.decode("utf-8")), body


def _write_reply(writer, pieces, count: int, finished: bool) -> None:
    """One reply chunk with the record writer's pending inspector messages (splunklib's framing)."""
    inspector = dict(writer._inspector)
    metadata: dict = {"finished": finished}
    if inspector:
        metadata = {"inspector": inspector, "finished": finished}
    meta = json.dumps(metadata, separators=(",", ":")).encode("utf-8")
    ofile = writer.ofile
    ofile.write(b"chunked 1.0,%d,%d\n" % (len(meta), sum(len(p) for p in pieces)))
    ofile.write(meta)
    for piece in pieces:
        ofile.write(piece)
    ofile.flush()
    writer._inspector.clear()
    writer._committed_record_count += count
    writer._chunk_count += 1
    writer.is_flushed = True


if __name__ == "__main__":
    dispatch(RbaScoreCommand, sys.argv, sys.stdin, sys.stdout, __name__)
