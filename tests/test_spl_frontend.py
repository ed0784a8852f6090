"""The SPL front end: one parse of the macro-expanded search into a Pipeline, registries of commands and
eval functions, and `savedsearch`.

Splunk references: Search Reference "savedsearch" (a generating command that must start with a leading pipe;
`$key$` placeholders are replaced with the values given unless nosubstitution=true), Search Manual "About the
search pipeline" (a search not starting with '|' starts with an implied search command).
"""
from __future__ import annotations

import re

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

from localsearch.conf import LayeredConf, parse_conf
from localsearch.spl import functions
from localsearch.spl.ast import ECall
from localsearch.spl.commands import (COMMANDS, Command, CommandSpec, CustomCmd, Frame, RenameCmd, Runtime,
                                      SearchCmd, TableCmd, TstatsCmd, WhereCmd, register)
from localsearch.spl.commands import base as command_base
from localsearch.spl.errors import SplError, Unsupported
from localsearch.spl.lexer import Token
from localsearch.spl.pipeline import Pipeline, Sources, parse_expanded, parse_pipeline
from localsearch.spl.sql import Col

from project import REPO
from test_spl_engine import engine, rows


def conf(name: str, text: str) -> LayeredConf:
    return LayeredConf(name, [parse_conf(text, f"{name}.conf")])


def test_pipeline_is_typed_and_carries_the_expanded_text() -> None:
    macros = conf("macros", "[f]\ndefinition = where x=1\n")
    p = parse_pipeline("search a=b | `f` | table a", Sources(macros))
    assert p.search == "search a=b | where x=1 | table a"
    assert [type(c) for c in p.commands] == [SearchCmd, WhereCmd, TableCmd]
    first = p.commands[0]
    assert isinstance(first, SearchCmd) and first.leading and p.leading_search() is not None
    assert p.reads_raw_events()
    assert p.search[p.commands[1].pos:].startswith("x=1")         # positions point into the expanded text


def test_tstats_pipeline_reads_no_raw_events_and_knows_its_output_fields() -> None:
    p = parse_expanded("| tstats count from datamodel=Endpoint.Processes by Processes.dest Processes.user "
                       "| rename Processes.* AS * | table dest count | rbascore impact=1")
    assert [type(c) for c in p.commands] == [TstatsCmd, RenameCmd, TableCmd, CustomCmd]
    assert p.leading_search() is None and not p.reads_raw_events()
    assert parse_expanded(p.search.rsplit("|", 1)[0]).output_fields() == ["dest", "count"]
    assert p.output_fields() is None            # a custom command's fields are known only when it runs


def test_shipped_searches_parse_with_the_app_confs() -> None:
    from localsearch.conf import AppConfs
    from localsearch.engine import sources_of
    confs = AppConfs(REPO, REPO / "local")
    saved = confs.conf("savedsearches")
    names = [n for n in saved.stanza_names() if n != "default" and saved.get(n, "search")]
    assert names
    for name in names:
        p = parse_pipeline(saved.get(name, "search") or "", sources_of(confs))
        assert p.commands, name


@pytest.mark.parametrize("search", [
    "* | search NOT [| inputlookup allow.csv | fields dest, user]",      # a comma inside the subsearch
    "NOT [| inputlookup allow.csv | fields dest, user]",
])
def test_a_subsearch_is_parsed_into_a_pipeline_of_its_own(search: str) -> None:
    p = parse_expanded(search)
    (sub,) = p.subsearches
    assert [type(c).__name__ for c in sub.pipeline.commands] == ["InputlookupCmd", "FieldsCmd"]
    assert sub.pipeline.commands[1].patterns == ["dest", "user"]
    assert p.search[sub.pos] == "["                      # positions are those of the whole search


@pytest.mark.parametrize("search,where", [
    ("* | where x=1 [search y]", "subsearch [ ... ] in where"),
    ("* | rename [search y] AS z", "subsearch [ ... ] in rename"),
    ("* | search a=[search y]", "subsearch as a field value"),
])
def test_a_subsearch_where_a_command_takes_none_is_refused(search: str, where: str) -> None:
    with pytest.raises(Unsupported, match=re.escape(f"unsupported in local runs: {where}")):
        parse_expanded(search)


def test_generating_commands_only_first() -> None:
    with pytest.raises(Unsupported, match="tstats after the first command"):
        parse_expanded("* | tstats count from datamodel=Endpoint.Processes")
    with pytest.raises(Unsupported, match="savedsearch after the first command"):
        parse_expanded('* | savedsearch "x"')
    with pytest.raises(Unsupported, match="generating command where"):
        parse_expanded("| where x=1")


# ---- registries: adding a command or a function is one entry ------------------------------------------------
@dataclass
class UpperCmd(Command):
    field: str


@pytest.fixture
def upper_command() -> Iterator[None]:
    def parse(tokens: List[Token], pos: int, end: int) -> UpperCmd:
        return UpperCmd(pos, tokens[0].value)

    def compile_(cmd: UpperCmd, frame: Optional[Frame], rt: Runtime) -> Frame:
        assert frame is not None
        cols = [Col(c.name, f"upper({c.sql})", "VARCHAR") if c.name == cmd.field else c for c in frame.cols]
        return rt.materialize(frame.table, [(c.name, c.sql) for c in cols])

    spec = register(CommandSpec("lsupper", UpperCmd, parse, compile_))
    yield
    del COMMANDS[spec.name]
    del command_base._BY_CLASS[UpperCmd]


