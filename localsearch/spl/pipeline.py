"""The SPL front end: a search's text, macro-expanded once, parsed once into a `Pipeline` of typed commands.

The engine runs the pipeline, the loader's raw-event prefilter reads its leading search, and the loader's
choice of what to build (raw events or only the data model) reads its first command; none of them parses the
text again. Commands come from the registry in commands/ (one entry per command); a name not registered
there is a custom search command, looked up in commands.conf when it runs.

Splunk rules: a search that does not start with `|` starts with an implied `search` over the events (the word
`search` itself may be written); a search starting with `|` starts with a generating command; commands are
separated by `|` outside quotes and square brackets. A subsearch `[ ... ]` is parsed here as a pipeline of
its own (commands/subsearch.py) and placed in its command; it runs before that command, on the same data.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from .ast import SearchNode
from .commands import (COMMANDS, GENERATING, STREAMING, Command, CommandSpec, SavedSearchCmd, SearchCmd,
                       parse_custom, spec_of)
from .commands.savedsearch import saved_search_text
from .commands.subsearch import Subsearch, attach, find_subsearches, subsearches_of
from .errors import SplError, Unsupported
from .expr import parse_search
from .lexer import WORD, Token, split_pipeline, tokenize
from .macros import Expansion, MacroSource, Span, describe, expand

MAX_SAVEDSEARCH_DEPTH = 10


@dataclass
class Sources:
    """Where the front end finds macros and saved searches (conf layers; None when there are none)."""
    macros: Optional[MacroSource] = None
    savedsearches: Optional[MacroSource] = None


@dataclass
class Pipeline:
    search: str                                   # the macro-expanded search text that positions refer to
    commands: List[Command] = field(default_factory=list)
    spans: List[Span] = field(default_factory=list)   # which characters came from which macro

    def origin(self, position: Optional[int]) -> Optional[str]:
        """The macro chain the character at `position` of the expanded search came from, if any."""
        return origin_of(self.spans, position)

    def annotate(self, exc: SplError) -> SplError:
        """Names, in the error, the macro its position points into."""
        if exc.origin is None:
            exc.origin = self.origin(exc.position)
        return exc

    def leading_search(self) -> Optional[SearchNode]:
        """The expression of the implied leading search over the raw events; None for a generating command."""
        first = self.commands[0] if self.commands else None
        return first.expr if isinstance(first, SearchCmd) and first.leading else None

    def reads_raw_events(self) -> bool:
        """Whether the raw `events` table is read (only by a leading search, here or in a subsearch; tstats
        reads the data model)."""
        return self.leading_search() is not None or any(s.pipeline.reads_raw_events() for s in self.subsearches)

    @property
    def subsearches(self) -> List[Subsearch]:
        """The subsearches of the pipeline's commands (not those nested in them)."""
        return [s for cmd in self.commands for s in subsearches_of(cmd)]

    def output_fields(self) -> Optional[List[str]]:
        """The fields of the results as far as they are known without data (None: raw events' fields)."""
        fields: Optional[List[str]] = None
        for cmd in self.commands:
            spec = spec_of(cmd)
            fields = spec.outputs(cmd, fields) if spec is not None else None
        return fields


def origin_of(spans: List[Span], position: Optional[int]) -> Optional[str]:
    span = Expansion("", spans).origin(position)
    return describe(span.chain) if span is not None else None


def parse_pipeline(search: str, sources: Optional[Sources] = None) -> Pipeline:
    """Expands the search's macros and parses it (with saved searches spliced in for `| savedsearch`)."""
    sources = sources or Sources()
    expansion = expand(search, sources.macros)
    return parse_expanded(expansion.text, sources, spans=expansion.spans)


def parse_expanded(text: str, sources: Optional[Sources] = None, _depth: int = 0,
                   spans: Optional[List[Span]] = None) -> Pipeline:
    """Parses a macro-expanded search; errors name the macro (from `spans`) their position points into."""
    spans = spans or []
    try:
        return _parse_expanded(text, sources or Sources(), _depth, spans)
    except SplError as exc:
        if exc.origin is None:
            exc.origin = origin_of(spans, exc.position)
        if exc.search is None:
            exc.search = text
        raise


def _parse_expanded(text: str, sources: Sources, _depth: int, spans: List[Span]) -> Pipeline:
    segments = split_pipeline(text)
    end = len(text)
    commands: List[Command] = []
    if segments[0][0] == "":
        if len(segments) == 1:
            raise SplError("empty search")
        name, rest, rest_pos = split_name(*segments[1])
        spec = COMMANDS.get(name.lower())
        if spec is None or GENERATING not in spec.kinds:
            not_a_command(name, *segments[1], spans)
            raise Unsupported(f"generating command {name}" if name else "empty command", segments[1][1])
        cmd = _parse(spec, rest, rest_pos, end, sources, _depth, spans)
        if isinstance(cmd, SavedSearchCmd):
            return _splice(text, segments, cmd, sources, _depth, spans)
        commands.append(cmd)
        segments = segments[2:]
    else:
        first_text, first_pos = segments[0]
        name, rest, rest_pos = split_name(first_text, first_pos)
        if name.lower() == "search":
            first_text, first_pos = rest, rest_pos
        masked, refs = _subsearches(first_text, first_pos, end, sources, _depth, spans)
        tokens = tokenize(masked, first_pos, search_values=True)
        cmd = SearchCmd(first_pos, parse_search(tokens, end), leading=True)
        attach(cmd, refs)
        commands.append(cmd)
        segments = segments[1:]
    for seg_text, seg_pos in segments:
        name, rest, rest_pos = split_name(seg_text, seg_pos)
        if not name:
            raise SplError("empty command between pipes", seg_pos)
        spec = COMMANDS.get(name.lower())
        if spec is None:
            not_a_command(name, seg_text, seg_pos, spans)
            commands.append(parse_custom(name, rest, rest_pos))
        elif STREAMING not in spec.kinds:
            what = "tstats after the first command (prestats/append)" if spec.name == "tstats" else \
                f"{name} after the first command (it generates results)"
            raise Unsupported(what, seg_pos)
        else:
            commands.append(_parse(spec, rest, rest_pos, end, sources, _depth, spans))
    return Pipeline(text, commands, spans)


