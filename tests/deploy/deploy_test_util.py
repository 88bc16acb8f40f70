"""Shared helpers of the tests in tests/deploy: a live `lmeye serve` on loopback with a tiny
random model, requests through `lmeye_client`, free ports, and clean-up of every process started.

Paths come from the environment that tests/deploy/CMakeLists.txt sets: LMEYE_BIN,
LMEYE_CLIENT_BIN, LMEYE_SOURCE_DIR.
"""
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SOURCE_DIR = os.environ.get(
    "LMEYE_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
LMEYE = os.environ.get("LMEYE_BIN", os.path.join(SOURCE_DIR, "build", "server", "lmeye"))
CLIENT = os.environ.get("LMEYE_CLIENT_BIN",
                        os.path.join(SOURCE_DIR, "build", "client", "lmeye_client"))
IMAGE = os.path.join(SOURCE_DIR, "tests", "data", "images", "chelsea.png")
DASHBOARD = os.path.join(SOURCE_DIR, "deploy", "grafana", "lmeye-serve.json")
RULES = os.path.join(SOURCE_DIR, "deploy", "prometheus", "lmeye.rules.yml")
RULES_TEST = os.path.join(SOURCE_DIR, "deploy", "prometheus", "lmeye.rules.test.yml")
SCRAPE_CONFIG = os.path.join(SOURCE_DIR, "deploy", "prometheus", "prometheus.yml")
K8S_DIR = os.path.join(SOURCE_DIR, "deploy", "kubernetes")


def log(*args):
    print(*args, flush=True)


def fail(message):
    log("FAIL: " + message)
    sys.exit(1)


def free_port():
    """A TCP port free on 127.0.0.1 now (the caller retries if another process takes it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode("utf-8")


def die_with_parent():
    """preexec_fn: the child gets SIGTERM when the test dies (a ctest timeout kills the test with
    SIGKILL, which leaves no chance to clean up), so no server outlives its test."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def python_with_grpc():
    """An interpreter that can run docker/grpc_health_check.py (python3-grpcio)."""
    for candidate in (sys.executable, "/usr/bin/python3"):
        if candidate and subprocess.run([candidate, "-c", "import grpc"],
                                        stderr=subprocess.DEVNULL).returncode == 0:
            return candidate
    fail("no python3 with grpc (Debian's python3-grpcio, deploy/setup.sh installs it)")


def stop(process, timeout=15.0):
    """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@contextlib.contextmanager
def temp_dir(prefix):
    path = tempfile.mkdtemp(prefix=prefix)
    try:
        yield path
    finally:
        # Tests make some files read-only (the image's model); a non-root user cannot delete
        # what a read-only directory holds, so give the write bits back first.
        for root, dirs, _ in os.walk(path):
            for name in dirs:
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(root, name), 0o755)
        with contextlib.suppress(OSError):
            os.chmod(path, 0o755)
        shutil.rmtree(path, ignore_errors=True)


def make_tiny_model(out_dir):
    subprocess.run([LMEYE, "init-model", "--family", "opt", "--preset", "tiny", "--clip-preset",
                    "tiny", "--tokenizer", os.path.join(SOURCE_DIR, "tests", "data", "tokenizers",
                                                        "gpt2"), "--out", out_dir],
                   check=True, stdout=subprocess.DEVNULL)
    return out_dir


class LmeyeServer:
    """`lmeye serve` on 127.0.0.1 with free ports (learnt from --ports-file)."""

    def __init__(self, work_dir, model_dir, config=None, extra_flags=(), env=None):
        """model_dir None: no --model, the embedded default model (LMEYE_DEFAULT_MODEL_DIR in
        `env`, as in the image)."""
        self.work_dir = work_dir
        self.log_path = os.path.join(work_dir, "lmeye-serve.log")
        ports_file = os.path.join(work_dir, "ports")
        cmd = [LMEYE, "serve"]
        if config:
            cmd += ["--config", config]
        if model_dir:
            cmd += ["--model", model_dir]
        cmd += ["--listen", "127.0.0.1:0", "--metrics-listen",
                "127.0.0.1:0", "--ports-file", ports_file, "--threads", "1",
                "--set", "drain_timeout_seconds=5"] + list(extra_flags)
        self.log_file = open(self.log_path, "w")
        self.process = subprocess.Popen(cmd, stdout=self.log_file, stderr=subprocess.STDOUT,
                                        cwd=work_dir, preexec_fn=die_with_parent,
                                        env=dict(os.environ, **(env or {})))
        deadline = time.time() + 60
        while True:
            if self.process.poll() is not None:
                self.log_file.close()
                fail(f"lmeye serve exited {self.process.returncode} while starting:\n"
                     + open(self.log_path).read())
            try:
                with open(ports_file) as f:
                    fields = f.read().split()
                if len(fields) == 2:
                    self.grpc_port, self.metrics_port = int(fields[0]), int(fields[1])
                    break
            except FileNotFoundError:
                pass
            if time.time() > deadline:
                self.close()
                fail("lmeye serve did not write its ports within 60 s:\n"
                     + open(self.log_path).read())
            time.sleep(0.1)
        self.grpc_address = f"127.0.0.1:{self.grpc_port}"
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        log(f"lmeye serve: gRPC {self.grpc_address}, metrics {self.metrics_url}")

    def close(self):
        code = stop(self.process)
        self.log_file.close()
        return code

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def client(server, args, expect_code=0):
    cmd = [CLIENT] + args + ["--server", server.grpc_address, "--timeout", "60"]
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            timeout=120)
    if result.returncode != expect_code:
        fail(f"{' '.join(cmd)} exited {result.returncode}, want {expect_code}:\n"
             f"{result.stdout}{result.stderr}")
    return result


def send_requests(server, work_dir):
    """One of each kind, so that every series of the server's metrics exists: AnswerVQA twice
    (the second an image-cache hit), a streamed Chat (inter-token times), Describe (beam
    search), AnswerVQA with choices (the score_choices phase), and a bad image
    (INVALID_ARGUMENT, a non-OK code). Returns the number of RPCs sent."""
    gen = ["--max-new-tokens", "6"]
    client(server, ["vqa", "--image", IMAGE, "--question", "What is it?"] + gen)
    client(server, ["vqa", "--image", IMAGE, "--question", "What is it?"] + gen)
    client(server, ["chat", "--image", IMAGE, "--message", "What is the cat doing?", "--ignore-eos"]
           + gen)
    client(server, ["describe", "--image", IMAGE, "--num-beams", "2"] + gen)
    client(server, ["vqa", "--image", IMAGE, "--question", "What is it?", "--choices",
                    "a cat,a dog"])
    bad = os.path.join(work_dir, "not-an-image.png")
    with open(bad, "w") as f:
        f.write("this is not an image\n")
    client(server, ["vqa", "--image", bad, "--question", "What is it?"], expect_code=4)
    return 6


def parse_metrics(text):
    """Prometheus text format -> ({sample name: [label dicts]}, {family name: type})."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(None, 3)
            types[name] = kind.strip()
            continue
        if not line or line.startswith("#"):
            continue
        brace = line.find("{")
        space = line.find(" ")
        if brace != -1 and (space == -1 or brace < space):
            name = line[:brace]
            body = line[brace + 1:line.rindex("}")]
            labels = {}
            for part in _split_labels(body):
                key, _, value = part.partition("=")
                labels[key.strip()] = value.strip().strip('"')
        else:
            name, labels = line[:space], {}
        samples.setdefault(name, []).append(labels)
    return samples, types


def _split_labels(body):
    parts, current, quoted, escaped = [], "", False, False
    for ch in body:
        if escaped:
            current += ch
            escaped = False
        elif ch == "\\":
            current += ch
            escaped = True
        elif ch == '"':
            current += ch
            quoted = not quoted
        elif ch == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    return parts


def dashboard_queries(dashboard_path=DASHBOARD, rate_interval="1m", job=".*", instance=".*"):
    """The PromQL of every dashboard target as Prometheus would get it, Grafana's variables
    substituted: [(panel title, expr)]; and the template variables' label_values() queries:
    [(variable, metric selector, label)]."""
    import json
    import re
    with open(dashboard_path) as f:
        dashboard = json.load(f)
    subs = {"$__rate_interval": rate_interval, "$job": job, "$instance": instance}

    def substitute(expr):
        for key in sorted(subs, key=len, reverse=True):
            expr = expr.replace(key, subs[key])
        return expr

    queries = []
    for panel in _all_panels(dashboard):
        for target in panel.get("targets", []):
            queries.append((panel.get("title", "?"), substitute(target["expr"])))
    variables = []
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\)\s*", query)
        if not m:
            fail(f"dashboard variable {var['name']}: not a label_values() query: {query}")
        variables.append((var["name"], substitute(m.group(1)), m.group(2)))
    return queries, variables


def _all_panels(dashboard):
    for panel in dashboard.get("panels", []):
        yield panel
        for inner in panel.get("panels", []):
            yield inner
