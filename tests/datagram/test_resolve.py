#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs examples/resolve and compares it with the system's own answers (getent ahosts).

usage: test_resolve.py RESOLVE

No network: numeric hosts, /etc/hosts' localhost, and names the resolver refuses locally.
"""
import subprocess
import sys


def check(cond, what):
    if not cond:
        print("FAIL:", what, flush=True)
        sys.exit(1)


def run(cmd, rc):
    p = subprocess.run([*map(str, cmd)], capture_output=True, text=True, timeout=60)
    check(p.returncode == rc, f"{cmd}: exit {p.returncode}, expected {rc}\n{p.stdout}{p.stderr}")
    check(rc != 0 or p.stderr == "", f"{cmd}: stderr: {p.stderr}")
    return p


def main():
    exe = sys.argv[1]
    # localhost as getent ahosts sees it: the same addresses and types, in the same order.
    ours = run([exe, "localhost"], 0).stdout.split("\n")
    theirs = subprocess.run(["getent", "ahosts", "localhost"], capture_output=True, text=True).stdout.split("\n")
    strip = lambda lines: [l.split()[:2] for l in lines if l.strip()]
    check(strip(ours) == strip(theirs), f"resolve localhost:\n{ours}\ngetent ahosts localhost:\n{theirs}")
    check(ours[0].split()[-1] == "localhost", f"no canonical name on the first line: {ours[0]}")

    p = run([exe, "--family", "4", "127.0.0.1", "domain"], 0)
    lines = [l.split() for l in p.stdout.splitlines()]
    check(["127.0.0.1", "53", "STREAM"] in [l[:3] for l in lines], p.stdout)
    check(all(l[0] == "127.0.0.1" and l[1] == "53" for l in lines), p.stdout)
    p = run([exe, "--family", "6", "::1"], 0)
    check(all(l.split()[0] == "::1" for l in p.stdout.splitlines()), p.stdout)

    # A name that cannot exist (a space is not valid in a host name): the resolver's own message, exit 2.
    p = run([exe, "no such host"], 2)
    check(p.stderr.strip() == "resolve: no such host: Name or service not known", p.stderr)
    # A service that does not exist is the resolver's refusal too.
    p = subprocess.run([exe, "127.0.0.1", "no-such-service-bulb"], capture_output=True, text=True, timeout=60)
    check(p.returncode in (1, 2) and "no-such-service-bulb" not in p.stdout and "resolve: 127.0.0.1:" in p.stderr,
          p.stderr)
    # Bad options.
    for args in (["--bogus", "x"], [], ["--family", "5", "x"], ["a", "b", "c"]):
        p = run([exe, *args], 2)
        check("usage:" in p.stderr, f"{args}: {p.stderr}")
    check("'--bogus'" in run([exe, "--bogus", "x"], 2).stderr, "option not named")
    print("ok")


if __name__ == "__main__":
    main()
