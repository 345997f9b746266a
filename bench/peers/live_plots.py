"""The plot of ``bench/live.py``, drawn with matplotlib in the peers' virtualenv.

``python bench/peers/live_plots.py live.json live.png`` writes one figure of six panels: RSS
per connected view, click round trips per second, the server's CPU per click, the click's
reply frame, the diff inside it, and Hearth's stream insert cost by the items on the page.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLOURS = {"hearth": "#c0392b", "pyview": "#2980b9"}
GOAL = "#555555"


def label(ax: Any, rects: Any, fmt: str) -> None:
    for r in rects:
        ax.annotate(fmt.format(r.get_height()), (r.get_x() + r.get_width() / 2, r.get_height()),
                    ha="center", va="bottom", fontsize=7)


def goal_line(ax: Any, y: float, text: str) -> None:
    ax.axhline(y, color=GOAL, linestyle="--", linewidth=1)
    ax.annotate(text, (0.5, y), xycoords=("axes fraction", "data"), ha="center", va="center",
                fontsize=7, color=GOAL, bbox={"facecolor": "white", "edgecolor": GOAL,
                                              "boxstyle": "round", "linewidth": 0.5})


def main() -> None:
    with open(sys.argv[1]) as f:
        res = json.load(f)
    sv: dict[str, Any] = res["servers"]
    keys = list(sv)
    names = [sv[k]["label"] for k in keys]
    colours = [COLOURS[k] for k in keys]
    m = res["machine"]
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5), dpi=100)

    def per_server(ax: Any, values: list[float], fmt: str) -> None:
        rects = ax.bar(range(len(keys)), values, color=colours)
        label(ax, rects, fmt)
        ax.set_xticks(range(len(keys)), names)
        ax.margins(y=0.15)

    ax = axes[0][0]
    sizes = list(sv["hearth"]["held"])
    width = 0.8 / len(keys)
    for i, k in enumerate(keys):
        xs = [j + i * width for j in range(len(sizes))]
        rects = ax.bar(xs, [sv[k]["held"][n]["kb_per_view"] for n in sizes], width,
                       color=COLOURS[k], label=sv[k]["label"])
        label(ax, rects, "{:.1f}")
    goal_line(ax, 30, "goal: 30 KB")
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(sizes))],
                  [f"{int(n):,} views" for n in sizes])
    ax.set_ylabel("KB")
    ax.set_title("server RSS per connected view (lower is better)", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    ax.margins(y=0.2)

    ax = axes[0][1]
    per_server(ax, [sv[k]["clicks"]["per_s"] for k in keys], "{:,.0f}")
    goal_line(ax, 3 * sv["pyview"]["clicks"]["per_s"], "goal: 3\N{MULTIPLICATION SIGN} pyview")
    ax.set_ylabel("click round trips / s")
    ax.set_title("1,000 views clicking, one click in flight each\n(all windows; higher is "
                 "better)", fontsize=9)

    ax = axes[0][2]
    per_server(ax, [sv[k]["clicks"]["server_cpu_us"] for k in keys], "{:,.0f}")
    ax.set_ylabel("µs")
    ax.set_title("server CPU per click (lower is better)", fontsize=9)

    ax = axes[1][0]
    per_server(ax, [sv[k]["click"]["frame_bytes"] for k in keys], "{:.0f}")
    ax.set_ylabel("bytes")
    ax.set_title("the click's reply frame, payload as sent (lower is better)", fontsize=9)

    ax = axes[1][1]
    per_server(ax, [sv[k]["click"]["diff_bytes"] for k in keys], "{:.0f}")
    ax.set_xticks(range(len(keys)), [f"{sv[k]['label']}\n{sv[k]['click']['diff']}"
                                     for k in keys])
    goal_line(ax, 9, 'Phoenix: {"0":"1"}, 9 bytes')
    ax.set_ylabel("bytes")
    ax.set_title("the diff inside the reply, as sent (lower is better)", fontsize=9)

    ax = axes[1][2]
    st = res["stream"]
    ns = list(st)
    rects = ax.bar(range(len(ns)), [st[n]["us_per_insert"] for n in ns],
                   color=COLOURS["hearth"])
    label(ax, rects, "{:.1f}")
    ax.set_xticks(range(len(ns)), [f"{int(n):,} items" for n in ns])
    ax.set_ylabel("µs of CPU")
    ax.set_title("Hearth: render + diff of one stream insert,\nby the items on the page "
                 "(flat is the goal)", fontsize=9)
    ax.margins(y=0.15)

    fig.suptitle(f"Live pages (bench/live.py): Hearth beside pyview, {m['date']}, "
                 f"{m['cpus']} CPUs{', --quick' if res['quick'] else ''}", fontsize=10)
    fig.tight_layout()
    fig.savefig(sys.argv[2])
    plt.close(fig)


if __name__ == "__main__":
    main()
