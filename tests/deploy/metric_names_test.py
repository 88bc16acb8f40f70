#!/usr/bin/env python3
"""Every metric and label that the deployment files use exists in the real server's /metrics.

Reads the names from the Grafana dashboard (targets and variables), the alert rules, the rules'
unit tests (their input series must be real series) and the Kubernetes manifests (the HPA's
pods metric); starts `lmeye serve` on loopback with the gpu overlay's ConfigMap (device and dtype
overridden to CPU: the config itself is checked by the real parser), sends one request of each
kind, and checks each name against the /metrics text. So no panel is empty because of a typo
or a renamed metric, and no alert watches a series that never exists.
"""
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_test_util as util  # noqa: E402

# Series that Prometheus itself makes, not the server.
PROMETHEUS_SERIES = {"up"}
# Labels that Prometheus or the Operator attach at scrape time.
TARGET_LABELS = {"job", "instance", "namespace", "pod", "node", "le", "__name__"}
PROMQL_WORDS = {
    "sum", "avg", "min", "max", "count", "rate", "irate", "increase", "by", "without", "on",
    "ignoring", "group_left", "group_right", "histogram_quantile", "absent", "and", "or",
    "unless", "bool", "offset", "label_values", "humanizePercentage", "humanizeDuration",
}


def used_names():
    """{file: (set of lmeye_ metric names, set of label names)} of the deployment files."""
    files = [util.DASHBOARD, util.RULES, util.RULES_TEST]
    files += sorted(glob.glob(os.path.join(util.K8S_DIR, "**", "*.yaml"), recursive=True))
    used = {}
    for path in files:
        text = open(path).read()
        if path.endswith(".yaml"):
            # Manifests: the HPA's metric names (and PromQL in comments), not binaries' names.
            metrics = set(re.findall(r"\bname:\s*[\"']?(lmeye_[a-z0-9_]+)", text))
            metrics |= set(re.findall(r"\b(lmeye_[a-z0-9_]+)\{", text))
        else:
            metrics = set(re.findall(r"\blmeye_[a-z0-9_]+\b", text))
        labels = set()
        if path in (util.DASHBOARD, util.RULES, util.RULES_TEST):
            # Labels in grouping clauses and selectors: by (a, b), on (a), {a="x", b=~"y"}.
            for group in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", text):
                labels.update(x.strip() for x in group.split(",") if x.strip())
            for selector in re.findall(r"\{([^{}]*)\}", text):
                labels.update(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*\\?\"",
                                         selector))
            # Labels read in templates: {{ $labels.worker }} and legends {{worker}}.
            labels.update(re.findall(r"\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)", text))
            if path == util.DASHBOARD:
                labels.update(re.findall(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}", text))
        used[path] = (metrics, labels - PROMQL_WORDS)
    return used


def main():
    used = used_names()
    all_metrics = set().union(*(m for m, _ in used.values()))
    if len(all_metrics) < 10:
        util.fail(f"found only {sorted(all_metrics)} in the deployment files: the scan is broken")
    with util.temp_dir("lmeye-metric-names-") as work:
        model = util.make_tiny_model(os.path.join(work, "model"))
        gpu_config = os.path.join(util.K8S_DIR, "overlays", "gpu", "lmeye.yaml")
        with util.LmeyeServer(work, model, config=gpu_config,
                              extra_flags=["--device", "cpu", "--dtype", "fp32"]) as server:
            util.send_requests(server, work)
            text = util.http_get(server.metrics_url)
    samples, types = util.parse_metrics(text)
    exposed = set(samples) | set(types)
    exposed_labels = set(TARGET_LABELS)
    for label_sets in samples.values():
        for labels in label_sets:
            exposed_labels.update(labels)
    util.log(f"/metrics: {len(types)} families, {len(samples)} sample names, labels "
             f"{sorted(exposed_labels - TARGET_LABELS)}")

    errors = []
    for path, (metrics, labels) in used.items():
        rel = os.path.relpath(path, util.SOURCE_DIR)
        for name in sorted(metrics - exposed - PROMETHEUS_SERIES):
            errors.append(f"{rel}: metric {name} is not in the server's /metrics")
        for label in sorted(labels - exposed_labels):
            errors.append(f"{rel}: label {label} is on no series of the server's /metrics")
        if metrics:
            util.log(f"ok   {rel}: {len(metrics)} metric names"
                     + (f", {len(labels)} labels" if labels else ""))
    # Histograms must be used through their series, and only as histograms.
    for name in sorted(all_metrics):
        for suffix in ("_bucket", "_sum", "_count"):
            family = name[:-len(suffix)] if name.endswith(suffix) else None
            if family and types.get(family) not in (None, "histogram"):
                errors.append(f"{name}: {family} is a {types[family]}, not a histogram")
    for e in errors:
        util.log("FAIL " + e)
    if errors:
        sys.exit(1)
    util.log(f"PASS: all {len(all_metrics)} metric names used exist in /metrics")


if __name__ == "__main__":
    main()