def _parse(spec: CommandSpec, rest: str, pos: int, end: int, sources: Sources, depth: int,
           spans: List[Span]) -> Command:
    masked, refs = _subsearches(rest, pos, end, sources, depth, spans)
    if refs and not spec.subsearch:
        raise Unsupported(f"subsearch [ ... ] in {spec.name}", next(iter(refs.values())).pos)
    tokens = tokenize(masked, pos, single_quotes=spec.single_quotes, search_values=spec.search_values)
    cmd = spec.parse(tokens, pos, end)
    attach(cmd, refs)
    return cmd


def _subsearches(text: str, pos: int, end: int, sources: Sources, depth: int,
                 spans: List[Span]) -> Tuple[str, Dict[str, Subsearch]]:
    """The command text with its subsearches masked, and each subsearch parsed (a pipeline whose positions
    are those of the whole expanded search). The subsearch runs first, on the same data (engine)."""
    masked, found = find_subsearches(text, pos)
    refs: Dict[str, Subsearch] = {}
    for marker, start, stop in found:
        if depth >= MAX_SAVEDSEARCH_DEPTH:
            raise SplError(f"subsearches nested deeper than {MAX_SAVEDSEARCH_DEPTH} levels", start - 1)
        inner = text[start - pos:stop - pos]
        if not inner.strip():
            raise SplError("empty subsearch [ ]", start - 1)
        padded = " " * start + inner + " " * max(0, end - stop)
        refs[marker] = Subsearch(_parse_expanded(padded, sources, depth + 1, spans), start - 1)
    return masked, refs


def _splice(text: str, segments: List[Tuple[str, int]], cmd: SavedSearchCmd, sources: Sources,
            depth: int, spans: List[Span]) -> Pipeline:
    """`| savedsearch X | rest` -> the saved search's expanded text followed by `| rest`, parsed. Errors in
    the spliced text name the saved search (and its macros) they come from."""
    if depth >= MAX_SAVEDSEARCH_DEPTH:
        raise SplError(f"savedsearch nested deeper than {MAX_SAVEDSEARCH_DEPTH} levels at {cmd.name!r} "
                       "(does a saved search run itself?)", cmd.pos)
    inner = expand(saved_search_text(cmd, sources.savedsearches).strip(), sources.macros)
    label = f"savedsearch {cmd.name!r}"
    start = text.rfind("|", 0, segments[2][1]) if len(segments) > 2 else len(text)   # the next '|'
    after = text[start:]
    shift = len(inner.text) + 1 - start
    new_spans = [Span(0, len(inner.text), (label,))] + \
        [Span(s.start, s.end, (label,) + s.chain) for s in inner.spans] + \
        [Span(s.start + shift, s.end + shift, s.chain) for s in spans if s.start >= start]
    combined = inner.text + (" " + after if after else "")
    return parse_expanded(combined, sources, depth + 1, new_spans)


def split_name(text: str, pos: int) -> Tuple[str, str, int]:
    """(command name, argument text, position of the argument text)."""
    m = re.match(r"(\S+)(\s*)", text)
    if not m:
        return "", "", pos
    return m.group(1), text[m.end():], pos + m.end()


_COMMAND_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]*")


def not_a_command(name: str, segment: str, pos: int, spans: List[Span]) -> None:
    """A search expression where a command must stand (typically a filter macro without `search`) is an error
    that says so, not an unknown command."""
    if _COMMAND_NAME.fullmatch(name) and name not in ("NOT", "AND", "OR"):
        return
    origin = origin_of(spans, pos)
    text = segment if len(segment) <= 80 else segment[:77] + "..."
    if origin:
        exc = SplError(f"macro {origin} expands to `{text}` after '|', which is not a complete command: "
                       f"start the definition with a command, e.g. `search {text}` or `where ...`", pos)
        exc.origin = ""          # named in the message already
        raise exc
    raise SplError(f"`{text}` after '|' is not a command: start it with a command, e.g. `search {text}`", pos)


def no_subsearch(tokens: List[Token]) -> None:
    """Refuses a subsearch where none is parsed (kept for callers that tokenize on their own)."""
    for tok in tokens:
        if tok.kind == WORD and tok.value.startswith("["):
            raise Unsupported("subsearch [ ... ]", tok.pos)