def test_a_command_registered_in_one_place_parses_and_runs(upper_command: None) -> None:
    assert [r["name"] for r in rows("* | table id name | lsupper name | where id=\"2\"")] == ["CMD.EXE"]
    with pytest.raises(ValueError, match="registered twice"):
        register(CommandSpec("lsupper", UpperCmd, lambda t, p, e: UpperCmd(p, ""),
                             lambda c, f, r: pytest.fail("not run")))


@pytest.fixture
def reverse_function() -> Iterator[None]:
    @functions.function("lsreverse", 1)
    def _reverse(ctx: functions.EvalContext, call: ECall) -> functions.Compiled:
        return f"reverse({ctx.text(call.args[0], call.pos)})", "str"
    yield
    del functions.FUNCTIONS["lsreverse"]


def test_an_eval_function_registered_in_one_place_parses_checks_arity_and_compiles(reverse_function: None) -> None:
    assert [r["id"] for r in rows('* | where lsreverse(name) = "exe.dmc"')] == ["2"]
    with pytest.raises(SplError, match=r"lsreverse\(\) takes 1 argument\(s\), got 2"):
        rows('* | where lsreverse(name, name) = "x"')


# ---- savedsearch ---------------------------------------------------------------------------------------------
def app_with_saved(tmp_path: Path, saved: str) -> Path:
    app = tmp_path / "app"
    (app / "default").mkdir(parents=True)
    (app / "default" / "savedsearches.conf").write_text(saved)
    return app


SAVED = """
[Wmi children]
search = name=wmiprvse.exe
[By user]
search = * | where user="$who$" | table id
[Twice]
search = | savedsearch "Wmi children" | table id name
[Loop]
search = | savedsearch Loop
"""


def test_savedsearch_runs_the_saved_search_text_and_what_follows_applies(tmp_path: Path) -> None:
    app = app_with_saved(tmp_path, SAVED)
    assert sorted(str(r["id"]) for r in rows('| savedsearch "Wmi children"', app=app)) == ["1", "3"]
    assert [r["id"] for r in rows('| savedsearch "Wmi children" | where user="bob"', app=app)] == ["3"]
    assert [r["name"] for r in rows('| savedsearch Twice | where id="1"', app=app)] == ["WmiPrvSE.exe"]
    res = engine(app=app).run('| savedsearch "Wmi children" | table id')
    assert res.search == "name=wmiprvse.exe | table id"         # errors point into this text


def test_savedsearch_replaces_placeholders_unless_nosubstitution(tmp_path: Path) -> None:
    app = app_with_saved(tmp_path, SAVED)
    assert rows('| savedsearch "By user" who=carol', app=app) == [{"id": "4"}]
    assert rows('| savedsearch "By user" who=carol nosubstitution=true', app=app) == []   # user="$who$"
    assert rows('| savedsearch "By user"', app=app) == []                                # left as typed


def test_a_saved_tstats_search_reads_no_raw_events(tmp_path: Path) -> None:
    app = app_with_saved(tmp_path, "[T]\nsearch = | tstats count from datamodel=Endpoint.Processes\n")
    saved = LayeredConf("savedsearches", [parse_conf((app / "default" / "savedsearches.conf").read_text())])
    p = parse_pipeline('| savedsearch T | where count > 0', Sources(None, saved))
    assert [type(c) for c in p.commands] == [TstatsCmd, WhereCmd] and not p.reads_raw_events()
    assert p.origin(p.search.index("tstats")) == "savedsearch 'T'"


def test_savedsearch_errors_name_the_search(tmp_path: Path) -> None:
    app = app_with_saved(tmp_path, SAVED)
    with pytest.raises(SplError, match=r"no saved search named 'Nope'.*'Wmi children'"):
        rows('| savedsearch "Nope"', app=app)
    with pytest.raises(SplError, match=r"nested deeper than 10 levels at 'Loop'"):
        rows("| savedsearch Loop", app=app)
    with pytest.raises(SplError, match="expected <key>=<value>.*double quotes"):
        rows("| savedsearch Wmi children", app=app)
    with pytest.raises(SplError, match="nosubstitution=maybe is not a Boolean"):
        rows('| savedsearch "By user" nosubstitution=maybe', app=app)


def test_the_cli_parses_once_and_the_engine_runs_that_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine accepts the Pipeline the loader decisions were made on."""
    p = parse_expanded("name=cmd.exe | table id")
    assert isinstance(p, Pipeline)
    eng = engine()
    monkeypatch.setattr(eng, "parse", lambda search: pytest.fail("parsed again"))
    assert eng.run(p).rows == [["2"]]


@pytest.mark.parametrize("search", [
    'search p="* Nul*"p="*&gt;*"',
    '| tstats count from datamodel=Endpoint.Processes where (Processes.parent_process="* Nul*"'
    'Processes.parent_process="*&gt;*") by Processes.dest',
])
def test_a_quoted_value_joined_to_the_next_term_is_refused(search: str) -> None:
    """ESCU's ping_sleep_batch_command writes `f="* Nul*"f="*&gt;*"`. The Search Reference ("Quotes and
    escaping characters" under search) says quotes delimit a phrase or value but not how a quoted value
    directly followed by more text is split (one value, or two terms): refused, not a syntax error."""
    with pytest.raises(Unsupported, match=re.escape('a quoted value directly followed by more text ("* Nul*"')):
        parse_pipeline(search, Sources(conf("macros", "")))
