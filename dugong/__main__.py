"""``python -m dugong``: the command line (see :mod:`dugong.cli`)."""

import sys

from .cli import main

sys.exit(main())
