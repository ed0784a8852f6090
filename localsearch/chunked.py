"""The splunkd side of the custom search command protocol v2 ("chunked").

Starts a command the way splunkd does (``python bin/<file>.py`` with no argv; arguments arrive in the getinfo
chunk), sends ``getinfo`` with a full ``searchinfo``, then execute chunks of at most ``chunk_size`` rows,
strictly alternating request and reply, and a final header-only ``finished: true`` chunk.

Framing, both ways: ``chunked 1.0,<meta_len>,<body_len>\\n`` + metadata JSON + CSV body (lengths in bytes).
CSV bodies carry a ``__mv_<field>`` twin for every field: a multivalue value is sent as the values joined by
newline in the plain column and ``$v1$;$v2$`` (``$`` doubled inside values) in the ``__mv_`` column.

High level: :func:`run_streaming_command`. Low level (for protocol tests and benchmarks):
:class:`ChunkedProcess`, :func:`encode_rows`, :func:`decode_body`.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from itertools import islice
from typing import IO, Any, Iterable, Iterator, Sequence, cast
from urllib.parse import quote

Value = Any  # str, list[str] (multivalue) or None (empty)

_HEADER_RE = re.compile(rb"chunked\s+1\.0\s*,\s*(\d+)\s*,\s*(\d+)\s*\n")
_MV_ITEM_RE = re.compile(r"\$((?:\$\$|[^$])*)\$(?:;|$)")
_ERROR_LEVELS = ("ERROR", "FATAL")

csv.field_size_limit(2**31 - 1)  # results can hold cells far over csv's default 128 KB limit


@dataclass
class CommandOutput:
    fields: list[str]  # output header, without __mv_ columns
    rows: list[list[Value]]  # each value: str, list[str] (multivalue) or None (empty)
    messages: list[tuple[str, str]]  # (level, text) from inspector.messages of all replies, in order
    getinfo: dict  # the command's getinfo reply metadata
    records_in: int
    records_out: int


class CommandFailed(Exception):
    """The command reported an ERROR/FATAL message, broke the protocol or exited non-zero."""

    def __init__(self, summary: str, messages: list[tuple[str, str]], returncode: int | None, stderr: str):
        super().__init__(summary)
        self.messages = messages
        self.returncode = returncode
        self.stderr = stderr


class ProtocolError(RuntimeError):
    """The command's output does not follow the chunked protocol."""


# --------------------------------------------------------------------------------------------- encoding


def _text(value: object) -> str:
    return value if isinstance(value, str) else str(value)


def encode_value(value: Value) -> tuple[str, str]:
    """One value as its (plain, __mv_) column pair."""
    if value is None:
        return "", ""
    if isinstance(value, (list, tuple)):
        items = [("" if v is None else _text(v)) for v in value]
        if not items:
            return "", ""
        if len(items) == 1:
            return items[0], ""
        return "\n".join(items), ";".join("$" + v.replace("$", "$$") + "$" for v in items)
    return _text(value), ""


def csv_cell(text: str) -> str:
    """One CSV cell: quoted when it holds a comma, a quote, CR or LF (csv.writer with a "\\n" terminator would
    leave a lone CR unquoted)."""
    if '"' in text:
        return '"' + text.replace('"', '""') + '"'
    if "," in text or "\n" in text or "\r" in text:
        return '"' + text + '"'
    return text


def encode_rows(fields: Sequence[str], rows: Iterable[Sequence[Value]], *, first_row: int = 0) -> bytes:
    """A CSV body: header with __mv_ twins (field order, then the __mv_ columns), then one "\\n"-terminated
    line per row. ``first_row`` numbers rows in error messages."""
    lines = [",".join(csv_cell(f) for f in list(fields) + ["__mv_" + f for f in fields])]
    width = len(fields)
    for number, row in enumerate(rows, start=first_row):
        if len(row) != width:
            raise ValueError(f"row {number} has {len(row)} values for {width} fields")
        plain: list[str] = []
        mv: list[str] = []
        for value in row:
            p, m = encode_value(value)
            plain.append(csv_cell(p))
            mv.append(csv_cell(m))
        lines.append(",".join(plain + mv))
    lines.append("")
    return "\n".join(lines).encode("utf-8")


