"""The manual's charts, drawn from the benchmark results at every build.

As a Sphinx extension, this draws every chart into ``docs/_charts/`` when the
build starts (``builder-inited``), so the pages' ``.. image:: _charts/NAME``
always show the results committed in ``benchmarks/``: a new run of the
benchmarks changes the pictures with no other step.  The directory is not
committed.  Run as a script (``python docs/_ext/charts.py [DIR]``) it draws
them into DIR.

The inputs:

* ``benchmarks/results.json``, written by ``benchmarks/run.py``: the peers
  side by side (scenarios a, b and e; memory per idle connection in f);
* ``benchmarks/results-tls.json``, written by ``benchmarks/run.py --tls``:
  the same over TLS (a-tls, b-tls, c-tls, e-tls);
* ``benchmarks/results-many.json``, written by ``benchmarks/run.py --scenarios
  m,m-tls``: many requests to many hosts, dugong.Client and the asynchronous
  peers (m, m-tls);
* ``benchmarks/results-reactor.json``: ``bench_reactor.py --json`` for each
  setting of the garbage collector (``default``, ``off``);
* nothing, for the diagram of sequential and pipelined requests.

matplotlib (the ``docs`` extra) is required: a build without it fails
instead of leaving pages with missing pictures.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent.parent
BENCHMARKS = DOCS.parent / "benchmarks"
CHARTS = DOCS / "_charts"

#: The peers in the order of the benchmark's tables.
CLIENTS = (
    "http.client",
    "urllib3",
    "httpx",
    "aiohttp",
    "aiohttp-uvloop",
    "pycurl",
    "dugong",
    "dugong-resume",
    "dugong.Client",
    "dugong.Client-no-resume",
    "dugong.Client-depth-1",
    "dugong-3.8.2",
    "raw-socket",
    "raw-socket-resume",
    "wrk",
    "curl",
)
SCENARIO_TITLES = {
    "a": "a. sequential GETs of 1 KiB, one connection",
    "b": "b. pipelined GETs, 32 in flight, one connection",
    "e": "e. 200 connections x 50 GETs, concurrently",
}
TLS_TITLES = {
    "a-tls": "a-tls. sequential GETs of 1 KiB over TLS 1.3, one connection",
    "b-tls": "b-tls. pipelined GETs over TLS 1.3, 32 in flight, one connection",
    "c-tls": "c-tls. downloads of 256 MiB over TLS 1.3, one connection",
    "e-tls": "e-tls. 200 TLS connections x 50 GETs (-resume: sessions resumed)",
}
MANY_TITLES = {
    "m": "m. 20,000 GETs of 1 KiB over 8 origins, at most 6 connections each",
    "m-tls": "m-tls. the same over 8 TLS 1.3 origins (-no-resume: no session resumed)",
}

DUGONG = "#1f6f8b"  # dugong itself
FLOOR = "#99c1b9"  # the Python floor and the native ceilings
OTHER = "#b0b0b0"  # everyone else
INK = "#333333"


def _colour(client: str) -> str:
    if client.startswith("dugong") and client != "dugong-3.8.2":
        return DUGONG
    if client in ("raw-socket", "raw-socket-resume", "wrk", "curl"):
        return FLOOR
    return OTHER


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update(
        {
            "font.size": 9,
            "axes.edgecolor": INK,
            "axes.labelcolor": INK,
            "xtick.color": INK,
            "ytick.color": INK,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "svg.fonttype": "none",  # text stays text: small files, the page's font
            "svg.hashsalt": "dugong",  # the same input draws the same file
        }
    )
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    fig.savefig(path, format="svg", bbox_inches="tight", metadata={"Date": None})
    fig.clear()


def _barh(
    ax: Any,
    labels: list[str],
    values: list[float],
    text: Callable[[float], str],
    low: list[float] | None = None,
    high: list[float] | None = None,
) -> None:
    """Horizontal bars, the first label on top, each value written after its bar."""
    ys = [len(labels) - 1 - i for i in range(len(labels))]
    bars = ax.barh(ys, values, color=[_colour(c) for c in labels], height=0.7)
    if low is not None and high is not None:
        ax.errorbar(
            values,
            ys,
            xerr=[[v - lo for v, lo in zip(values, low)], [hi - v for v, hi in zip(values, high)]],
            fmt="none",
            ecolor=INK,
            elinewidth=0.8,
            capsize=2,
        )
    ax.set_yticks(ys, labels)
    right = max(high or values)
    ax.set_xlim(0, right * 1.3)
    for bar, value, top in zip(bars, values, high or values):
        ax.text(
            top + right * 0.02,
            bar.get_y() + bar.get_height() / 2,
            text(value),
            va="center",
            fontsize=8,
            color=INK,
        )


def scenario(plt: Any, results: dict[str, Any], name: str, path: Path) -> None:
    """Requests per second (median, min-max) and CPU µs per request of every client in one
    scenario (MB/s and CPU s per GB for a download)."""
    per = results["summary"][name]
    clients = [c for c in CLIENTS if "median" in per.get(c, {})]
    by_bytes = next(iter(per.values())).get("unit") == "MB/s"
    fig, (rate, cpu) = plt.subplots(1, 2, figsize=(7.2, 0.32 * len(clients) + 1.0), sharey=True)
    _barh(
        rate,
        clients,
        [per[c]["median"] for c in clients],
        lambda v: f"{v:,.0f}",
        [per[c]["min"] for c in clients],
        [per[c]["max"] for c in clients],
    )
    rate.set_xlabel(
        "MB per second (median, min-max)" if by_bytes else "requests per second (median, min-max)"
    )
    _barh(
        cpu,
        clients,
        [per[c]["cpu_median"] for c in clients],
        (lambda v: f"{v:.2f}") if by_bytes else (lambda v: f"{v:.1f}"),
    )
    cpu.set_xlabel(
        "client CPU s per GB (less is better)" if by_bytes else "client CPU µs per request (less is better)"
    )
    rate.xaxis.set_major_locator(plt.MaxNLocator(4))
    rate.xaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    cpu.xaxis.set_major_locator(plt.MaxNLocator(4))
    cpu.xaxis.set_major_formatter((lambda v, _: f"{v:.1f}") if by_bytes else (lambda v, _: f"{v:,.0f}"))
    fig.suptitle({**SCENARIO_TITLES, **TLS_TITLES, **MANY_TITLES}[name], x=0.02, ha="left", fontsize=10)
    _save(fig, path)


def memory(plt: Any, results: dict[str, Any], path: Path) -> None:
    """KiB of resident memory per idle connection (scenario f)."""
    per = results["summary"]["f"]
    clients = [c for c in CLIENTS if "median" in per.get(c, {})]
    fig, ax = plt.subplots(figsize=(7.2, 0.32 * len(clients) + 0.9))
    _barh(ax, clients, [per[c]["median"] / 1024 for c in clients], lambda v: f"{v:.2f} KiB")
    ax.set_xlabel("resident memory per idle connection, KiB (1,000 connections; less is better)")
    _save(fig, path)


def reactor_scaling(plt: Any, reactor: dict[str, Any], path: Path) -> None:
    """dugong.loop from 10 to 10,000 connections: CPU per request (user + system), and requests/s."""
    levels = reactor["default"]["levels"]
    off = {lv["concurrency"]: lv["cpu_us_per_request"] for lv in reactor["off"]["levels"]}
    labels = [f"{lv['concurrency']:,}" for lv in levels]
    xs = range(len(levels))
    fig, (cpu, rate) = plt.subplots(1, 2, figsize=(7.2, 2.9))
    user = [lv["user_us_per_request"] for lv in levels]
    system = [lv["system_us_per_request"] for lv in levels]
    cpu.bar(xs, user, color=DUGONG, width=0.6, label="user")
    cpu.bar(xs, system, bottom=user, color=FLOOR, width=0.6, label="system (kernel)")
    cpu.plot(
        xs,
        [off[lv["concurrency"]] for lv in levels],
        "D",
        color=INK,
        markersize=4,
        label="total, collector off",
    )
    base = next(lv["cpu_us_per_request"] for lv in levels if lv["concurrency"] == 100)
    for x, lv in zip(xs, levels):
        top = max(lv["cpu_us_per_request"], off[lv["concurrency"]])
        cpu.text(x, top + 1.2, f"{lv['cpu_us_per_request'] / base:.2f}x", ha="center", fontsize=8, color=INK)
    cpu.set_ylim(0, max(lv["cpu_us_per_request"] for lv in levels) * 1.6)
    cpu.set_ylabel("client CPU µs per request")
    cpu.legend(loc="upper left", fontsize=7, frameon=False, ncols=2)
    rate.bar(xs, [lv["requests_per_s"] for lv in levels], color=DUGONG, width=0.6)
    rate.set_ylabel("requests per second")
    rate.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    for ax in (cpu, rate):
        ax.set_xticks(list(xs), labels)
        ax.set_xlabel("connections on one reactor")
    fig.suptitle(
        "dugong.loop, sequential GETs on every connection (medians of 5; ratios to 100 connections)",
        x=0.02,
        ha="left",
        fontsize=10,
    )
    fig.tight_layout()
    _save(fig, path)


def pipelining(plt: Any, path: Path) -> None:
    """Three requests on one connection, one after the other and pipelined."""
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 2.6), sharey=True)
    rtt, gap = 1.0, 0.12  # a round trip, and the time between two requests sent at once

    def exchange(ax: Any, sent: float, answered: float) -> None:
        ax.annotate(
            "",
            xy=(sent + rtt / 2, 0),
            xytext=(sent, 1),
            arrowprops={"arrowstyle": "->", "color": DUGONG, "lw": 1.4},
        )
        ax.annotate(
            "",
            xy=(answered + rtt / 2, 1),
            xytext=(answered, 0),
            arrowprops={"arrowstyle": "->", "color": INK, "lw": 1.4, "ls": "--"},
        )

    sequential, pipelined = axes
    for n in range(3):
        exchange(sequential, n * rtt, n * rtt + rtt / 2)
        sequential.text(n * rtt + 0.06, 0.84, f"GET {n + 1}", fontsize=8, color=DUGONG)
        exchange(pipelined, n * gap, rtt / 2 + n * gap)
    pipelined.text(0.0, 1.08, "GET 1, 2, 3", fontsize=8, color=DUGONG)
    pipelined.text(rtt / 2 + 3 * gap + 0.3, 0.12, "responses 1, 2, 3\nin order", fontsize=8, color=INK)
    titles = (
        (sequential, "one after the other: 3 round trips", 3 * rtt),
        (pipelined, "pipelined: about 1 round trip", rtt + 2 * gap),
    )
    for ax, title, end in titles:
        ax.set_title(title, fontsize=10, loc="left")
        ax.axvline(end, color=OTHER, lw=0.8, ls=":")
        ax.set_xlim(-0.1, 3.2)
        ax.set_ylim(-0.25, 1.25)
        ax.set_yticks([0, 1], ["server", "client"])
        ax.set_xticks([])
        ax.set_xlabel("time →")
        for y in (0, 1):
            ax.axhline(y, color=INK, lw=0.8)
        ax.spines[["left", "bottom"]].set_visible(False)
    fig.tight_layout()
    _save(fig, path)


def draw_all(out: Path) -> list[Path]:
    """Draw every chart into *out*; return the files written."""
    plt = _pyplot()
    results = json.loads((BENCHMARKS / "results.json").read_text())
    reactor = json.loads((BENCHMARKS / "results-reactor.json").read_text())
    tls = json.loads((BENCHMARKS / "results-tls.json").read_text())
    many = json.loads((BENCHMARKS / "results-many.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[str, Callable[[Path], None]]] = [
        *((f"scenario-{s}.svg", lambda p, s=s: scenario(plt, results, s, p)) for s in SCENARIO_TITLES),
        *((f"scenario-{s}.svg", lambda p, s=s: scenario(plt, tls, s, p)) for s in TLS_TITLES),
        *((f"scenario-{s}.svg", lambda p, s=s: scenario(plt, many, s, p)) for s in MANY_TITLES),
        ("memory-per-connection.svg", lambda p: memory(plt, results, p)),
        ("reactor-scaling.svg", lambda p: reactor_scaling(plt, reactor, p)),
        ("pipelining.svg", lambda p: pipelining(plt, p)),
    ]
    written = []
    for name, draw in jobs:
        draw(out / name)
        written.append(out / name)
    plt.close("all")
    return written


def _on_builder_inited(app: Any) -> None:
    from sphinx.errors import ExtensionError
    from sphinx.util import logging

    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ExtensionError(
            "docs/_ext/charts.py needs matplotlib to draw the charts: python -m pip install -e '.[docs]'"
        ) from exc
    written = draw_all(CHARTS)
    logging.getLogger(__name__).info(f"charts: drew {len(written)} charts into {CHARTS}")


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    for written in draw_all(Path(sys.argv[1]) if len(sys.argv) > 1 else CHARTS):
        print(written)
