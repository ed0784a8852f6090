"""localsearch.conf against Splunk's conf syntax and AppInspect's own configuration parser."""
from __future__ import annotations

from pathlib import Path

import pytest

from localsearch.conf import AppConfs, ConfError, LayeredConf, parse_conf
from project import REPO

appinspect_parser = pytest.importorskip("splunk_appinspect.configuration_parser")
appinspect_file = pytest.importorskip("splunk_appinspect.configuration_file")


def appinspect_parse(text: str) -> dict:
    conf = appinspect_file.ConfigurationFile()
    appinspect_parser.parse(text.split("\n"), conf, appinspect_parser.configuration_lexer)
    return {section.name: {k: v for k, v, _ in section.items()} for section in conf.sections()}


def ours(text: str) -> dict:
    conf = parse_conf(text)
    return {name: {k: s.value for k, s in settings.items()} for name, settings in conf.stanzas.items()}


APP_CONFS = sorted((REPO / "default").glob("*.conf"))


@pytest.mark.parametrize("path", APP_CONFS, ids=[p.name for p in APP_CONFS])
def test_agrees_with_appinspect_on_app_confs(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert ours(text) == appinspect_parse(text)


def test_app_has_confs_to_compare() -> None:
    names = {p.name for p in APP_CONFS}
    assert {"savedsearches.conf", "macros.conf"} <= names


TRICKY = (
    "# header comment\n"
    "top = level\n"
    "[Endpoint - Some Rule - Rule]\n"
    "search = | tstats count \\\n"
    "from datamodel=Endpoint.Processes \\\n"
    "# not a comment: continuation\n"
    "description = value # with an inline hash\n"
    "  ; indented semicolon comment\n"
    "   # indented comment\n"
    "spaced   =   padded value   \n"
    "empty =\n"
    "[a]b]\n"
    "k = v\n"
)


def test_tricky_syntax_matches_appinspect() -> None:
    assert ours(TRICKY) == appinspect_parse(TRICKY)


def test_continuation_keeps_newline_and_inline_hash_is_value() -> None:
    conf = parse_conf(TRICKY)
    rule = conf.stanzas["Endpoint - Some Rule - Rule"]
    assert rule["search"].value == ("| tstats count \nfrom datamodel=Endpoint.Processes \n"
                                    "# not a comment: continuation")
    assert rule["description"].value == "value # with an inline hash"
    assert rule["spaced"].value == "padded value"
    assert rule["empty"].value == ""
    assert conf.stanzas["default"]["top"].value == "level"
    assert conf.stanzas["a]b"]["k"].value == "v"
    assert rule["description"].line == 7


def test_trailing_whitespace_after_continuation_is_an_error_with_line() -> None:
    with pytest.raises(ConfError, match=r"x.conf:2: whitespace after a line-continuation"):
        parse_conf("[s]\nsearch = a \\  \nb\n", "x.conf")


def test_garbage_line_is_an_error_with_line() -> None:
    with pytest.raises(ConfError, match=r"y.conf:3:"):
        parse_conf("[s]\nk = v\nthis is not a setting\n", "y.conf")


def test_local_overrides_default_key_by_key(tmp_path: Path) -> None:
    (tmp_path / "default").mkdir()
    (tmp_path / "local").mkdir()
    (tmp_path / "default" / "macros.conf").write_text(
        "[default]\niseval = 0\n[m]\ndefinition = search a=1\ndescription = shipped\n[n]\ndefinition = x\n")
    (tmp_path / "local" / "macros.conf").write_text("[m]\ndefinition = search a=2\n[default]\niseval = 1\n")
    macros = AppConfs(tmp_path, tmp_path / "local").conf("macros")
    assert macros.get("m", "definition") == "search a=2"
    assert macros.get("m", "description") == "shipped"
    assert macros.get("n", "definition") == "x"
    assert macros.get("n", "iseval") == "1"          # local [default] beats default [default]
    assert macros.get("n", "missing", "dflt") == "dflt"
    assert "local" in macros.where("m")


def test_missing_layers_are_skipped(tmp_path: Path) -> None:
    conf = LayeredConf.load("macros", [tmp_path / "nope", tmp_path])
    assert conf.layers == [] and not conf.has_stanza("x")
