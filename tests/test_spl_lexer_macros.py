"""SPL tokenizer and macro expansion (Splunk semantics: Search Manual, 'Use search macros')."""
from __future__ import annotations

from pathlib import Path

import pytest

from localsearch.conf import AppConfs, parse_conf, LayeredConf
from localsearch.spl.errors import SplError, Unsupported
from localsearch.spl.lexer import OP, STRING, WORD, split_pipeline, tokenize
from localsearch.spl.macros import expand_macros


def test_split_pipeline_ignores_pipes_in_quotes_and_brackets() -> None:
    parts = split_pipeline('| tstats count | search a="x|y" | rbascore message="a | b"')
    assert [p for p, _ in parts] == ["", "tstats count", 'search a="x|y"', 'rbascore message="a | b"']
    text = "a=1 | b [x | y] | c"
    assert [p for p, _ in split_pipeline(text)] == ["a=1", "b [x | y]", "c"]
    # offsets point at the command text in the original search
    for part, off in split_pipeline(text):
        assert text[off:off + len(part)] == part


def test_tokens_quotes_escapes_and_operators() -> None:
    toks = tokenize(r'ParentImage="*\\WmiPrvSE.exe" NOT (User!="NT AUTHORITY\\SYSTEM") x=a\"b c>=5')
    kinds = [(t.kind, t.value) for t in toks]
    assert kinds == [
        (WORD, "ParentImage"), (OP, "="), (STRING, "*\\WmiPrvSE.exe"), (WORD, "NOT"), ("(", "("),
        (WORD, "User"), (OP, "!="), (STRING, "NT AUTHORITY\\SYSTEM"), (")", ")"),
        (WORD, "x"), (OP, "="), (WORD, 'a"b'), (WORD, "c"), (OP, ">="), (WORD, "5"),
    ]
    # a backslash before another character stays (Splunk cannot escape *)
    assert tokenize(r'"C:\Windows\*"')[0].value == "C:\\Windows\\*"


def test_exclamation_mark_is_part_of_a_word_unless_it_starts_not_equal() -> None:
    assert [(t.kind, t.value) for t in tokenize("name=a!b x!=y z=w!")] == [
        (WORD, "name"), (OP, "="), (WORD, "a!b"), (WORD, "x"), (OP, "!="), (WORD, "y"),
        (WORD, "z"), (OP, "="), (WORD, "w!")]


def test_unterminated_quote_names_position() -> None:
    with pytest.raises(SplError, match="unterminated"):
        tokenize('a="abc', base=10)


def macros(text: str) -> LayeredConf:
    return LayeredConf("macros", [parse_conf(text, "macros.conf")])


MACROS = """
[outer]
definition = `inner(x)` | `plain`
[inner(1)]
args = field
definition = convert ctime($field$) | rename $field$ AS t_$field$
[plain]
definition = search *
[two(2)]
args = a, b
definition = search $a$=$b$
[loop]
definition = `loop2`
[loop2]
definition = `loop`
[evalme]
iseval = 1
definition = "search y=1"
[evalhard]
iseval = 1
definition = if(1=1, "a", "b")
[validated(1)]
args = v
validation = isint(v)
definition = head $v$
"""


def test_nested_macros_and_argument_substitution() -> None:
    out = expand_macros("| tstats count | `outer`", macros(MACROS))
    assert out == "| tstats count | convert ctime(x) | rename x AS t_x | search *"


def test_arguments_by_position_and_by_name_and_quotes_kept() -> None:
    m = macros(MACROS)
    assert expand_macros('`two(user, "a, b")`', m) == 'search user="a, b"'
    assert expand_macros("`two(b=2, a=k)`", m) == "search k=2"


def test_drop_dm_object_name_is_built_in_and_overridable() -> None:
    assert expand_macros("`drop_dm_object_name(Processes)`", None) == "rename Processes.* AS *"
    custom = macros("[drop_dm_object_name(1)]\nargs = o\ndefinition = rename $o$.x AS x\n")
    assert expand_macros("`drop_dm_object_name(P)`", custom) == "rename P.x AS x"


def test_missing_macro_and_wrong_argument_count_name_the_macro() -> None:
    m = macros(MACROS)
    with pytest.raises(SplError, match=r"macro `nothere` is not defined"):
        expand_macros("search a | `nothere`", m)
    with pytest.raises(SplError, match=r"`two` called with 1 argument.*two\(2\)"):
        expand_macros("`two(x)`", m)
    with pytest.raises(SplError, match=r"`missing\(1\)` is not defined.*in `outer2`"):
        expand_macros("`outer2`", macros("[outer2]\ndefinition = `missing(a)`\n"))
    with pytest.raises(SplError, match="calls itself"):
        expand_macros("`loop`", m)
    with pytest.raises(SplError, match="unbalanced backtick"):
        expand_macros("search `plain", m)


def test_iseval_only_when_trivial_and_validation_applied() -> None:
    m = macros(MACROS)
    assert expand_macros("`evalme`", m) == "search y=1"
    with pytest.raises(Unsupported, match="unsupported in local runs: macro `evalhard` with iseval"):
        expand_macros("`evalhard`", m)
    assert expand_macros("`validated(5)`", m) == "head 5"
    with pytest.raises(SplError, match="validated.*fail its validation"):
        expand_macros("`validated(five)`", m)


def test_backticks_inside_quotes_are_text() -> None:
    assert expand_macros('rbascore message="`plain` $dest$"', macros(MACROS)) == 'rbascore message="`plain` $dest$"'


def test_local_dir_overrides_app_macro(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "default").mkdir(parents=True)
    (app / "default" / "macros.conf").write_text("[f]\ndefinition = search *\ndescription = d\n")
    local = tmp_path / "tuning"
    local.mkdir()
    (local / "macros.conf").write_text('[f]\ndefinition = search NOT dest="lab-*"\n')
    assert expand_macros("| x | `f`", AppConfs(app, local).conf("macros")) == '| x | search NOT dest="lab-*"'
    assert expand_macros("| x | `f`", AppConfs(app, app / "local").conf("macros")) == "| x | search *"
