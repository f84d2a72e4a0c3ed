#!/usr/bin/python3
"""Charts from bench/results/*.json (the figures recorded in bench/*.md) into bench/charts/*.svg.

    /usr/bin/python3 bench/plot.py [RESULTS_DIR [OUT_DIR]]   # Debian python3-matplotlib (apt)

- echo_cpu_ratio.svg: server CPU per request of bulb and every peer, per case, as a ratio to the
  floor server of the same run (epoll_echo); lower is better, 1.0 is the floor.
- echo_idle_memory.svg: RSS per idle connection (10,000 connections) per server.
- micro_loop.svg: the loop micro-benchmarks, ns per operation of bulb, uvloop and asyncio (log).
Regenerate whenever a results file changes (each file names the run it comes from).
"""
import json
import pathlib
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

here = pathlib.Path(__file__).resolve().parent
results = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else here / "results"
out = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else here / "charts"
out.mkdir(parents=True, exist_ok=True)
plt.rcParams.update({"font.size": 9, "svg.hashsalt": "bulb", "svg.fonttype": "none"})
BULB = "#d9822b"
OTHER = "#6b8fb3"
# Peers' colours: matplotlib's tab10 without its orange (bulb's).
PEERS = ["#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def save(fig, name):
    fig.tight_layout()
    fig.savefig(out / name, metadata={"Date": None})
    plt.close(fig)
    print(out / name)


def echo_cpu(echo):
    floor = echo["floor"]
    cases = sorted({(r["size"], r["conns"]) for r in echo["load"]}, key=lambda c: (c[1], c[0]))
    servers = [s for s in dict.fromkeys(r["server"] for r in echo["load"]) if s != floor]
    cpu = {(r["server"], r["size"], r["conns"]): r["server_cpu_us_per_req"] for r in echo["load"]}
    fig, ax = plt.subplots(figsize=(9, 4.2))
    width = 0.8 / len(servers)
    for i, server in enumerate(servers):
        xs, ys = [], []
        for j, (size, conns) in enumerate(cases):
            if (server, size, conns) in cpu and (floor, size, conns) in cpu:
                xs.append(j + (i - (len(servers) - 1) / 2) * width)
                ys.append(cpu[(server, size, conns)] / cpu[(floor, size, conns)])
        bulb = server.startswith("bulb")
        ax.bar(xs, ys, width, label=server, color=BULB if bulb else PEERS[i % len(PEERS)], edgecolor="black" if bulb else None,
               linewidth=0.6)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(cases)), [f"{s // 1024} KiB x {c} conns" for s, c in cases])
    ax.set_ylabel(f"server CPU per request / {floor}'s")
    ax.set_yscale("log")
    ax.set_title(f"Echo: server CPU per request relative to the floor ({floor} = 1; lower is better)")
    ax.legend(ncol=5, fontsize=7, loc="upper left")
    ax.text(0, -0.16, echo["source"], transform=ax.transAxes, fontsize=6)
    save(fig, "echo_cpu_ratio.svg")


def echo_memory(echo):
    servers = echo["idle_memory"]["servers"]
    fig, ax = plt.subplots(figsize=(7, 3.4))
    names = [s["server"] for s in servers]
    values = [s["kib_per_idle_conn"] for s in servers]
    ax.barh(names, values, color=[BULB if n.startswith("bulb") else OTHER for n in names])
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:.2f}", va="center", fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"KiB of server RSS per idle connection ({echo['idle_memory']['connections']:,} connections)")
    ax.set_title("Echo: memory per idle connection (lower is better)")
    save(fig, "echo_idle_memory.svg")


def micro(data):
    benches = data["benches"]
    fig, ax = plt.subplots(figsize=(8, 4))
    loops = [("bulb", "bulb_ns", BULB), ("uvloop", "uvloop_ns", OTHER), ("asyncio", "asyncio_ns", "#9aa5ae")]
    width = 0.27
    for i, (name, key, color) in enumerate(loops):
        xs = [j + (i - 1) * width for j in range(len(benches))]
        ax.bar(xs, [b[key] for b in benches], width, label=name, color=color)
    labels = [textwrap.fill(f"{b['bench']} ({b['metric']})", 24) for b in benches]
    ax.set_xticks(range(len(benches)), labels, fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("ns per operation (log)")
    ax.set_title("Loop micro-benchmarks (lower is better)")
    ax.legend()
    save(fig, "micro_loop.svg")


echo = json.loads((results / "echo.json").read_text())
echo_cpu(echo)
echo_memory(echo)
micro(json.loads((results / "micro.json").read_text()))
