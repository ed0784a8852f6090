"""Which files of an app the runner may run or read, as Splunk keeps them inside the app.

- Custom search commands run only from the app's ``bin/`` (commands.conf.spec: a custom search script goes in
  ``$SPLUNK_HOME/etc/apps/<app>/bin/``; ``filename`` is the "Name of script file for command").
- Lookup tables are read only from the app's ``lookups/`` (transforms.conf.spec, ``filename``: "Only file names
  are supported. Paths are explicitly not supported." Splunk then looks for the name in the app's ``lookups/``).

So a name with a path in it (``..``, an absolute path, any separator) is refused, as is a symbolic link that leads
out of the folder: a tuning change under review must not be able to run or read anything else. Errors name the
setting and where it is set, never the target of a link or the content of a file.
"""
from __future__ import annotations

import re
from pathlib import Path

_PATHLIKE = re.compile(r"[/\\\x00]|^[A-Za-z]:|^\.\.?$")  # a separator, NUL, a Windows drive, . or ..


class OutsideApp(ValueError):
    """A file name that would leave the app's folder; the text says which setting and why."""


def inside(folder: Path, name: str, what: str, where: str, rule: str) -> Path:
    """``folder / name`` if ``name`` is a plain file name and the file (links followed) stays in ``folder``."""
    if not name or _PATHLIKE.search(name):
        raise OutsideApp(f"{what} {name!r} ({where}) is a path, not a file name in the app's {folder.name}/: "
                         f"{rule}")
    path = folder / name
    if path.is_symlink() or path.exists():
        try:
            path.resolve(strict=True).relative_to(folder.resolve(strict=True))
        except (OSError, RuntimeError, ValueError):
            raise OutsideApp(f"{what} {name!r} ({where}) is a link that leads out of the app's {folder.name}/: "
                             f"{rule}") from None
    return path


def command_script(bin_dir: Path, filename: str, where: str) -> Path:
    """The script of a commands.conf stanza: a file in the app's bin/."""
    return inside(bin_dir, filename, "filename", where,
                  "Splunk runs custom search commands only from the app's bin/ (commands.conf.spec)")


def lookup_file(lookups_dir: Path, filename: str, where: str) -> Path:
    """A CSV lookup table: a file in the app's lookups/."""
    return inside(lookups_dir, filename, "lookup file", where,
                  "Splunk reads lookup files only from the app's lookups/ and takes only file names, no paths "
                  "(transforms.conf.spec, filename)")
