"""The plots of ``bench/run_all.py``, drawn with matplotlib in the peers' virtualenv.

``python bench/_plots.py side_by_side.json FOLDER`` writes idle.png, broadcast.png, chat.png,
connect.png and actors.png into FOLDER.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLOURS = {"hearth": "#c0392b", "aiohttp": "#7f8c8d", "socketio": "#2980b9",
           "channels_memory": "#27ae60", "channels_redis": "#8e44ad"}


def bars(ax: Any, labels: list[str], values: list[float], colours: list[str], fmt: str) -> None:
    rects = ax.bar(range(len(values)), values, color=colours)
    ax.set_xticks(range(len(values)), labels, rotation=20, ha="right", fontsize=8)
    for r, v in zip(rects, values, strict=True):
        ax.annotate(fmt.format(v), (r.get_x() + r.get_width() / 2, r.get_height()),
                    ha="center", va="bottom", fontsize=7)


def main() -> None:
    with open(sys.argv[1]) as f:
        res = json.load(f)
    out = sys.argv[2]
    ch: dict[str, Any] = res["channels"]
    keys = list(ch)
    labels = [ch[k]["label"] for k in keys]
    colours = [COLOURS.get(k, "#333333") for k in keys]
    stamp = f"{res['machine']['date']}, {res['machine']['cpus']} CPUs"

    def one(name: str, title: str, ylabel: str, values: list[float], fmt: str,
            log: bool = False) -> None:
        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=100)
        bars(ax, labels, values, colours, fmt)
        ax.set_title(f"{title}\n({stamp})", fontsize=10)
        ax.set_ylabel(ylabel)
        if log:
            ax.set_yscale("log")
        fig.tight_layout()
        fig.savefig(os.path.join(out, name))
        plt.close(fig)

    one("idle.png", f"(a) server RSS per idle connection, {res['n']:,} held (lower is better)",
        "KB per connection", [ch[k]["kb_per_conn"] for k in keys], "{:.1f}")
    one("chat.png", "(c) chat room of 100: deliveries per second, best window "
        "(higher is better)", "deliveries / s",
        [ch[k]["chat"]["deliveries_per_s"] for k in keys], "{:,.0f}")
    one("connect.png", "(d) connects + joins per second (higher is better)", "per second",
        [ch[k]["connect_per_s"] for k in keys], "{:,.0f}")

    sizes = res["sizes"]
    timeout_ms = res.get("round_timeout_s", 60) * 1000
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    width = 0.8 / len(keys)
    for i, k in enumerate(keys):
        xs = [j + i * width for j in range(len(sizes))]
        got = [ch[k]["broadcast"].get(str(s)) for s in sizes]
        over = [b is None or b["timed_out"] for b in got]
        ys = [timeout_ms if o else b["last_ms"] for b, o in zip(got, over, strict=True)]
        rects = ax.bar(xs, ys, width, color=colours[i], label=labels[i])
        for r, v, o in zip(rects, ys, over, strict=True):
            if o:
                r.set_hatch("//")
                r.set_alpha(0.4)
            ax.annotate(f">{v / 1000:,.0f} s" if o else f"{v:,.0f}",
                        (r.get_x() + r.get_width() / 2, r.get_height()),
                        ha="center", va="bottom", fontsize=7)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(sizes))],
                  [f"N = {s:,}" for s in sizes])
    ax.set_yscale("log")
    ax.set_ylabel("last delivery, median round (ms, log)")
    note = (f"\nN = {', '.join(f'{u:,}' for u in res['unreachable'])}: not reachable on this "
            f"machine (hard RLIMIT_NOFILE {res['rlimit_nofile']:,})" if res["unreachable"]
            else "")
    ax.set_title(f"(b) one broadcast to N subscribers (lower is better), {stamp}{note}",
                 fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "broadcast.png"))
    plt.close(fig)

    rows = res["actors"]["rows"]
    fig, axes = plt.subplots(1, max(1, len(rows)), figsize=(3 * max(1, len(rows)), 3.6),
                             dpi=100)
    axes = [axes] if len(rows) <= 1 else list(axes)
    for ax, row in zip(axes, rows, strict=False):
        vals = [float(re.sub(r"[^0-9.]", "", c) or "nan") for c in row[1:4]]
        bars(ax, ["hearth", "asyncio", "pykka"], vals,
             [COLOURS["hearth"], COLOURS["aiohttp"], "#d35400"], "{:,.2f}"
             if max(vals) < 100 else "{:,.0f}")
        ax.set_title(row[0], fontsize=7)
        ax.set_yscale("log")
    fig.suptitle(f"actors (bench/actors.py), {stamp}", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "actors.png"))
    plt.close(fig)


if __name__ == "__main__":
    main()
