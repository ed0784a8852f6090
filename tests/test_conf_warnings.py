"""Local tuning that does nothing is reported: a conf file, stanza or key the app never reads, with the
nearest name that would work (Admin Manual, "Configuration file precedence": a local stanza overrides the
default stanza of the same name, key by key; files are read by their conf name only)."""
from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from localsearch.conf import AppConfs
from localsearch.confcheck import local_conf_warnings

from project import MAIN_RULE as RULE, REPO, localsearch


def warnings_for(tmp_path: Path, **files: str) -> List[str]:
    local = tmp_path / "tuning"
    local.mkdir(exist_ok=True)
    for name, text in files.items():
        (local / name.replace("__", ".")).write_text(text)
    return local_conf_warnings(AppConfs(REPO, local), RULE)


def test_a_misspelled_macro_stanza_names_the_nearest_macro(tmp_path: Path) -> None:
    out = warnings_for(tmp_path, macros__conf="[process_execution_via_wmi_filer]\ndefinition = search NOT x=1\n")
    assert len(out) == 1
    assert "[process_execution_via_wmi_filer]" in out[0] and "macros.conf:1" in out[0]
    assert "did you mean process_execution_via_wmi_filter?" in out[0]


def test_a_misspelled_key_names_the_nearest_key(tmp_path: Path) -> None:
    out = warnings_for(tmp_path, macros__conf="[process_execution_via_wmi_filter]\ndefiniton = search NOT x=1\n")
    assert out == [f"key 'definiton' in [process_execution_via_wmi_filter] ({tmp_path}/tuning/macros.conf:2) "
                   "is never read (did you mean 'definition'?)"]


def test_a_misnamed_file_names_the_nearest_conf_file(tmp_path: Path) -> None:
    out = warnings_for(tmp_path, macro__conf="[process_execution_via_wmi_filter]\ndefinition = search NOT x=1\n")
    assert len(out) == 1 and "macro.conf is not read in local runs" in out[0]
    assert "did you mean macros.conf?" in out[0]


def test_other_confs_stanzas_and_keys(tmp_path: Path) -> None:
    out = warnings_for(tmp_path,
                       transforms__conf="[wmi_process_execution_allowlst]\nfilename = x.csv\n"
                                        "[wmi_process_execution_allowlist]\nmax_match = 1\n",
                       savedsearches__conf=f"[{RULE}]\nserach = | tstats count\n[Nope]\nsearch = *\n",
                       commands__conf="[rbascore]\nfilenam = x.py\n")
    text = "\n".join(out)
    assert "[wmi_process_execution_allowlst]" in text and "did you mean wmi_process_execution_allowlist?" in text
    assert "key 'max_match'" in text and "did you mean 'max_matches'?" in text
    assert "key 'serach'" in text and "did you mean 'search'?" in text
    assert "[Nope]" in text and "not the one run" in text
    assert "key 'filenam'" in text and "'filename'" in text
    assert len(out) == 5, out


def test_working_tuning_gives_no_warning(tmp_path: Path) -> None:
    out = warnings_for(tmp_path,
                       macros__conf="[process_execution_via_wmi_filter]\ndefinition = `my_filter`\n"
                                    "description = d\n[my_filter]\ndefinition = search NOT x=1\n",
                       transforms__conf="[wmi_process_execution_allowlist]\nmax_matches = 1\n",
                       savedsearches__conf=f"[{RULE}]\ndispatch.earliest_time = -2h\ncron_schedule = */5 * * * *\n"
                                           "action.risk.param._risk_score = 10\n")
    assert out == []
    assert local_conf_warnings(AppConfs(REPO, tmp_path / "absent")) == []      # no local folder: nothing to check


@pytest.mark.parametrize("name,text,expected", [
    ("macros.conf", "[process_execution_via_wmi_filer]\ndefinition = search NOT process_name=cmd.exe\n",
     "did you mean process_execution_via_wmi_filter?"),
    ("macros.conf", "[process_execution_via_wmi_filter]\ndefiniton = search NOT process_name=cmd.exe\n",
     "did you mean 'definition'?"),
    ("macro.conf", "[process_execution_via_wmi_filter]\ndefinition = search NOT process_name=cmd.exe\n",
     "did you mean macros.conf?"),
])
def test_the_cli_warns_about_tuning_that_does_nothing(tmp_path: Path, name: str, text: str, expected: str) -> None:
    local = tmp_path / "tuning"
    local.mkdir()
    (local / name).write_text(text)
    proc = localsearch("run", "samples/", "--local-dir", str(local))
    assert proc.returncode == 0, proc.stderr
    assert "warning: " in proc.stderr and expected in proc.stderr
