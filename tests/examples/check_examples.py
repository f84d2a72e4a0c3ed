#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs an example program and checks what it prints.

usage: check_examples.py print_sum|taxi_sim|ticker EXECUTABLE
"""
import re
import subprocess
import sys
import time

EVENT = re.compile(r"^( *)taxi: (\d+)  time: +(\d+\.\d\d)  (.+)$")
END = re.compile(r"^\*\*\* end of simulation: (\d+\.\d\d) minutes \*\*\*$")


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def run(exe, *args, rc=0, timeout=60):
    cmd = [exe, *map(str, args)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    check(p.returncode == rc, f"{cmd}: exit code {p.returncode}, expected {rc}\n"
                              f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    check(rc != 0 or p.stderr == "", f"{cmd}: wrote to stderr:\n{p.stderr}")  # sanitizers, too
    return p


# --- print_sum ------------------------------------------------------------------------------

def check_print_sum(exe):
    start = time.monotonic()
    p = run(exe)
    elapsed = time.monotonic() - start
    check(p.stdout == "Compute 1 + 2 ...\n1 + 2 = 3\n", f"print_sum printed {p.stdout!r}")
    check(elapsed >= 1.0, f"print_sum took {elapsed:.3f} s, expected a 1 s sleep")


# --- taxi_sim -------------------------------------------------------------------------------

def parse_story(stdout, taxis, trips):
    """Checks the shape of one simulation; returns its events [(taxi, time, action)] and total."""
    lines = stdout.splitlines()
    check(lines and END.match(lines[-1]), f"no final total line:\n{stdout}")
    total = END.match(lines[-1]).group(1)
    events = []
    for line in lines[:-1]:
        m = EVENT.match(line)
        check(m, f"not an event line: {line!r}")
        indent, taxi, when, action = len(m.group(1)), int(m.group(2)), m.group(3), m.group(4)
        check(indent == 4 * taxi, f"taxi {taxi} indented by {indent}: {line!r}")
        events.append((taxi, when, action))
    times = [float(t) for _, t, _ in events]
    # Equal times run FIFO: the event scheduled first (at its taxi's previous event) comes first.
    scheduled_at, last = [], {}
    for taxi, when, _ in events:
        scheduled_at.append(last.get(taxi, 0.0))
        last[taxi] = float(when)
    for i in range(1, len(events)):
        if times[i] == times[i - 1]:
            check(scheduled_at[i - 1] <= scheduled_at[i], f"equal times not FIFO:\n{stdout}")
    check(times == sorted(times), f"events out of time order:\n{stdout}")
    expected = ["leave garage"] + ["pick up passenger", "drop off passenger"] * trips + ["going home"]
    for taxi in range(taxis):
        actions = [a for t, _, a in events if t == taxi]
        check(actions == expected, f"taxi {taxi} did {actions}, expected {expected}")
        check(float(next(w for t, w, _ in events if t == taxi)) == 5 * taxi,
              f"taxi {taxi} left the garage at the wrong time:\n{stdout}")
    check(len(events) == taxis * (2 * trips + 2), f"unexpected events:\n{stdout}")
    check(total == events[-1][1], f"total {total} is not the last event's time {events[-1][1]}")
    check(float(total) == max(times), f"total {total} is not the longest taxi day")
    return events, total


def has_tie(events):
    times = [w for _, w, _ in events]
    return len(set(times)) < len(times)


def check_taxi_sim(exe):
    # Virtual clock: instant (this story takes 40 s at the default --time-scale 0.05).
    start = time.monotonic()
    p = run(exe, "--virtual", "--taxis", 20, "--trips", 20, "--seed", 1)
    elapsed = time.monotonic() - start
    _, total = parse_story(p.stdout, 20, 20)
    check(elapsed < 1.0, f"a --virtual run took {elapsed:.3f} s of wall time")
    check(float(total) * 0.05 > 30, f"the story is too short ({total} minutes) to show it")
    parse_story(run(exe, "--virtual").stdout, 3, 2)
    parse_story(run(exe, "--virtual", "--trips", 0).stdout, 3, 0)

    # Same seed, same story; different seeds, different stories.
    a = run(exe, "--virtual", "--taxis", 4, "--seed", 42).stdout
    b = run(exe, "--virtual", "--taxis", 4, "--seed", 42).stdout
    c = run(exe, "--virtual", "--taxis", 4, "--seed", 43).stdout
    check(a == b, f"same seed, different stories:\n{a}\n---\n{b}")
    check(a != c, "seeds 42 and 43 told the same story")

    # Real time tells the same story as virtual time, equal-time events included (seed 22 has
    # two events at 21.00). A real loop that falls behind by more than a simulated minute (the
    # shortest leg) may legitimately swap close events, so a busy machine gets slower retries.
    # (Timers can be a clock tick late, 4 ms with HZ=250: hence 5 ms per minute at first.)
    args = ["--taxis", 4, "--trips", 2, "--seed", 22]
    virtual = run(exe, "--virtual", *args).stdout
    events, total = parse_story(virtual, 4, 2)
    check(has_tie(events), "the real/virtual comparison should include equal-time events")
    for scale in (0.005, 0.02, 0.1):
        start = time.monotonic()
        real = run(exe, "--time-scale", scale, *args).stdout
        elapsed = time.monotonic() - start
        check(elapsed >= float(total) * scale, f"a real-time run took only {elapsed:.3f} s")
        check(sorted(real.splitlines()) == sorted(virtual.splitlines()),
              f"real-time and virtual runs have different events:\n{real}\n---\n{virtual}")
        if real == virtual:
            break
        print(f"real-time run at --time-scale {scale} differs from the virtual one:\n{real}")
    check(real == virtual, f"real-time and virtual runs differ:\n{real}\n---\n{virtual}")

    # Options: --help, and wrong options exit 2 with the usage on stderr.
    p = run(exe, "--help")
    check(p.stdout.startswith("usage: taxi_sim"), f"--help printed {p.stdout!r}")
    for bad in (["--bogus"], ["--taxis"], ["--taxis", "0"], ["--taxis", "-3"], ["--taxis", "x"],
                ["--trips", "-1"], ["--trips", "2x"], ["--seed", "-1"], ["--seed", ""],
                ["--time-scale", "0"], ["--time-scale", "-1"], ["--time-scale", "nan"], ["extra"]):
        p = run(exe, *bad, rc=2)
        check("usage: taxi_sim" in p.stderr, f"{bad}: no usage on stderr: {p.stderr!r}")
        check(p.stdout == "", f"{bad}: printed to stdout: {p.stdout!r}")


# --- ticker ---------------------------------------------------------------------------------

def check_ticker(exe):
    start = time.monotonic()
    p = run(exe)
    elapsed = time.monotonic() - start
    check(p.stdout.split() == [str(i) for i in range(5)], f"ticker printed {p.stdout!r}")
    check(elapsed >= 0.5, f"ticker took {elapsed:.3f} s, expected 5 pauses of 100 ms")
    start = time.monotonic()
    p = run(exe, "--count", 12, "--delay-ms", 1)
    check(p.stdout.split() == [str(i) for i in range(12)], f"ticker printed {p.stdout!r}")
    check(time.monotonic() - start < 5, "ticker --delay-ms 1 was slow")
    p = run(exe, "--count", 0, "--delay-ms", 1)
    check(p.stdout == "", f"ticker --count 0 printed {p.stdout!r}")
    for bad in (["--count", "-1"], ["--count"], ["--delay-ms", "x"], ["--bogus"]):
        p = run(exe, *bad, rc=2)
        check("usage: ticker" in p.stderr, f"{bad}: no usage on stderr: {p.stderr!r}")


CHECKS = {"print_sum": check_print_sum, "taxi_sim": check_taxi_sim, "ticker": check_ticker}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in CHECKS:
        sys.exit(__doc__)
    try:
        CHECKS[sys.argv[1]](sys.argv[2])
    except (CheckFailed, subprocess.TimeoutExpired) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"{sys.argv[1]}: ok")
