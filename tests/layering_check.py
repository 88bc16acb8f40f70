#!/usr/bin/env python3
"""The folders' dependency rules, checked on every #include of the project's own code.

Folders are listed bottom-up: a folder may include itself and folders listed before it, never one
listed after it (a back arrow). On top of the order:
  - the model library (model/) includes no gRPC or protobuf, and nothing from server/ or client/;
  - server/ includes nothing under model/llm: the serving layer reaches the LLM, its KV cache and
    the decoding around it only through the engine (model/ipn);
  - client/ includes nothing from server/ (it speaks the public API only).

Usage: layering_check.py [SOURCE_ROOT]; prints every violation and exits 1 if there is any.
       layering_check.py --self-test: proves the checker reports each kind of violation.
"""
import os
import re
import sys
import tempfile

ORDER = [
    "model/common", "model/io", "model/tokenizer", "model/eval", "model/synth", "model/vision",
    "model/text", "model/llm", "model/generate", "model/ipn", "model/tools", "model/train",
    "model/verify",
    "server/runtime", "server/edge", "server/metrics", "server/modes",
    "client",
]
# Includes of these are never allowed from the given folders (prefix match on the folder).
FORBIDDEN = [
    ("model/", "server/", "the model library must not depend on the server"),
    ("model/", "client/", "the model library must not depend on the client"),
    ("model/", "lmeye/v1/", "the model library must build without gRPC/protobuf"),
    ("model/", "grpc", "the model library must build without gRPC/protobuf"),
    ("model/", "google/protobuf", "the model library must build without gRPC/protobuf"),
    ("server/", "model/llm/", "server/ reaches the LLM only through the engine (model/ipn)"),
    ("client/", "server/", "the client speaks the public API only"),
]
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^">]+)[">]', re.M)


def folder_of(path):
    """The ORDER entry a source path (or an include path) belongs to, or None."""
    best = None
    for f in ORDER:
        if path == f or path.startswith(f + "/"):
            if best is None or len(f) > len(best):
                best = f
    return best


def check(root):
    problems = []
    for top in ("model", "server", "client"):
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                if not name.endswith((".cc", ".h")):
                    continue
                path = os.path.relpath(os.path.join(dirpath, name), root)
                src = folder_of(path)
                if src is None:
                    problems.append(f"{path}: folder not in the layering order (add it)")
                    continue
                with open(os.path.join(root, path), encoding="utf-8") as f:
                    text = f.read()
                for inc in INCLUDE.findall(text):
                    for where, what, why in FORBIDDEN:
                        if path.startswith(where) and inc.startswith(what):
                            problems.append(f"{path}: includes {inc}: {why}")
                    dst = folder_of(inc)
                    if dst is None or dst == src:
                        continue
                    if ORDER.index(dst) > ORDER.index(src):
                        problems.append(f"{path}: includes {inc}: back arrow {src} -> {dst} "
                                        f"({dst} is above {src})")
    return problems


def self_test():
    """A tree with one violation of each rule, and one clean include of each direction."""
    files = {
        "model/common/a.h": '#include "model/llm/kv_cache.h"\n',  # back arrow
        "model/llm/kv_cache.h": '#include "model/common/b.h"\n',  # fine
        "model/common/b.h": "",
        "model/io/c.cc": '#include "lmeye/v1/lmeye.grpc.pb.h"\n',  # gRPC in the model library
        "server/runtime/d.h": '#include "model/llm/kv_cache.h"\n',  # server -> model/llm
        "server/edge/e.h": '#include "server/modes/config.h"\n',  # back arrow in server/
        "server/modes/config.h": '#include "server/edge/e.h"\n',  # fine
        "client/f.cc": '#include "server/edge/e.h"\n',  # client -> server
        "model/newfolder/g.h": "",  # not in the order
    }
    expected = ["model/common/a.h", "model/io/c.cc", "server/runtime/d.h", "server/edge/e.h",
                "client/f.cc", "model/newfolder/g.h"]
    with tempfile.TemporaryDirectory() as root:
        for path, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
            with open(os.path.join(root, path), "w", encoding="utf-8") as f:
                f.write(text)
        problems = check(root)
    reported = sorted({p.split(":")[0] for p in problems})
    if reported != sorted(expected):
        print("self-test: reported", reported, "expected", sorted(expected))
        return 1
    print(f"layering_check self-test: ok ({len(problems)} violations found as planted)")
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    problems = check(os.path.abspath(root))
    for p in problems:
        print(p)
    if problems:
        print(f"layering_check: {len(problems)} violation(s)")
        return 1
    print("layering_check: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
