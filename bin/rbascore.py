"""rbascore: attach the RBA risk score and risk message to every result (custom streaming search command).

    ... | rbascore impact=<0-100> confidence=<0-100> message="<template>"
                   [score_field=risk_score] [message_field=risk_message]

Search command protocol v2 (commands.conf ``chunked = true``). splunklib handles getinfo, option parsing and
error reporting; execute chunks are read here as bytes and go through a CSV fast path (rbascore_csv) that passes
every input record through byte for byte and appends the two output cells. Any failure reading or scoring a
chunk reaches splunkd as one ERROR message, also after earlier replies.
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
    MESSAGE_LIMIT,
    TEXT_LIMIT,
    Template,
    clipped,
    describe_missing,
    format_score,
    parse_percent,
    parse_template,
    risk_score,
    shown,
    validate_output_field,
)
from rbascore_csv import ChunkError, ChunkScorer  # noqa: E402

# The splunklib versions whose private methods the overrides below were checked against: _read_chunk and
# _execute_v2 (replaced), _report_unexpected_error (replaced), _process_protocol_v2 (calls them; its error paths
# rely on is_flushed) and the record writer's write/ofile/is_flushed. tests/test_rbascore_splunklib.py fails for
# any other vendored version, or if that code changed.
SPLUNKLIB_CHECKED = ("2.1.1",)

_ILLEGAL = re.compile(r"Illegal value: (\w+)=")
_UNRECOGNIZED = re.compile(r"Unrecognized option: (.{0,%d}?)=" % TEXT_LIMIT, re.S)
_REQUIRED_ONE = re.compile(r'A value for "(\w+)" is required$')
_REQUIRED_MANY = re.compile(r"Values for these required options are missing: (.*)$")
_REASONS: dict = {}  # option name -> why its value was refused (splunklib's message omits the reason)


_HEADER = re.compile(rb"chunked\s+1\.0\s*,\s*(\d+)\s*,\s*(\d+)\s*\n")
_MAX_DIGITS = 15  # a length of 16 digits or more (10 PB) is no chunk splunkd sends
_ONE_READ = 256 << 20  # lengths up to this are read at once; longer ones in pieces, so no absurd allocation
_PIECE = 64 << 20


def read_chunk(istream):
    """(metadata, body bytes) of the next chunk, or None at end of input. Raises ChunkError, naming what is
    wrong, for anything that is not a well-formed chunk."""
    header = istream.readline(200)
    if not header:
        return None
    match = _HEADER.fullmatch(header)
    if match is None:
        raise ChunkError(f"bad chunk header: {shown(header.decode('utf-8', 'replace'))}, not "
                         "'chunked 1.0,<metadata length>,<body length>'")
    if max(len(match.group(1)), len(match.group(2))) > _MAX_DIGITS:
        raise ChunkError(f"bad chunk header: announced length of more than {_MAX_DIGITS} digits")
    meta_len, body_len = int(match.group(1)), int(match.group(2))
    meta = _read_exactly(istream, meta_len)
    body = _read_exactly(istream, body_len)
    if len(meta) != meta_len or len(body) != body_len:
        raise ChunkError(f"input ended inside a chunk: the header announced {meta_len:,} bytes of metadata and "
                         f"{body_len:,} of body; {len(meta):,} and {len(body):,} came")
    try:
        metadata = MetadataDecoder().decode(meta.decode("utf-8"))
    except ValueError as error:  # also UnicodeDecodeError
        raise ChunkError(f"chunk metadata is not JSON: {clipped(str(error), TEXT_LIMIT)}") from None
    return metadata, body


def read_getinfo(istream):
    """The first chunk, read as splunklib reads it, and checked to carry ``searchinfo.args``: splunklib would
    otherwise fail after its getinfo reply went out, and its error would be lost."""
    chunk = read_chunk(istream)
    if chunk is None:
        raise ChunkError("input ended before the getinfo chunk")
    if getattr(chunk[0], "action", None) == "getinfo":
        if not isinstance(getattr(getattr(chunk[0], "searchinfo", None), "args", None), list):
            raise ChunkError("getinfo metadata has no searchinfo.args list (the command's arguments)")
    return chunk


def _read_exactly(istream, size: int) -> bytes:
    """Up to ``size`` bytes (fewer only at end of input), without allocating ``size`` bytes up front when it is
    larger than any real chunk."""
    if size <= _ONE_READ:
        return istream.read(size) if size else b""
    data = bytearray()
    while len(data) < size:
        piece = istream.read(min(_PIECE, size - len(data)))
        if not piece:
            break
        data += piece
    return bytes(data)



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
            self.error_exit(ValueError("positional arguments"), "rbascore takes only name=value options; "
                            "unexpected: " + clipped(" ".join(self.fieldnames), TEXT_LIMIT))
        if self.score_field == self.message_field:
            self.error_exit(ValueError("same output field"),
                            f"score_field and message_field must differ (both are {self.score_field})")
        score = format_score(risk_score(self.impact, self.confidence))
        self._scorer = ChunkScorer(self.message, score, self.score_field, self.message_field)

    def write_error(self, message, *args):
        # splunklib formats messages with str.format: protect braces coming from the user's option values.
        match = _ILLEGAL.match(message) or _UNRECOGNIZED.match(message)
        if match:  # the value the user gave, cut short: a 1 MB value gives a short message
            message = match.group(0) + clipped(message[match.end():], TEXT_LIMIT)
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
        message = clipped(message, MESSAGE_LIMIT)
        if not args:
            message = message.replace("{", "{{").replace("}", "}}")
        super().write_error(message, *args)

    def _report_unexpected_error(self):
        # splunklib's version puts the source file path and line in the search's error message. After a reply
        # went out the record writer counts as flushed, and splunklib's finish() then drops the error: mark it
        # unflushed so that finish() sends it as one more chunk.
        error_type, error, _ = sys.exc_info()
        self.logger.error("rbascore failed: %s", clipped(f"{error_type.__name__}: {error}", MESSAGE_LIMIT))
        text = str(error) if isinstance(error, ChunkError) else f"{error_type.__name__}: {error}"
        self._record_writer.is_flushed = False
        self.write_error("rbascore: " + text)

    # -- records --------------------------------------------------------------------------------------

    def stream(self, records):
        """Record-at-a-time form (splunklib's own record path, used only under protocol v1)."""
        scorer = self._scorer
        assert scorer is not None
        template, score = scorer.template, scorer.score_text
        for record in records:
            scorer.check_outputs(list(record))  # never overwrite an incoming field, as on the fast path
            record[self.score_field] = score
            record[self.message_field] = template.render_mapping(record)
            yield record

    # splunklib's reader (it reads only the getinfo chunk here; _execute_v2 reads the rest with read_chunk): bad
    # framing is one clear error, and the body stays bytes (splunklib decodes it with errors="replace").
    _read_chunk = staticmethod(read_getinfo)

    def _execute_v2(self, ifile, process):
        """Protocol v2 execute loop: each chunk's CSV body is scored as bytes by the fast path."""
        istream = getattr(ifile, "buffer", ifile)
        writer = self._record_writer
        scorer = self._scorer
        assert scorer is not None
        while True:
            # Unflushed until this chunk's reply is written: an error reading or scoring it goes out through
            # splunklib's finish() as the reply, even after earlier replies.
            writer.is_flushed = False
            chunk = read_chunk(istream)
            if chunk is None:
                return
            metadata, body = chunk
            action = getattr(metadata, "action", None)
            if action != "execute":
                raise ChunkError(f"expected an execute chunk, not action {shown(str(action))}")
            # splunklib's record writer takes only `finished is True` as the end (RecordWriterV1.flush); a string
            # such as "false" is not.
            finished = getattr(metadata, "finished", False) is True
            if not body and not getattr(self, "_allow_empty_input", True):
                raise ValueError("No records found to process. Set allow_empty_input=True in dispatch function "
                                 "to move forward with empty records.")  # splunklib's _execute_chunk_v2 check
            del chunk, metadata
            pieces, _count = scorer.process(body)
            del body
            messages = self._final_warning(scorer) if finished else []
            _write_reply(writer, pieces, finished, messages)

    def _final_warning(self, scorer: ChunkScorer) -> list:
        missing = {name: n for name, n in scorer.missing_counts.items() if n}
        return [["WARN", describe_missing(missing, scorer.records)]] if missing else []


def _write_reply(writer, pieces, finished: bool, messages: list) -> None:
    """One reply chunk (splunklib's framing), written with the record writer's public ``write``."""
    metadata: dict = {"finished": finished}
    if messages:
        metadata = {"inspector": {"messages": messages}, "finished": finished}
    meta = json.dumps(metadata, separators=(",", ":")).encode("utf-8")
    writer.write(b"chunked 1.0,%d,%d\n" % (len(meta), sum(len(p) for p in pieces)))
    writer.write(meta)
    for piece in pieces:
        writer.write(piece)
    writer.ofile.flush()
    writer.is_flushed = True


if __name__ == "__main__":
    dispatch(RbaScoreCommand, sys.argv, sys.stdin, sys.stdout, __name__)
