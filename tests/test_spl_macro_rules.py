"""Macros as splunkd expands them, bounded, and errors that point into the expanded search.

References: macros.conf.spec (`args`, `$arg$` replaced everywhere; `iseval`: "the definition is expected to
be an eval expression that returns a string that represents the expansion"; `validation`: an eval expression,
false or NULL fails with `errormsg`, a non-Boolean non-NULL value is the error string); Knowledge Manager
Manual, "Use search macros" (a macro used after '|' must expand to a command).
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from localsearch.conf import LayeredConf, parse_conf
from localsearch.spl.errors import SplError, Unsupported
from localsearch.spl.macros import MAX_EXPANDED, expand, expand_macros
from localsearch.spl.pipeline import Sources, parse_pipeline

from project import localsearch
from test_spl_engine import rows


def macros(text: str) -> LayeredConf:
    return LayeredConf("macros", [parse_conf(text, "local/macros.conf")])


def doubling_conf(levels: int = 24) -> str:
    lines = [f"[d{k}]\ndefinition=`d{k + 1}``d{k + 1}`\n" for k in range(levels)]
    return "".join(lines) + f"[d{levels}]\ndefinition=x\n"


# ---- bounds -------------------------------------------------------------------------------------------------
def test_a_doubling_macros_conf_fails_fast_naming_the_macro() -> None:
    conf = doubling_conf()
    assert len(conf.encode()) < 700                 # the 647-byte reproduction, give or take
    started = time.monotonic()
    with pytest.raises(SplError) as err:
        expand_macros("`d0`", macros(conf))
    assert time.monotonic() - started < 5
    message = str(err.value)
    assert ("macro calls" in message or f"longer than {MAX_EXPANDED:,}" in message) and "`d" in message
    assert len(message) < 1000


def test_the_cli_reports_a_doubling_macro_without_printing_the_search(tmp_path: Path) -> None:
    local = tmp_path / "tuning"
    local.mkdir()
    (local / "macros.conf").write_text(doubling_conf() + "[process_execution_via_wmi_filter]\ndefinition = `d0`\n")
    proc = localsearch("run", "samples/", "--local-dir", str(local), timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "macro" in proc.stderr and len(proc.stderr) < 5000, proc.stderr[:2000]


def test_depth_is_bounded_and_the_chain_shortened() -> None:
    conf = "".join(f"[c{k}]\ndefinition = `c{k + 1}`\n" for k in range(60)) + "[c60]\ndefinition = search x\n"
    with pytest.raises(SplError, match=r"deeper than 50 levels: `c0`.*more.*`c5\d`") as err:
        expand_macros("`c0`", macros(conf))
    assert len(str(err.value)) < 600


# ---- positions name the macro ------------------------------------------------------------------------------------
def test_an_unterminated_quote_in_a_macro_names_the_macro_not_a_search_position() -> None:
    with pytest.raises(SplError) as err:
        expand_macros('search a=1 | `f`', macros('[f]\ndefinition = where x="abc\n'))
    assert err.value.position is None
    assert "unterminated" in str(err.value) and "definition of `f` (local/macros.conf:1)" in str(err.value)


def test_a_syntax_error_in_macro_text_points_into_the_expanded_search_and_names_the_macro() -> None:
    m = macros("[outer]\ndefinition = table a | `inner`\n[inner]\ndefinition = search (b=1\n")
    with pytest.raises(SplError) as err:
        parse_pipeline("search x=1 | `outer`", Sources(m))
    exc = err.value
    expanded = expand_macros("search x=1 | `outer`", m)
    assert expanded == "search x=1 | table a | search (b=1"
    assert exc.position is not None and expanded[exc.position] == "("
    assert "from macro `outer` (local/macros.conf:1) > `inner` (local/macros.conf:3)" in str(exc)


def test_a_runtime_refusal_names_the_macro() -> None:
    m = macros("[f]\ndefinition = search name=2001:db8::/32\n")
    with pytest.raises(Unsupported, match=r"IPv6 CIDR.*from macro `f` \(local/macros.conf:1\)"):
        from test_spl_engine import engine
        eng = engine()
        eng.run(parse_pipeline("* | `f`", Sources(m)))


def test_text_typed_in_the_search_names_no_macro() -> None:
    m = macros("[f]\ndefinition = table a\n")
    with pytest.raises(SplError) as err:
        parse_pipeline("`f` | search (b=1", Sources(m))
    assert "from macro" not in str(err.value)


def test_expansion_records_spans() -> None:
    exp = expand("a `f` b", macros("[f]\ndefinition = x `g` y\n[g]\ndefinition = zz\n"))
    assert exp.text == "a x zz y b"
    inner = exp.origin(exp.text.index("zz"))
    assert inner is not None and [c.split()[0] for c in inner.chain] == ["`f`", "`g`"]
    outer = exp.origin(exp.text.index("y"))
    assert outer is not None and len(outer.chain) == 1
    assert exp.origin(0) is None


# ---- quoted arguments, iseval, validation ---------------------------------------------------------------------------
def test_a_quoted_macro_argument_works_like_splunk_does() -> None:
    """31 of ESCU's Endpoint.Processes searches call `drop_dm_object_name("Processes")`."""
    out = rows('| tstats count from datamodel=Endpoint.Processes by Processes.dest '
               '| `drop_dm_object_name("Processes")`')
    assert [r["dest"] for r in out] == ["h1", "h2"]


