#!/usr/bin/env python3
"""The markdown table of deploy/bench_peers.sh: one row per stack and dtype, each cell
median (min-max) over the repeats, the roofline from the read bandwidth `lmeye bench` measured
in the same run, then the greedy agreement with lmeye's own tokens. Standard library only."""
import argparse
import glob
import json
import os
import statistics


def load(pattern):
    out = []
    for path in sorted(glob.glob(pattern)):
        with open(path) as f:
            text = f.read().strip()
        if text:  # a stack that failed leaves an empty file (its error went to stderr)
            out.append(json.loads(text))
    return out


def cell(values, digits=1):
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--results", required=True)
    a = ap.parse_args()
    lmeye = {d: load(os.path.join(a.results, f"lmeye-{d}.*.json")) for d in ("bf16", "int8", "fp32")}
    bandwidths = [r["bandwidth_bytes_per_s"] for runs in lmeye.values() for r in runs]
    bandwidth = statistics.median(bandwidths)
    rows = []  # (stack, dtype, runs, weight bytes per token)
    for d, runs in lmeye.items():
        if runs:
            rows.append(("lmeye bench", d, runs, runs[0]["weight_bytes_per_token"]))
    torch_runs = load(os.path.join(a.results, "torch-bf16.*.json"))
    if torch_runs and lmeye["bf16"]:
        rows.append(("PyTorch eager", "bf16", torch_runs, lmeye["bf16"][0]["weight_bytes_per_token"]))
    for path in sorted(glob.glob(a.model + ".*.json")):
        t = path[len(a.model) + 1:-len(".json")]
        runs = load(os.path.join(a.results, f"llama.cpp-{t}.*.json"))
        if runs:
            with open(path) as f:
                rows.append(("llama.cpp", t, runs, json.load(f)["weight_bytes_per_token"]))
    threads = lmeye["bf16"][0]["threads"] if lmeye["bf16"] else "?"
    n = max(len(r[2]) for r in rows)
    print(f"\n### LLaMA {a.shape}: {threads} threads, {n} repeat(s), median (min-max)\n")
    print(f"read bandwidth (lmeye bench, same run): {cell([b / 1e9 for b in bandwidths], 2)} GB/s\n")
    print("| stack | dtype | weights/token MB | prefill 512 tok/s | decode bs1 tok/s | bs8 tok/s "
          "| bs32 tok/s | bs1 % of read roofline |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for stack, dtype, runs, wbytes in rows:
        bs = lambda b: [r["decode_tokens_per_s"][str(b)] for r in runs]
        roof = bandwidth / wbytes
        print(f"| {stack} | {dtype} | {wbytes / 1e6:.0f} | "
              f"{cell([r['prefill_tokens_per_s'] for r in runs])} | {cell(bs(1))} | {cell(bs(8))} | "
              f"{cell(bs(32))} | {100 * statistics.median(bs(1)) / roof:.0f}% |")
    print("\nGreedy agreement with lmeye's own tokens (f32 weights, same prompt):\n")
    agreements = [("llama.cpp", os.path.basename(p)[len("llama.cpp-"):].split(".")[0], p)
                  for p in sorted(glob.glob(os.path.join(a.results, "llama.cpp-*.1.json")))]
    agreements += [("llama.cpp", "f32", p) for p in glob.glob(os.path.join(a.results, "agree-f32.json"))]
    agreements += [("PyTorch eager", "bf16", p)
                   for p in glob.glob(os.path.join(a.results, "torch-bf16.1.json"))]
    for stack, dtype, path in agreements:
        with open(path) as f:
            ag = json.load(f).get("agreement")
        if ag is None:
            continue
        note = ""
        if ag["matching_prefix"] < ag["steps"] and ag.get("first_difference_margin") is not None:
            note = f"; our top-2 logit margin at the first difference: {ag['first_difference_margin']:.4f}"
        print(f"- {stack} {dtype}: {ag['matching']}/{ag['steps']} tokens equal, "
              f"first {ag['matching_prefix']} identical{note}")


if __name__ == "__main__":
    main()
