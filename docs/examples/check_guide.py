#!/usr/bin/env python3
"""Checks that every code block in the user guide is the text of a file in docs/examples/.

A block is introduced by a marker line `<!-- example: NAME -->` right before its ``` fence; the
block's text must equal docs/examples/NAME exactly. A fenced C++ block without a marker fails
(no untested snippet), and every example file must appear in the guide at least once.
usage: check_guide.py GUIDE_DIR EXAMPLES_DIR [--update]
(--update rewrites each marked block from its file: for the person editing an example.)
"""
import pathlib
import re
import sys

guide_dir, examples_dir = map(pathlib.Path, sys.argv[1:3])
update = "--update" in sys.argv[3:]
marker = re.compile(r"<!-- example: ([\w.-]+) -->")
errors, used = [], set()
for page in sorted(guide_dir.glob("*.md")):
    lines = page.read_text().splitlines()
    if update:
        out, i = [], 0
        while i < len(lines):
            out.append(lines[i])
            m = marker.fullmatch(lines[i].strip())
            if m and i + 1 < len(lines) and lines[i + 1].startswith("```"):
                out.append(lines[i + 1])
                end = i + 2
                while end < len(lines) and not lines[end].startswith("```"):
                    end += 1
                out.extend((examples_dir / m.group(1)).read_text().splitlines())
                out.append(lines[end] if end < len(lines) else "```")
                i = end + 1
                continue
            i += 1
        page.write_text("\n".join(out) + "\n")
        lines = out
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```cpp") or line.startswith("```c++"):
            m = marker.fullmatch(lines[i - 1].strip()) if i > 0 else None
            end = i + 1
            while end < len(lines) and not lines[end].startswith("```"):
                end += 1
            block = "\n".join(lines[i + 1:end]) + "\n"
            if not m:
                errors.append(f"{page.name}:{i + 1}: a C++ block without an '<!-- example: FILE -->' marker")
            else:
                name = m.group(1)
                used.add(name)
                path = examples_dir / name
                if not path.exists():
                    errors.append(f"{page.name}:{i + 1}: {name} is not in {examples_dir}")
                elif path.read_text() != block:
                    errors.append(f"{page.name}:{i + 1}: the block differs from {path}")
            i = end + 1
            continue
        i += 1
for path in sorted(examples_dir.glob("*.cpp")):
    if path.name not in used:
        errors.append(f"{path.name} is not shown in the guide")
for e in errors:
    print(e, file=sys.stderr)
print(f"{len(used)} example blocks checked, {len(errors)} problems")
sys.exit(1 if errors else 0)
