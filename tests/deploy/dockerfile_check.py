#!/usr/bin/env python3
"""What a linter cannot know about docker/Dockerfile and docker/Dockerfile.cuda (no Docker
engine runs here, so the images are not built in the tests):

  - the build stage runs the scripts CI runs: `bash deploy/setup.sh` then `bash deploy/build.sh`,
    and CI's entry point still reaches them (.ci/run -> deploy/test.sh -> deploy/build.sh ->
    deploy/setup.sh), so CI exercises the image's build steps;
  - multi-stage, Debian bookworm, a slim runtime stage that copies from the build stage, a
    non-root USER, `lmeye serve` as ENTRYPOINT, the gRPC and metrics ports exposed, a
    HEALTHCHECK through the gRPC health protocol (docker/grpc_health_check.py);
  - the files the build copies exist and .dockerignore does not drop them;
  - the runtime stage installs the Debian package of every shared library the built binaries
    link directly (readelf -d NEEDED -> dpkg -S), so the slim image can start them;
  - every Debian package the runtime stage installs exists (dpkg or apt knows it);
  - every ARG of a Dockerfile is documented in its header comment.

    dockerfile_check.py LMEYE_BIN LMEYE_CLIENT_BIN
"""
import fnmatch
import functools
import os
import re
import shlex
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_test_util as util  # noqa: E402

SRC = util.SOURCE_DIR
# In debian:bookworm-slim already (essential packages and apt's own dependencies).
BASE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g", "libzstd1", "libsystemd0"}
# Provided by the libtorch zip in the CUDA image.
CUDA_IMAGE_FROM_ZIP = {"libtorch1.13"}


def parse(path):
    """[(instruction, args, line)] with continuations joined and comments dropped; the header
    comment (the lines before the first instruction)."""
    instructions, header, current, start = [], [], "", 0
    with open(path) as f:
        lines = f.read().splitlines()
    seen_instruction = False
    for n, line in enumerate(lines, 1):
        stripped = line.strip()
        if not current and stripped.startswith("#"):
            if not seen_instruction:
                header.append(stripped)
            continue
        if not current and not stripped:
            continue
        if not current:
            start = n
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        word, _, rest = current.partition(" ")
        instructions.append((word.upper(), rest.strip(), start))
        seen_instruction = True
        current = ""
    return instructions, "\n".join(header)


def stages(instructions):
    result = []
    for ins in instructions:
        if ins[0] == "FROM":
            result.append({"from": ins[1], "ins": []})
        elif result:
            result[-1]["ins"].append(ins)
    return result


def dockerignore_patterns():
    path = os.path.join(SRC, ".dockerignore")
    if not os.path.exists(path):
        return None
    patterns = []
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#"):
            patterns.append(line.lstrip("/"))
    return patterns


