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
    "fcm": {"core", "crypto", "protocol", "fcm"},
    "event": {"core", "event"},
    "sqlite": {"core", "sqlite"},
    "store": {"core", "event", "sqlite", "store"},
    "transport": {"core", "crypto", "protocol", "event", "transport"},
    "service": {"core", "crypto", "protocol", "event", "sqlite", "service"},
    "sinks": {"core", "event", "sinks"},
    "unifiedpush": {"core", "event", "sqlite", "store", "unifiedpush"},
    "glib": {"core", "event"},
    "daemon": {"core", "crypto", "protocol", "fcm", "event", "sqlite", "store", "transport", "sinks", "unifiedpush",
               "daemon"},
    "load": {"core", "crypto", "protocol", "event", "transport", "load"},
    "conformance": {"core", "crypto", "load", "conformance"},
    "cli": {"core", "crypto", "protocol", "fcm", "event", "sqlite", "store", "transport", "service", "sinks",
            "unifiedpush", "daemon", "load", "conformance"},
}
SQLITE_HEADERS = {"webpush/store/sqlite.h", "webpush/store/errc.h"}
# The GLib pump (src/glib, an internal include root, layer "glib"): only the
# two modules that speak GLib may use it, each linking its own copy.
GLIB_PUMP_USERS = {"src/sinks/notify.cpp", "src/unifiedpush/gdbus_bus.cpp"}
GLIB_PUMP_TARGETS = ("webpushd-notify.so.p", "webpushd-unifiedpush.so.p", "libwebpush-glib-pump.a.p")


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


def command_source(c, src_root, build_root):
    """The compiled file relative to the source root; a unity file of the build
    (build/src/<layer>/<target>.p/...) as if it were in src/<layer>/."""
    path = os.path.normpath(os.path.join(c["directory"], c["file"]))
    if path.startswith(build_root + os.sep):
        return os.path.relpath(path, build_root)
    return os.path.relpath(path, src_root)


def uses_glib_pump_root(rel):
    if rel.startswith("src/glib/") or rel in GLIB_PUMP_USERS:
        return True
    return any(os.sep + t + os.sep in os.sep + rel for t in GLIB_PUMP_TARGETS)


def check_commands(commands, src_root, build_root, problems):
    """Each layer's compile commands see only the include roots it may use."""
    checked = 0
    pump_root = os.path.join(src_root, "src", "glib")
    for c in commands:
        rel = command_source(c, src_root, build_root)
        layer = layer_of_source(rel)
        if layer is None:
            continue
        checked += 1
        for inc in re.findall(r"-I(\S+)", c["command"]):
            full = os.path.normpath(os.path.join(c["directory"], inc))
            if full == pump_root and not uses_glib_pump_root(rel):
                problems.append(f"{rel}: compiled with src/glib/ on its path; only the GLib modules may use the pump")
            r = os.path.relpath(full, os.path.join(src_root, "include"))
            if r.startswith("..") or os.sep in r:
                continue
            if r not in ALLOWED[layer]:
                problems.append(f"{rel}: compiled with include/{r}/ on its path, which layer {layer} may not use")
    return checked


def check_includes(src_root, problems):
    """Every #include in src/ and include/ stays within what its layer may use."""
    include_re = re.compile(r'^\s*#\s*include\s+"(webpush/[^"]+)"', re.M)
    pump_re = re.compile(r'^\s*#\s*include\s+"glib_pump\.h"', re.M)
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
                if pump_re.search(text) and layer != "glib" and rel not in GLIB_PUMP_USERS:
                    problems.append(f"{rel}: includes glib_pump.h; only the GLib modules may use the pump")


def main():
    src_root, build_root = map(os.path.abspath, sys.argv[1:3])
    problems = []
    with open(os.path.join(build_root, "compile_commands.json")) as f:
        commands = json.load(f)
    checked = check_commands(commands, src_root, build_root, problems)
    check_includes(src_root, problems)
    for p in problems:
        print("layering:", p)
    print(f"layering: {checked} compile commands and every #include in src/ and include/ checked, "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
