#!/usr/bin/env python3
"""PyTorch eager speed of an LMEye model's LLaMA: the same safetensors, a plain LLaMA forward
(Hugging Face's layout: RMSNorm, rotate-half RoPE, grouped-query attention, SwiGLU) with a
preallocated KV cache, greedy decode. Needs Debian's python3-torch only (the safetensors
format is read directly: 8-byte header length, JSON header, data). Prints one JSON object with
the same fields as llama_cpp_bench.mjs; the prompts are the same ids.

usage: torch_eager_bench.py --model DIR [--dtype bf16|fp32] [--threads 2] [--prefill-tokens 512]
         [--prompt-tokens 64] [--decode-steps 32] [--batch-sizes 1,8,32] [--repeats 1]
         [--reference FILE.json]
"""
import argparse
import json
import math
import mmap
import os
import struct
import time

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path, dtype):
    out = {}
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    (n,) = struct.unpack("<Q", mm[:8])
    header = json.loads(mm[8:8 + n])
    raw = torch.frombuffer(mm, dtype=torch.uint8)
    for name, e in header.items():
        if name == "__metadata__":
            continue
        begin, end = e["data_offsets"]
        t = raw[8 + n + begin:8 + n + end].view(DTYPES[e["dtype"]]).reshape(e["shape"])
        out[name] = t.to(dtype).clone()
    return out