def ignored(rel, patterns):
    """The pattern that excludes `rel` from the build context, or None. Docker's rules: each
    pattern matches a path or one of its parent directories; the last matching pattern wins,
    and a `!` pattern takes the path back in."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    verdict = None
    for pattern in patterns:
        negate = pattern.startswith("!")
        p = pattern[1:] if negate else pattern
        alternatives = {p, p[3:]} if p.startswith("**/") else {p}
        if any(fnmatch.fnmatch(prefix, alt) and (alt.count("/") == prefix.count("/") or "**" in p)
               for prefix in prefixes for alt in alternatives) or \
                (p.startswith("**/") and any(fnmatch.fnmatch(x, p[3:]) for x in parts)):
            verdict = None if negate else pattern
    return verdict


@functools.lru_cache(maxsize=None)
def needed_packages(binary):
    """{soname: Debian package or None} of the libraries `binary` links directly."""
    out = subprocess.run(["readelf", "-d", binary], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    ldconfig_bin = shutil.which("ldconfig") or "/sbin/ldconfig"
    ldconfig = subprocess.run([ldconfig_bin, "-p"], stdout=subprocess.PIPE, text=True).stdout
    candidates = {}
    for soname in re.findall(r"\(NEEDED\).*\[(.+)\]", out):
        m = re.search(rf"^\s*{re.escape(soname)} \(.*\) => (\S+)$", ldconfig, re.M)
        if not m:
            candidates[soname] = []
            continue
        real = os.path.realpath(m.group(1))
        # dpkg knows a file by the path its package ships (/lib or /usr/lib on a merged /usr).
        candidates[soname] = [m.group(1), real, re.sub(r"^/usr/lib/", "/lib/", real)]
    paths = sorted({p for c in candidates.values() for p in c})
    owners = {}
    if paths:  # one dpkg call; it exits 1 when some path is unknown, and still prints the rest
        listing = subprocess.run(["dpkg", "-S"] + paths, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True).stdout
        for line in listing.splitlines():
            pkg, _, path = line.partition(": ")
            owners[path.strip()] = pkg.split(":")[0].split(",")[0].strip()
    return {soname: next((owners[p] for p in c if p in owners), None)
            for soname, c in candidates.items()}


def debian_package_known(pkg):
    installed = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    if installed.returncode == 0 and "installed" in installed.stdout:
        return True
    policy = subprocess.run(["apt-cache", "policy", pkg], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True).stdout
    m = re.search(r"Candidate:\s*(\S+)", policy)
    return bool(m and m.group(1) != "(none)")


def apt_installed(stage):
    pkgs = set()
    for word, args, _ in stage["ins"]:
        if word != "RUN":
            continue
        for cmd in re.split(r"&&|;", args):
            tokens = shlex.split(cmd.replace("\\", " "), posix=True) if "apt-get" in cmd else []
            if "install" in tokens and any(t.endswith("apt-get") for t in tokens):
                after = tokens[tokens.index("install") + 1:]
                pkgs.update(t for t in after if not t.startswith("-"))
    return pkgs


def check_ci_chain(errors):
    def calls(path, script):
        text = open(os.path.join(SRC, path)).read()
        return re.search(rf"^[^#\n]*\b(bash|exec|\.)\s+\"?(\$\S+/)?{re.escape(script)}", text, re.M)
    chain = [(".ci/run", "deploy/test.sh"), ("deploy/test.sh", "deploy/build.sh"),
             ("deploy/build.sh", "deploy/setup.sh")]
    for path, script in chain:
        if not os.path.exists(os.path.join(SRC, path)):
            errors.append(f"{path} is missing")
        elif not calls(path, script):
            errors.append(f"{path} no longer calls {script}: CI would not exercise the image's "
                          "build steps")


def check_dockerfile(name, binaries, all_errors):
    errors = []
    _check_dockerfile(name, binaries, errors)
    all_errors.extend(errors)
    print(f"{'ok  ' if not errors else 'FAIL'} docker/{name}")


def _check_dockerfile(name, binaries, errors):
    path = os.path.join(SRC, "docker", name)
    instructions, header = parse(path)
    st = stages(instructions)
    where = f"docker/{name}"
    if len(st) < 2:
        errors.append(f"{where}: not multi-stage ({len(st)} stage)")
        return
    build, runtime = st[0], st[-1]
    if not build["from"].startswith("debian:bookworm"):
        errors.append(f"{where}: build stage FROM {build['from']}, want debian:bookworm")
    if not runtime["from"].startswith("debian:bookworm-slim"):
        errors.append(f"{where}: runtime stage FROM {runtime['from']}, want debian:bookworm-slim")
    stage_name = build["from"].split()[-1] if " AS " in build["from"].upper() else None

    # The build runs CI's scripts, setup before build, and both from the copied source tree.
    runs = [(args, line) for word, args, line in build["ins"] if word == "RUN"]
    setup = [line for args, line in runs if re.search(r"\bbash deploy/setup\.sh\b", args)]
    build_sh = [line for args, line in runs if re.search(r"\bbash deploy/build\.sh\b", args)]
    if not setup:
        errors.append(f"{where}: the build stage does not run `bash deploy/setup.sh`")
    if not build_sh:
        errors.append(f"{where}: the build stage does not run `bash deploy/build.sh`")
    if setup and build_sh:
        joined = " ".join(args for args, _ in runs)
        if joined.index("deploy/setup.sh") > joined.index("deploy/build.sh"):
            errors.append(f"{where}: deploy/build.sh runs before deploy/setup.sh")
    copies_src = any(w == "COPY" and re.match(r"^\.\s", a) for w, a, _ in build["ins"])
    if not copies_src:
        errors.append(f"{where}: the build stage does not COPY the source tree (COPY . ...)")

    # Files the build stage uses from the source tree are in the build context.
    patterns = dockerignore_patterns()
    if patterns is None:
        errors.append(".dockerignore is missing")
        patterns = []
    for script in ("deploy/setup.sh", "deploy/build.sh", "docker/grpc_health_check.py",
                   "tests/data/tokenizers/gpt2", "deploy/lmeye.example.yaml", "CMakeLists.txt"):
        if script.split("/")[-1] not in " ".join(a for _, a, _ in build["ins"]) and \
                script not in ("deploy/setup.sh", "deploy/build.sh", "CMakeLists.txt"):
            continue
        if not os.path.exists(os.path.join(SRC, script)):
            errors.append(f"{where}: uses {script}, which does not exist")
        pattern = ignored(script, patterns)
        if pattern:
            errors.append(f"{where}: uses {script}, but .dockerignore drops it ({pattern})")
    for needed in ("proto", "server", "model", "client", "deploy"):
        pattern = ignored(needed, patterns)
        if pattern:
            errors.append(f".dockerignore drops {needed}/ ({pattern}), which the build needs")
    for wanted in (".git", "build"):
        if not ignored(wanted, patterns):
            errors.append(f".dockerignore does not drop {wanted}")

    # Runtime stage.
    rt = runtime["ins"]
    users = [a for w, a, _ in rt if w == "USER"]
    if not users or users[-1].split(":")[0] in ("0", "root"):
        errors.append(f"{where}: the runtime stage does not switch to a non-root USER")
    entry = [a for w, a, _ in rt if w == "ENTRYPOINT"]
    if not entry or "lmeye" not in entry[-1] or "serve" not in entry[-1]:
        errors.append(f"{where}: ENTRYPOINT is not `lmeye serve`: {entry}")
    exposed = " ".join(a for w, a, _ in rt if w == "EXPOSE").split()
    for port in ("50051", "9090"):
        if port not in exposed and f"{port}/tcp" not in exposed:
            errors.append(f"{where}: does not EXPOSE {port}")
    hc = [a for w, a, _ in rt if w == "HEALTHCHECK"]
    if not hc or "grpc_health_check.py" not in hc[-1]:
        errors.append(f"{where}: no HEALTHCHECK through docker/grpc_health_check.py")
    if stage_name and not any(w == "COPY" and f"--from={stage_name}" in a for w, a, _ in rt):
        errors.append(f"{where}: the runtime stage copies nothing from the build stage")
    env = " ".join(a for w, a, _ in rt if w == "ENV")
    if "LMEYE_DEFAULT_TOKENIZER_DIR" not in env:
        errors.append(f"{where}: the runtime stage does not set LMEYE_DEFAULT_TOKENIZER_DIR")
    # Setting LMEYE_DEFAULT_MODEL_DIR would serve the random fallback instead of the demo model.
    if "LMEYE_DEFAULT_MODEL_DIR" in env:
        errors.append(f"{where}: LMEYE_DEFAULT_MODEL_DIR hides the shipped demo model")
    if "model/demo /opt/lmeye/share/lmeye/demo" not in " ".join(
            a for w, a, _ in build["ins"] if w == "RUN"):
        errors.append(f"{where}: the build stage does not install model/demo at "
                      "/opt/lmeye/share/lmeye/demo, where `lmeye serve` looks for it")

    # Every directly linked library's package is installed in the runtime stage.
    installed = apt_installed(runtime) | BASE_PACKAGES
    if name.endswith(".cuda"):
        installed |= CUDA_IMAGE_FROM_ZIP
    for binary in binaries:
        for soname, pkg in needed_packages(binary).items():
            if pkg is None:
                errors.append(f"{where}: cannot tell the Debian package of {soname} "
                              f"({os.path.basename(binary)})")
            elif pkg.split(":")[0] not in installed:
                errors.append(f"{where}: {os.path.basename(binary)} links {soname} from "
                              f"{pkg}, which the runtime stage does not install")

    # Every Debian package the runtime stage installs exists in bookworm (apt's lists, or
    # installed here: the runtime libraries are the -dev packages' dependencies).
    for pkg in sorted(apt_installed(runtime)):
        if not debian_package_known(pkg):
            errors.append(f"{where}: the runtime stage installs {pkg}, which apt does not know")

    # Documented build args.
    for word, args, line in instructions:
        if word == "ARG":
            arg = args.split("=")[0].strip()
            if arg not in header:
                errors.append(f"{where}:{line}: ARG {arg} is not documented in the header")


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    binaries = [b for b in argv[1:] if os.path.exists(b)]
    if len(binaries) != len(argv) - 1:
        util.fail(f"binaries missing: {[b for b in argv[1:] if not os.path.exists(b)]}")
    errors = []
    check_ci_chain(errors)
    print(f"{'ok  ' if not errors else 'FAIL'} .ci/run -> deploy/test.sh -> deploy/build.sh -> "
          "deploy/setup.sh")
    for name in ("Dockerfile", "Dockerfile.cuda"):
        check_dockerfile(name, binaries, errors)
    for e in errors:
        print("FAIL " + e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
