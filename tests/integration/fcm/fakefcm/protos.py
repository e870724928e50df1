"""Generates Python modules from Chromium's .proto files with protoc and imports them."""

import importlib
import pathlib
import subprocess
import sys

PROTO_FILES = ("android_checkin.proto", "checkin.proto", "mcs.proto")


def default_proto_dir() -> pathlib.Path:
    """src/fcm/proto of the tree this file lives in."""
    return pathlib.Path(__file__).resolve().parents[4] / "src" / "fcm" / "proto"


class Protos:
    """The generated modules: checkin (checkin_pb2) and mcs (mcs_pb2)."""

    def __init__(self, checkin, mcs):
        self.checkin = checkin
        self.mcs = mcs


def generate(proto_dir: pathlib.Path, out_dir: pathlib.Path) -> Protos:
    """Runs protoc into out_dir and imports the result; raises RuntimeError with protoc's message on failure."""
    for name in PROTO_FILES:
        if not (proto_dir / name).is_file():
            raise RuntimeError(f"{proto_dir / name} does not exist (use --proto-dir)")
    cmd = ["protoc", f"--python_out={out_dir}", f"--proto_path={proto_dir}", *PROTO_FILES]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"protoc failed: {done.stderr.strip()}")
    # checkin_pb2 imports android_checkin_pb2 as a top-level module.
    sys.path.insert(0, str(out_dir))
    return Protos(importlib.import_module("checkin_pb2"), importlib.import_module("mcs_pb2"))