def load_llm(model_dir, dtype):
    llm = model_dir
    if os.path.exists(os.path.join(model_dir, "adapter.json")):
        with open(os.path.join(model_dir, "adapter.json")) as f:
            llm = os.path.join(model_dir, json.load(f).get("llm", "llm"))
    with open(os.path.join(llm, "config.json")) as f:
        config = json.load(f)
    weights = {}
    index = os.path.join(llm, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    for name in files:
        weights.update(read_safetensors(os.path.join(llm, name), dtype))
    return config, weights


class Llama:
    def __init__(self, config, w, dtype):
        self.c, self.w, self.dtype = config, w, dtype
        self.n_layers = config["num_hidden_layers"]
        self.n_heads = config["num_attention_heads"]
        self.n_kv = config.get("num_key_value_heads", self.n_heads)
        self.d = config["hidden_size"] // self.n_heads
        self.eps = config.get("rms_norm_eps", 1e-6)
        theta = config.get("rope_theta", 10000.0)
        self.inv_freq = 1.0 / theta ** (torch.arange(0, self.d, 2, dtype=torch.float32) / self.d)
        self.lm_head = w.get("lm_head.weight", w["model.embed_tokens.weight"])

    def new_cache(self, batch, capacity):
        shape = (self.n_layers, batch, self.n_kv, capacity, self.d)
        return {"k": torch.empty(shape, dtype=self.dtype), "v": torch.empty(shape, dtype=self.dtype),
                "len": 0}

    def rms(self, x, weight):
        v = x.float().pow(2).mean(-1, keepdim=True)
        return (x.float() * torch.rsqrt(v + self.eps)).to(self.dtype) * weight

    def rope(self, x, pos):  # x [B, H, T, d]
        angle = pos.float()[:, None] * self.inv_freq[None, :]  # [T, d/2]
        emb = torch.cat([angle, angle], -1)
        cos, sin = emb.cos().to(self.dtype), emb.sin().to(self.dtype)
        half = self.d // 2
        rot = torch.cat([-x[..., half:], x[..., :half]], -1)
        return x * cos + rot * sin

    def forward(self, ids, cache):  # ids [B, T] -> last logits [B, V]
        w, B, T = self.w, ids.shape[0], ids.shape[1]
        start = cache["len"]
        pos = torch.arange(start, start + T)
        x = w["model.embed_tokens.weight"][ids]
        mask = None
        if T > 1:
            mask = torch.full((T, start + T), float("-inf")).triu(start + 1).to(self.dtype)
        group = self.n_heads // self.n_kv
        for i in range(self.n_layers):
            p = f"model.layers.{i}."
            h = self.rms(x, w[p + "input_layernorm.weight"])
            q = (h @ w[p + "self_attn.q_proj.weight"].t()).view(B, T, self.n_heads, self.d).transpose(1, 2)
            k = (h @ w[p + "self_attn.k_proj.weight"].t()).view(B, T, self.n_kv, self.d).transpose(1, 2)
            v = (h @ w[p + "self_attn.v_proj.weight"].t()).view(B, T, self.n_kv, self.d).transpose(1, 2)
            q, k = self.rope(q, pos), self.rope(k, pos)
            cache["k"][i, :, :, start:start + T] = k
            cache["v"][i, :, :, start:start + T] = v
            keys = cache["k"][i, :, :, :start + T].repeat_interleave(group, 1)
            values = cache["v"][i, :, :, :start + T].repeat_interleave(group, 1)
            scores = (q @ keys.transpose(-1, -2)) / math.sqrt(self.d)
            if mask is not None:
                scores = scores + mask
            attn = torch.softmax(scores.float(), -1).to(self.dtype) @ values
            attn = attn.transpose(1, 2).reshape(B, T, -1)
            x = x + attn @ w[p + "self_attn.o_proj.weight"].t()
            h = self.rms(x, w[p + "post_attention_layernorm.weight"])
            gate = torch.nn.functional.silu(h @ w[p + "mlp.gate_proj.weight"].t())
            x = x + (gate * (h @ w[p + "mlp.up_proj.weight"].t())) @ w[p + "mlp.down_proj.weight"].t()
        cache["len"] = start + T
        x = self.rms(x[:, -1], w["model.norm.weight"])
        return (x @ self.lm_head.t()).float()


def prompt_ids(n, seed, n_vocab):
    """The prompt ids llama_cpp_bench.mjs uses (the same 64-bit LCG)."""
    mask = (1 << 64) - 1
    x = (seed * 6364136223846793005 + 1442695040888963407) & mask
    ids = [1]
    while len(ids) < n:
        x = (x * 6364136223846793005 + 1442695040888963407) & mask
        ids.append(259 + (x >> 33) % (n_vocab - 259))
    return ids


def median_time(repeats, setup, fn):
    times = []
    for r in range(repeats + 1):  # run 0 warms up
        state = setup()
        start = time.perf_counter()
        fn(state)
        if r > 0:
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "fp32"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prefill-tokens", type=int, default=512)
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--decode-steps", type=int, default=32)
    ap.add_argument("--batch-sizes", default="1,8,32")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--reference", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    config, weights = load_llm(a.model, dtype)
    model = Llama(config, weights, dtype)
    n_vocab = min(32000, config["vocab_size"])
    out = {"stack": "pytorch-eager", "torch": torch.__version__, "dtype": a.dtype,
           "threads": torch.get_num_threads(), "decode_tokens_per_s": {}}
    with torch.inference_mode():
        ids = torch.tensor([prompt_ids(a.prefill_tokens, 1, n_vocab)])
        s = median_time(a.repeats, lambda: model.new_cache(1, a.prefill_tokens),
                        lambda cache: model.forward(ids, cache))
        out["prefill_tokens"] = a.prefill_tokens
        out["prefill_tokens_per_s"] = a.prefill_tokens / s
        capacity = a.prompt_tokens + a.decode_steps
        for n in [int(b) for b in a.batch_sizes.split(",")]:
            prompts = torch.tensor([prompt_ids(a.prompt_tokens, 100 + i, n_vocab) for i in range(n)])

            def setup():
                cache = model.new_cache(n, capacity)
                model.forward(prompts[:, :-1], cache)
                return cache

            def decode(cache):
                token = prompts[:, -1:]
                for _ in range(a.decode_steps):
                    token = model.forward(token, cache).argmax(-1, keepdim=True)

            s = median_time(a.repeats, setup, decode)
            out["decode_tokens_per_s"][str(n)] = n * a.decode_steps / s
        if a.reference:
            with open(a.reference) as f:
                ref = json.load(f)
            cache = model.new_cache(1, len(ref["prompt"]) + len(ref["tokens"]))
            token = model.forward(torch.tensor([ref["prompt"]]), cache).argmax(-1, keepdim=True)
            tokens = [int(token)]
            while len(tokens) < len(ref["tokens"]):
                token = model.forward(token, cache).argmax(-1, keepdim=True)
                tokens.append(int(token))
            prefix = 0
            while prefix < len(tokens) and tokens[prefix] == ref["tokens"][prefix]:
                prefix += 1
            out["agreement"] = {"steps": len(tokens), "matching_prefix": prefix,
                                "matching": sum(t == r for t, r in zip(tokens, ref["tokens"]))}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
