#!/usr/bin/env python3
"""Compile-time checks of the public headers (meson suite 'misuse').

usage: check_compile.py CHECK INCLUDE_DIR CXX...

  gcc-warning   <bulb/coro/...> warns under GCC < 13 naming the patterns, the remedy and the
                macro that silences it; the macro silences it; clang and newer GCC stay quiet.
  compile-ok    each snippet in compile_ok/*.cpp compiles without a warning (-Wall -Wextra -Werror).
  compile-fail  each snippet in compile_fail/*.cpp fails to compile, and the compiler output
                contains the text after its first line's `// expect: `.
"""
import os
import re
import subprocess
import sys
import tempfile

check, include_dirs, cxx = sys.argv[1], sys.argv[2].split(os.pathsep), sys.argv[3:]
includes = [f"-I{d}" for d in include_dirs]  # the headers, and the build's generated <bulb/config.hpp>
here = os.path.dirname(os.path.abspath(__file__))
failures = []


def compile_source(source, *extra):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.cpp")
        with open(path, "w") as f:
            f.write(source)
        cmd = cxx + ["-std=c++20", "-fsyntax-only", "-Wall", "-Wextra", "-Werror=unused-result", *includes, *extra, path]
        p = subprocess.run(cmd, capture_output=True, text=True)
        return p.returncode, p.stdout + p.stderr


def gcc_major():
    out = subprocess.run(cxx + ["-dM", "-E", "-x", "c++", "/dev/null"], capture_output=True, text=True).stdout
    if "__clang__" in out:
        return None
    m = re.search(r"#define __GNUC__ (\d+)", out)
    return int(m.group(1)) if m else None


if check == "gcc-warning":
    source = "#include <bulb/coro/sleep.hpp>\nint main() {}\n"
    major = gcc_major()
    rc, out = compile_source(source)
    if rc != 0:
        failures.append(f"the header does not compile:\n{out}")
    elif major is not None and major < 13:
        for needed in ("GCC < 13", "co_await", "lambda", "?:", "clang++", "BULB_NO_GCC_COROUTINE_WARNING"):
            if needed not in out:
                failures.append(f"GCC {major}: the warning does not mention {needed!r}:\n{out or '(no output)'}")
        if out.count("warning: #warning") > 1:
            failures.append(f"GCC {major}: warned more than once:\n{out}")
        rc, out = compile_source(source, "-DBULB_NO_GCC_COROUTINE_WARNING")
        if rc != 0 or out.strip():
            failures.append(f"GCC {major}: BULB_NO_GCC_COROUTINE_WARNING does not silence it:\n{out}")
    elif out.strip():
        failures.append(f"a compiler without the bug warns:\n{out}")
    print(f"compiler: {' '.join(cxx)} (GCC major {major})")
elif check == "compile-fail":
    folder = os.path.join(here, "compile_fail")
    for name in sorted(os.listdir(folder)):
        source = open(os.path.join(folder, name)).read()
        expect = source.splitlines()[0].split("// expect: ", 1)[1].strip()
        rc, out = compile_source(source, "-DBULB_NO_GCC_COROUTINE_WARNING")
        if rc == 0:
            failures.append(f"{name}: compiled, but must not")
        elif expect not in out:
            failures.append(f"{name}: the error does not say {expect!r}:\n{out[-3000:]}")
        else:
            print(f"{name}: fails to compile as it should ({expect!r})")
elif check == "compile-ok":
    folder = os.path.join(here, "compile_ok")
    for name in sorted(os.listdir(folder)):
        source = open(os.path.join(folder, name)).read()
        rc, out = compile_source(source, "-DBULB_NO_GCC_COROUTINE_WARNING", "-Werror")
        if rc != 0 or out.strip():
            failures.append(f"{name}: does not compile warning-free under -Wall -Wextra -Werror:\n{out[-3000:]}")
        else:
            print(f"{name}: compiles warning-free")
else:
    sys.exit(f"unknown check {check}")

for f in failures:
    print("FAILED:", f, file=sys.stderr)
sys.exit(1 if failures else 0)
