#!/usr/bin/env python3
"""A real Prometheus (Debian's `prometheus`) scrapes a live `lmeye serve` on loopback.

The server runs as in the image: the Kubernetes base ConfigMap's config
(deploy/kubernetes/base/lmeye.yaml, addresses and threads overridden), no --model, and the
default model from LMEYE_DEFAULT_MODEL_DIR (a tiny random one, read-only). Prometheus runs with
the job name and metrics path of deploy/prometheus/prometheus.yml, a 1 s scrape interval and
the shipped rule file. After a few requests of every kind the test asks Prometheus' HTTP API for:
  - the lmeye_ series, and the target being up;
  - a TTFT quantile, histogram_quantile over rate() of the buckets, as the dashboard computes it;
  - every query of the Grafana dashboard (and its variables): none may come back empty;
  - the alert rules: loaded, evaluated without error, none firing on a healthy server.
It also probes the server with the image's HEALTHCHECK (docker/grpc_health_check.py).
"""
import json
import math
import os
import re
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_test_util as util  # noqa: E402

PROMETHEUS = os.environ.get("PROMETHEUS_BIN", "prometheus")


def committed_job():
    """job_name and metrics_path of the shipped scrape config (the test scrapes the same way)."""
    text = open(util.SCRAPE_CONFIG).read()
    job = re.search(r"^\s*- job_name:\s*(\S+)", text, re.M)
    path = re.search(r"^\s*metrics_path:\s*(\S+)", text, re.M)
    if not job or not path:
        util.fail(f"{util.SCRAPE_CONFIG}: no job_name / metrics_path")
    return job.group(1), path.group(1)


