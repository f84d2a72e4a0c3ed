#!/usr/bin/env python3
"""Every example behaves like a tool: an unknown option is named, with the usage, exit status 2.

usage: check_example_options.py PROGRAM...
"""
import os
import subprocess
import sys

failures = []
for program in sys.argv[1:]:
    name = os.path.basename(program)
    for args in (["--bogus-option"], ["--bogus-option", "1"]):
        try:
            p = subprocess.run([program, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
        except subprocess.TimeoutExpired:
            failures.append(f"{name} {' '.join(args)}: still running after 20 s (the option was not rejected)")
            continue
        err = p.stderr
        if p.returncode != 2 or "--bogus-option" not in err or "usage" not in err:
            failures.append(f"{name} {' '.join(args)}: exit {p.returncode}, stderr {err!r} "
                            "(want exit 2, the option named, and the usage)")
        else:
            print(f"{name} {' '.join(args)}: rejected ({err.splitlines()[0]!r})")
for f in failures:
    print("FAILED:", f, file=sys.stderr)
sys.exit(1 if failures else 0)
