"""SPL commands, one module per family; importing this package registers them all in `COMMANDS`.

See localsearch/spl/README.md for how to add a command.
"""
from __future__ import annotations

from . import convert, evaluate, fieldops, filtering, lookup, rex, savedsearch, tstats  # noqa: F401  (registration)
from . import fill, inputlookup, join, sorting, stats, subsearch  # noqa: F401  (lookups, subsearches, stats family)
from .base import (COMMANDS, GENERATING, STREAMING, Command, CommandSpec, Frame, LookupTable, Runtime, register,
                   spec_of)
from .convert import ConvertCmd
from .custom import CustomCmd, parse_custom, split_args
from .fieldops import FieldsCmd, RenameCmd, TableCmd
from .filtering import SearchCmd, WhereCmd
from .lookup import LookupCmd
from .savedsearch import SavedSearchCmd
from .tstats import Aggregate, TstatsCmd

__all__ = ["COMMANDS", "GENERATING", "STREAMING", "Command", "CommandSpec", "Frame", "LookupTable", "Runtime",
           "register", "spec_of", "ConvertCmd", "CustomCmd", "parse_custom", "split_args", "FieldsCmd", "RenameCmd",
           "TableCmd", "SearchCmd", "WhereCmd", "LookupCmd", "SavedSearchCmd", "Aggregate", "TstatsCmd"]
