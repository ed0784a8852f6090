"""`python -m localsearch run PATH...`: see localsearch/cli.py."""
from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