class Prometheus:
    def __init__(self, work_dir, target, job, metrics_path):
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "rule_files": [util.RULES],
            "scrape_configs": [{"job_name": job, "metrics_path": metrics_path,
                                "static_configs": [{"targets": [target]}]}],
        }
        config_path = os.path.join(work_dir, "prometheus.json.yml")
        with open(config_path, "w") as f:
            json.dump(config, f)  # JSON is YAML
        for attempt in range(3):
            self.port = util.free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            self.log_path = os.path.join(work_dir, f"prometheus-{attempt}.log")
            self.log_file = open(self.log_path, "w")
            self.process = subprocess.Popen(
                [PROMETHEUS, f"--config.file={config_path}",
                 f"--storage.tsdb.path={os.path.join(work_dir, f'tsdb-{attempt}')}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                stdout=self.log_file, stderr=subprocess.STDOUT, cwd=work_dir,
                preexec_fn=util.die_with_parent)
            if self._wait_ready():
                util.log(f"prometheus: {self.url}")
                return
            self.close()
        util.fail("prometheus did not start:\n" + open(self.log_path).read())

    def _wait_ready(self):
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                return False  # e.g. the port was taken meanwhile
            try:
                util.http_get(self.url + "/-/ready", timeout=2)
                return True
            except Exception:
                time.sleep(0.2)
        return False

    def api(self, path, **params):
        query = urllib.parse.urlencode(params, doseq=True)
        body = json.loads(util.http_get(f"{self.url}/api/v1/{path}?{query}", timeout=10))
        if body.get("status") != "success":
            util.fail(f"prometheus {path} {params}: {body}")
        return body["data"]

    def query(self, expr):
        return self.api("query", query=expr)["result"]

    def wait_for(self, description, predicate, timeout=45.0):
        deadline = time.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.time() > deadline:
                util.fail(f"timed out waiting for {description}")
            time.sleep(0.5)

    def close(self):
        util.stop(self.process)
        self.log_file.close()


def scalar(result):
    if len(result) != 1:
        return None
    return float(result[0]["value"][1])


def main():
    for tool in (PROMETHEUS,):
        if subprocess.run(["sh", "-c", f"command -v {tool}"], stdout=subprocess.DEVNULL).returncode:
            util.fail(f"{tool} not found: install Debian's `prometheus` (deploy/setup.sh does)")
    job, metrics_path = committed_job()
    with util.temp_dir("lmeye-prom-it-") as work:
        # As in the image: no --model, the config's model_dir "" selects the embedded default
        # model, written at build time into a directory the server may not write to.
        model = util.make_tiny_model(os.path.join(work, "default-model"))
        for root, dirs, files in os.walk(model):
            for name in dirs + files:
                os.chmod(os.path.join(root, name), 0o555 if name in dirs else 0o444)
        os.chmod(model, 0o555)
        config = os.path.join(util.K8S_DIR, "base", "lmeye.yaml")
        env = {"LMEYE_DEFAULT_MODEL_DIR": model, "LMEYE_CACHE_DIR": os.path.join(work, "cache")}
        with util.LmeyeServer(work, None, config=config, env=env) as server:
            health = subprocess.run(
                [util.python_with_grpc(), os.path.join(util.SOURCE_DIR, "docker", "grpc_health_check.py"),
                 "--addr", server.grpc_address], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True)
            if health.returncode != 0 or "SERVING" not in health.stdout:
                util.fail(f"grpc_health_check.py: exit {health.returncode}: {health.stdout}")
            util.log("ok   HEALTHCHECK probe: " + health.stdout.strip())

            prom = Prometheus(work, f"127.0.0.1:{server.metrics_port}", job, metrics_path)
            try:
                run_checks(prom, server, work, job)
            except SystemExit:
                util.log("--- prometheus log ---\n" + open(prom.log_path).read())
                raise
            finally:
                prom.close()
            code = server.close()
            if code != 0:
                util.fail(f"lmeye serve exited {code} after SIGTERM, want 0")
            gone = subprocess.run(
                [util.python_with_grpc(), os.path.join(util.SOURCE_DIR, "docker",
                                                       "grpc_health_check.py"),
                 "--addr", server.grpc_address, "--timeout", "2"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if gone.returncode != 1:
                util.fail(f"grpc_health_check.py on a stopped server: exit {gone.returncode}, "
                          f"want 1: {gone.stdout}")
            util.log("ok   HEALTHCHECK probe fails once the server is gone (exit 1)")
    util.log("PASS")


def run_checks(prom, server, work, job):
    # The series of a labelled histogram appear with its first request, and rate() needs two
    # samples that differ: a round of requests, a scrape, a second round, a scrape.
    prom.wait_for("the first scrape", lambda: scalar(prom.query(f'up{{job="{job}"}}')) == 1)
    n_requests = 0
    for _ in range(2):
        n_requests += util.send_requests(server, work)
        prom.wait_for(f"{n_requests} requests in lmeye_requests_total", lambda: (
            scalar(prom.query(f'sum(lmeye_requests_total{{job="{job}"}})')) or 0) >= n_requests)
    time.sleep(1.5)  # one more scrape, so every rate() window holds the final counts
    util.log(f"ok   prometheus scraped {n_requests} requests")

    targets = prom.api("targets")["activeTargets"]
    if len(targets) != 1 or targets[0]["health"] != "up":
        util.fail(f"targets: {targets}")
    names = prom.api("label/__name__/values")
    lmeye_names = sorted(n for n in names if n.startswith("lmeye_"))
    for want in ("lmeye_requests_total", "lmeye_time_to_first_token_seconds_bucket",
                 "lmeye_kv_cache_capacity_tokens", "lmeye_batch_size_bucket"):
        if want not in lmeye_names:
            util.fail(f"{want} not among the scraped series: {lmeye_names}")
    series = prom.api("series", **{"match[]": '{__name__=~"lmeye_.+"}'})
    util.log(f"ok   {len(lmeye_names)} lmeye_ metric names, {len(series)} series")

    ttft = scalar(prom.query(
        f'histogram_quantile(0.9, sum by (le) (rate(lmeye_time_to_first_token_seconds_bucket'
        f'{{job="{job}"}}[1m])))'))
    if ttft is None or math.isnan(ttft) or not 0 < ttft < 120:
        util.fail(f"TTFT p90 is {ttft}, want a finite number of seconds")
    util.log(f"ok   TTFT p90 = {ttft:.4f} s (histogram_quantile over rate of the buckets)")

    queries, variables = util.dashboard_queries(job=job, rate_interval="1m")
    for title, expr in queries:
        result = prom.query(expr)
        if not result:
            util.fail(f"dashboard panel '{title}': no data for {expr}")
    for name, selector, label in variables:
        values = prom.api(f"label/{label}/values", **{"match[]": selector})
        if not values:
            util.fail(f"dashboard variable ${name}: no values of {label} in {selector}")
    util.log(f"ok   all {len(queries)} dashboard queries and {len(variables)} variables have data")

    def evaluated():
        groups = prom.api("rules", type="alert")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        if not rules or any(r.get("lastEvaluation", "").startswith("0001") for r in rules):
            return None
        return rules
    rules = prom.wait_for("the alert rules' first evaluation", evaluated)
    bad = [f"{r['name']}: {r.get('lastError')}" for r in rules if r["health"] != "ok"]
    if bad:
        util.fail("alert rules failing to evaluate: " + "; ".join(bad))
    firing = [a for a in prom.api("alerts")["alerts"] if a["state"] == "firing"]
    if firing:
        util.fail(f"alerts firing on a healthy server: {firing}")
    util.log(f"ok   {len(rules)} alert rules loaded and evaluated, none firing")


if __name__ == "__main__":
    main()