def decode_mv(encoded: str) -> list[str]:
    """``$a$;$b$$c$`` -> ["a", "b$c"]."""
    return [m.replace("$$", "$") for m in _MV_ITEM_RE.findall(encoded)]


def decode_body(body: bytes) -> tuple[list[str], list[list[Value]]]:
    """A reply's CSV body -> (fields without __mv_, rows). Empty values become None, multivalues lists."""
    if not body:
        return [], []
    reader = csv.reader(io.StringIO(body.decode("utf-8"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return [], []
    plain_idx = [(i, name) for i, name in enumerate(header) if not name.startswith("__mv_")]
    position = {name: i for i, name in enumerate(header)}
    fields = [name for _, name in plain_idx]
    pairs = [(i, position.get("__mv_" + name)) for i, name in plain_idx]
    rows: list[list[Value]] = []
    for number, values in enumerate(reader, start=2):
        if len(values) != len(header):
            raise ProtocolError(f"reply CSV line {number} has {len(values)} values for {len(header)} columns")
        row: list[Value] = []
        for i, j in pairs:
            if j is not None and values[j]:
                row.append(decode_mv(values[j]))
            else:
                row.append(values[i] if values[i] != "" else None)
        rows.append(row)
    return fields, rows


def quote_arg(arg: str) -> str:
    """A searchinfo.args entry as splunkd shows it in raw_args (``name="value with spaces"``)."""
    name, sep, value = arg.partition("=")
    if sep and re.fullmatch(r"[A-Za-z_]\w*", name):
        return name + "=" + _quote_token(value)
    return _quote_token(arg)


def _quote_token(token: str) -> str:
    if token and not re.search(r'[\s"\\|\[\]=,()]', token):
        return token
    return '"' + token.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --------------------------------------------------------------------------------------------- process


class ChunkedProcess:
    """A command subprocess spoken to in protocol v2 chunks. Use as a context manager."""

    def __init__(self, argv: Sequence[str], *, cwd: str | None = None, env: dict | None = None):
        environment = dict(os.environ if env is None else env)
        environment.setdefault("PYTHONDONTWRITEBYTECODE", "1")
        self.argv = list(argv)
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=environment,
            bufsize=0,
        )
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        self._stdin: IO[bytes] = self.proc.stdin
        # bufsize=0: Popen's stdout is a raw (unbuffered) file, the stream BufferedReader wraps
        self._stdout: IO[bytes] = io.BufferedReader(cast(io.RawIOBase, self.proc.stdout), 1 << 20)
        self._stderr_parts: list[bytes] = []
        self._stderr_thread = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_thread.start()
        self._write_error: BaseException | None = None

    def _drain_stderr(self) -> None:
        assert self.proc.stderr
        for line in iter(lambda: self.proc.stderr.read(65536), b""):  # type: ignore[union-attr]
            self._stderr_parts.append(line)

    @property
    def stderr(self) -> str:
        return b"".join(self._stderr_parts).decode("utf-8", errors="replace")

    def send(self, metadata: dict, body: bytes = b"") -> None:
        """Write one chunk. Raises BrokenPipeError when the command has gone away."""
        meta = json.dumps(metadata, separators=(",", ":")).encode("utf-8")
        self._stdin.write(b"chunked 1.0,%d,%d\n" % (len(meta), len(body)))
        self._stdin.write(meta)
        if body:
            self._stdin.write(body)
        self._stdin.flush()

    def receive(self) -> tuple[dict, bytes] | None:
        """Read one chunk; None at end of output."""
        header = self._stdout.readline()
        if not header:
            return None
        match = _HEADER_RE.fullmatch(header)
        if match is None:
            rest = header + self._stdout.read(2000)
            raise ProtocolError(f"bad chunk header from command: {rest[:200]!r}")
        meta_len, body_len = int(match.group(1)), int(match.group(2))
        meta = self._read_exactly(meta_len)
        body = self._read_exactly(body_len)
        try:
            metadata = json.loads(meta.decode("utf-8")) if meta else {}
        except ValueError as error:
            raise ProtocolError(f"reply metadata is not JSON: {error}: {meta[:200]!r}") from None
        if not isinstance(metadata, dict):
            raise ProtocolError(f"reply metadata is not a JSON object: {meta[:200]!r}")
        return metadata, body

    def _read_exactly(self, size: int) -> bytes:
        data = self._stdout.read(size) if size else b""
        if len(data) != size:
            raise ProtocolError(f"command output ended after {len(data)} of {size} announced bytes")
        return data

    def request(self, metadata: dict, body: bytes = b"") -> tuple[dict, bytes] | None:
        """Send one chunk and read the reply. The body is written from a thread so that a command that answers
        (or fails) before reading everything cannot deadlock us. None when the command ended without replying."""
        if len(body) < 65536:
            try:
                self.send(metadata, body)
            except (BrokenPipeError, ConnectionResetError, OSError):
                pass        # it went away; what it wrote before that still tells why (read below)
            return self.receive()
        failure: list[BaseException] = []

        def write() -> None:
            try:
                self.send(metadata, body)
            except (BrokenPipeError, ConnectionResetError, OSError) as error:
                failure.append(error)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        reply = self.receive()
        writer.join()
        return None if failure and reply is None else reply

    def drain(self) -> list[tuple[dict, bytes]]:
        """Read whatever the command still writes until it closes its output."""
        chunks = []
        try:
            self._stdin.close()
        except OSError:
            pass
        while True:
            try:
                chunk = self.receive()
            except ProtocolError:
                break
            if chunk is None:
                break
            chunks.append(chunk)
        return chunks

    def close(self, timeout: float = 30.0) -> int:
        """Close stdin and wait for exit (killing the command after ``timeout`` seconds)."""
        try:
            self._stdin.close()
        except OSError:
            pass
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._stderr_thread.join(5)
        self._stdout.close()
        return code

    def __enter__(self) -> ChunkedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.close(timeout=5.0)


def getinfo_metadata(args: Sequence[str], *, app: str, dispatch_dir: str, search: str, command: str,
                     sid: str | None = None, maxresultrows: int = 50_000, preview: bool = False) -> dict:
    """The getinfo chunk's metadata with everything splunkd sends in ``searchinfo``."""
    return {
        "action": "getinfo",
        "preview": preview,
        "streaming_command_will_restart": False,
        "searchinfo": {
            "args": list(args),
            "raw_args": [quote_arg(a) for a in args],
            "dispatch_dir": dispatch_dir,
            "sid": sid or f"localsearch_{int(time.time())}.{os.getpid()}",
            "app": app,
            "owner": "nobody",
            "username": "admin",
            "session_key": "localsearch-offline",  # no splunkd here: a command must not need one
            "splunkd_uri": "https://127.0.0.1:8089",
            "splunk_version": "9.4.0",
            "search": quote(search, safe=""),
            "command": command,
            "maxresultrows": maxresultrows,
            "earliest_time": "0",
            "latest_time": "0",
        },
    }


def messages_of(metadata: dict) -> list[tuple[str, str]]:
    inspector = metadata.get("inspector") or {}
    found = []
    for item in inspector.get("messages") or []:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            found.append((str(item[0]), str(item[1])))
    return found


def _failure(messages: list[tuple[str, str]], returncode: int | None, stderr: str, fallback: str) -> CommandFailed:
    errors = [text for level, text in messages if level.upper() in _ERROR_LEVELS]
    if errors:
        summary = "; ".join(" ".join(t.split()) for t in errors)
    else:
        tail = [line for line in stderr.strip().splitlines() if line.strip()][-1:]
        summary = fallback + (f" (exit code {returncode})" if returncode else "") + (f": {tail[0]}" if tail else "")
    return CommandFailed(summary, messages, returncode, stderr)


def _batches(rows: Iterable[Sequence[Value]], size: int) -> Iterator[list[Sequence[Value]]]:
    iterator = iter(rows)
    while True:
        batch = list(islice(iterator, size))
        if not batch:
            return
        yield batch


def run_streaming_command(argv: list[str], args: list[str], fields: list[str],
                          rows: Iterable[Sequence[Value]], *, chunk_size: int = 50_000,
                          app: str = "DA-ESS-WmiProcessExecution", cwd: str | None = None,
                          search: str = "", env: dict | None = None, timeout: float = 300.0,
                          started: ChunkedProcess | None = None) -> CommandOutput:
    """Run a streaming command over ``rows`` as splunkd would and collect its output.

    Raises CommandFailed if the command reports an ERROR/FATAL message, stops answering, or exits non-zero.
    ``started``: the command's process, started earlier with the same argv, cwd and env (see prestart).
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    command = os.path.splitext(os.path.basename(argv[-1]))[0] if argv else "command"
    spl = search or "| " + " ".join([command] + [quote_arg(a) for a in args])
    dispatch_dir = tempfile.mkdtemp(prefix="localsearch_dispatch_")
    messages: list[tuple[str, str]] = []
    out_fields: list[str] = []
    out_index: dict[str, int] = {}
    out_rows: list[list[Value]] = []
    records_in = 0
    proc = started if started is not None and started.argv == list(argv) else ChunkedProcess(argv, cwd=cwd, env=env)
    deadline = time.monotonic() + timeout
    watchdog = threading.Timer(timeout, proc.proc.kill)
    watchdog.daemon = True
    watchdog.start()

    def fail(reason: str) -> CommandFailed:
        for meta, _ in proc.drain():
            messages.extend(messages_of(meta))
        code = proc.close(timeout=max(1.0, deadline - time.monotonic()))
        if time.monotonic() >= deadline:
            reason = f"command timed out after {timeout:g}s"
        return _failure(messages, code, proc.stderr, reason)

    def collect(meta: dict, body: bytes) -> None:
        messages.extend(messages_of(meta))
        chunk_fields, chunk_rows = decode_body(body)
        for name in chunk_fields:
            if name not in out_index:
                out_index[name] = len(out_fields)
                out_fields.append(name)
        if chunk_fields == out_fields:
            out_rows.extend(chunk_rows)
            return
        places = [out_index[name] for name in chunk_fields]
        for row in chunk_rows:
            full: list[Value] = [None] * len(out_fields)
            for place, value in zip(places, row):
                full[place] = value
            out_rows.append(full)

    def has_error(meta: dict) -> bool:
        return any(level.upper() in _ERROR_LEVELS for level, _ in messages_of(meta))

    try:
        info = getinfo_metadata(args, app=app, dispatch_dir=dispatch_dir, search=spl, command=command,
                                maxresultrows=chunk_size)
        reply = proc.request(info)
        if reply is None:
            raise fail("command ended without answering getinfo")
        getinfo, _ = reply
        messages.extend(messages_of(getinfo))
        if has_error(getinfo) or getinfo.get("finished") is True:
            raise fail("command refused to start")

        finished = False
        for batch in _batches(rows, chunk_size):
            body = encode_rows(fields, batch, first_row=records_in)
            records_in += len(batch)
            reply = proc.request({"action": "execute", "finished": False}, body)
            if reply is None:
                raise fail("command ended without answering an execute chunk")
            collect(*reply)
            if has_error(reply[0]):
                raise fail("command reported an error")
            if reply[0].get("finished") is True:
                finished = True  # the command ended the search early
                break
        if not finished:
            reply = proc.request({"action": "execute", "finished": True}, encode_rows(fields, []))
            if reply is None:
                raise fail("command ended without answering the final chunk")
            collect(*reply)
            if has_error(reply[0]):
                raise fail("command reported an error")
        for meta, body in proc.drain():  # a well-behaved command writes nothing more
            collect(meta, body)
        code = proc.close(timeout=max(1.0, deadline - time.monotonic()))
        if code != 0:
            raise _failure(messages, code, proc.stderr, "command exited non-zero")
    except ProtocolError as error:
        raise fail(f"protocol error: {error}") from None
    finally:
        watchdog.cancel()
        if proc.proc.poll() is None:
            proc.proc.kill()
            proc.close(timeout=5.0)
        shutil.rmtree(dispatch_dir, ignore_errors=True)

    width = len(out_fields)
    for row in out_rows:  # rows from before a later chunk added fields
        if len(row) < width:
            row.extend([None] * (width - len(row)))
    return CommandOutput(fields=out_fields, rows=out_rows, messages=messages, getinfo=getinfo,
                         records_in=records_in, records_out=len(out_rows))


__all__ = [
    "ChunkedProcess",
    "CommandFailed",
    "CommandOutput",
    "ProtocolError",
    "decode_body",
    "decode_mv",
    "encode_rows",
    "encode_value",
    "getinfo_metadata",
    "messages_of",
    "quote_arg",
    "run_streaming_command",
]

if sys.version_info < (3, 9):  # pragma: no cover
    raise ImportError("localsearch.chunked needs Python 3.9+")
