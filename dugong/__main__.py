"""``python -m dugong``: the command line (see :mod:`dugong.cli`)."""

import sys

from .cli import entry_point

sys.exit(entry_point())
