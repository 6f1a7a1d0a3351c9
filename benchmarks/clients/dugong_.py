"""This checkout's dugong (4.x), run by benchmarks/.venv-peers' python.

Scenario e runs its 200 connection coroutines with ``dugong.loop.run_all``; ``--scheduler
poll`` uses instead the minimal poll() scheduler of the dugong 3 client, which separates
the cost of the reactor from the cost of the connection.
"""

from __future__ import annotations

import _common as C
from _dugong_impl import poll_run_all, run

import dugong

NAME = "dugong"


def main() -> None:
    args = C.parse_args(__doc__)
    if not dugong.__version__.startswith("4."):
        C.fail(f"expected dugong 4.x, imported {dugong.__version__} from {dugong.__file__}")
    if args.scenario == "e" and args.scheduler == "loop":
        from dugong.loop import run_all
    else:
        run_all = poll_run_all
    run(dugong, NAME, dugong.__version__, args, run_all)


if __name__ == "__main__":
    main()