ISEVAL = """
[joined(1)]
args = f
iseval = 1
definition = "search " . "$f$" . "=" . 1
[quoted]
iseval = true
definition = "table \\"a b\\""
[branchy]
iseval = 1
definition = if(true(), "a", "b")
"""


def test_iseval_definitions_are_evaluated() -> None:
    m = macros(ISEVAL)
    assert expand_macros("`joined(user)`", m) == "search user=1"
    assert expand_macros("`quoted`", m) == 'table "a b"'
    with pytest.raises(Unsupported, match="macro `branchy` with iseval = 1"):
        expand_macros("`branchy`", m)


VALIDATED = """
[limit(1)]
args = n
validation = isint(n) AND n > 0
errormsg = n must be a positive whole number
definition = head $n$
[named(1)]
args = kind
validation = if_missing_is_null
definition = search kind=$kind$
[stringy(1)]
args = v
validation = lower(v)
definition = search v=$v$
[dollar(1)]
args = v
validation = isnum($v$)
definition = search v=$v$
[odd(1)]
args = v
validation = sqrt(v) > 1
definition = search v=$v$
"""


def test_validation_passes_or_fails_with_errormsg() -> None:
    m = macros(VALIDATED)
    assert expand_macros("`limit(5)`", m) == "head 5"
    with pytest.raises(SplError, match=r"macro `limit\(1\)` \(local/macros.conf:2\): n must be a positive whole"):
        expand_macros("`limit(0)`", m)
    with pytest.raises(SplError, match="positive whole number"):
        expand_macros("`limit(x)`", m)
    assert expand_macros("`dollar(7)`", m) == "search v=7"
    with pytest.raises(SplError, match="fail its validation"):
        expand_macros("`dollar(seven)`", m)


def test_a_non_boolean_validation_fails_with_its_own_text_and_passes_on_null() -> None:
    m = macros(VALIDATED)
    with pytest.raises(SplError, match=r"macro `stringy\(1\)` .*: abc"):
        expand_macros("`stringy(ABC)`", m)
    assert expand_macros("`named(x)`", m) == "search kind=x"        # a missing field: NULL, success


def test_a_validation_the_runner_cannot_evaluate_is_refused() -> None:
    with pytest.raises(Unsupported, match=r"validation of macro `odd\(1\)`.*sqrt"):
        expand_macros("`odd(4)`", macros(VALIDATED))


# ---- a filter macro must be a complete command --------------------------------------------------------------
@pytest.mark.parametrize("definition", ['NOT process_name="CcmExec.exe"', "(user=a OR user=b)",
                                        'process_name!="x"'])
def test_a_filter_macro_that_is_not_a_command_gets_an_error_saying_so(definition: str) -> None:
    m = macros(f"[process_execution_via_wmi_filter]\ndefinition = {definition}\n")
    with pytest.raises(SplError) as err:
        parse_pipeline("| tstats count from datamodel=Endpoint.Processes | `process_execution_via_wmi_filter`",
                       Sources(m))
    assert not isinstance(err.value, Unsupported)
    assert "macro `process_execution_via_wmi_filter` (local/macros.conf:1) expands to" in str(err.value)
    assert "not a complete command" in str(err.value) and "search " in str(err.value)


def test_typed_text_that_is_not_a_command_gets_the_same_kind_of_error() -> None:
    with pytest.raises(SplError, match="after '|' is not a command"):
        parse_pipeline("* | NOT a=1")


def test_after_a_parse_error_the_engine_knows_the_expanded_search_to_point_into() -> None:
    from test_spl_engine import engine
    eng = engine()
    with pytest.raises(SplError) as err:
        eng.run('* | `security_content_ctime(firstTime)` | search (a=1')
    assert eng.search.startswith('* | convert timeformat="%Y-%m-%dT%H:%M:%S" ctime(firstTime) | search (')
    assert err.value.position is not None and eng.search[err.value.position] == "("
