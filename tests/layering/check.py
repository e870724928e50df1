#!/usr/bin/env python3
"""The layer graph, checked against the build as it is.

Each layer's library may see only the include roots of the layers it may use.
This reads compile_commands.json (what ninja really runs) and every #include
in src/ and include/, and fails on any path from a layer to a root or header
of a layer it may not use. The compiler already refuses such an include (the
root is not on its path); this test also catches a meson.build that quietly
adds a dependency the graph does not allow.

    check.py SOURCE_ROOT BUILD_ROOT
"""
import json
import os
import re
import sys

# layer -> the include roots (include/<root>/) its code may use.
ALLOWED = {
    "core": {"core"},
    "crypto": {"core", "crypto"},
    "protocol": {"core", "crypto", "protocol"},
    "event": {"core", "event"},
    "sqlite": {"core", "sqlite"},
    "store": {"core", "event", "sqlite", "store"},
    "transport": {"core", "crypto", "protocol", "event", "transport"},
    "service": {"core", "crypto", "protocol", "event", "sqlite", "service"},
    "sinks": {"core", "event", "sinks"},
    "daemon": {"core", "crypto", "protocol", "event", "sqlite", "store", "transport", "sinks", "daemon"},
    "load": {"core", "crypto", "protocol", "event", "transport", "load"},
    "conformance": {"core", "crypto", "load", "conformance"},
    "cli": {"core", "crypto", "protocol", "event", "sqlite", "store", "transport", "service", "sinks", "daemon", "load",
            "conformance"},
}
SQLITE_HEADERS = {"webpush/store/sqlite.h", "webpush/store/errc.h"}


def root_of_header(header):
    """include/<root>/ that holds a "webpush/<dir>/x.h" include."""
    if header in SQLITE_HEADERS:
        return "sqlite"
    parts = header.split("/")
    return parts[1] if len(parts) > 2 else None


def layer_of_source(rel):
    parts = rel.split(os.sep)
    if parts[0] == "src" and len(parts) > 1:
        if parts[1] == "store" and os.path.basename(rel) in ("sqlite.cpp", "errc.cpp"):
            return "sqlite"
        return parts[1] if parts[1] in ALLOWED else None
    if parts[0] == "include" and len(parts) > 1:
        return parts[1] if parts[1] in ALLOWED else None
    return None


def main():
    src_root, build_root = map(os.path.abspath, sys.argv[1:3])
    problems = []
    checked = 0
    with open(os.path.join(build_root, "compile_commands.json")) as f:
        commands = json.load(f)
    for c in commands:
        path = os.path.normpath(os.path.join(c["directory"], c["file"]))
        rel = os.path.relpath(path, src_root)
        layer = layer_of_source(rel)
        if layer is None:
            continue
        checked += 1
        for inc in re.findall(r"-I(\S+)", c["command"]):
            full = os.path.normpath(os.path.join(c["directory"], inc))
            r = os.path.relpath(full, os.path.join(src_root, "include"))
            if r.startswith("..") or os.sep in r:
                continue
            if r not in ALLOWED[layer]:
                problems.append(f"{rel}: compiled with include/{r}/ on its path, which layer {layer} may not use")
    include_re = re.compile(r'^\s*#\s*include\s+"(webpush/[^"]+)"', re.M)
    for top in ("src", "include"):
        for dirpath, _, files in os.walk(os.path.join(src_root, top)):
            for name in files:
                if not name.endswith((".h", ".cpp")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, src_root)
                layer = layer_of_source(rel)
                if layer is None:
                    continue
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                for header in include_re.findall(text):
                    root = root_of_header(header)
                    if root is not None and root not in ALLOWED[layer]:
                        problems.append(f"{rel}: includes {header}, from layer {root}, which {layer} may not use")
    for p in problems:
        print("layering:", p)
    print(f"layering: {checked} compile commands and every #include in src/ and include/ checked, "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
