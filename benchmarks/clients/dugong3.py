"""dugong 3.8.2 from PyPI, run by benchmarks/.venv-dugong3's python (same import name as ours)."""

from __future__ import annotations

import _common as C
from _dugong_impl import poll_run_all, run

import dugong

NAME = "dugong-3.8.2"


def main() -> None:
    args = C.parse_args(__doc__)
    if not dugong.__version__.startswith("3."):
        C.fail(f"expected dugong 3.x, imported {dugong.__version__} from {dugong.__file__}")
    run(dugong, NAME, dugong.__version__, args, poll_run_all)


if __name__ == "__main__":
    main()
