#!/usr/bin/env python3
"""Writes the hand-made tokenizer.json files the HF-json tests use (run in this folder).

Both have the 256 byte-level symbols and a few merges. gpt2_style/: ByteLevel pre-tokenizer
with the GPT-2 regex, merges as "a b" strings, <|endoftext|> added. bloom_style/: BLOOM's
Sequence[Split(regex, Isolated), ByteLevel(use_regex=false)], merges as ["a", "b"] pairs,
<unk> <s> </s> <pad> at 0..3 as BLOOM has them.
"""
import json
import os


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


MERGES = [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"), ("Ġ", "w"), ("o", "r"),
          ("Ġw", "or"), ("Ġwor", "l"), ("Ġworl", "d"), ("a", "-"), ("a-", "b"),
          ("'", "t"), ("n", "'t"), ("1", "2"), ("Ġ", "Ġ")]
BLOOM_REGEX = " ?[^(\\s|[.,!?…。，、।۔،])]+"
GPT2_REGEX = ("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|"
              "\\s+(?!\\S)|\\s+")


def vocab(first_ids):
    v = {}
    for tok in first_ids:
        v[tok] = len(v)
    b2u = bytes_to_unicode()
    for b in range(256):
        v[b2u[b]] = len(v)
    for a, b in MERGES:
        v[a + b] = len(v)
    return v


def added(tokens):
    return [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True} for t, i in tokens]


def main():
    os.makedirs("gpt2_style", exist_ok=True)
    os.makedirs("bloom_style", exist_ok=True)
    v = vocab([])
    v["<|endoftext|>"] = len(v)
    gpt2 = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": added([("<|endoftext|>", v["<|endoftext|>"])]),
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "",
                  "fuse_unk": False, "vocab": v, "merges": [f"{a} {b}" for a, b in MERGES]},
    }
    with open("gpt2_style/tokenizer.json", "w", encoding="utf-8") as f:
        json.dump(gpt2, f, ensure_ascii=False, indent=1)

    v = vocab(["<unk>", "<s>", "</s>", "<pad>"])
    bloom = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": added([("<unk>", 0), ("<s>", 1), ("</s>", 2), ("<pad>", 3)]),
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": BLOOM_REGEX}, "behavior": "Isolated",
             "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
             "use_regex": False}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "vocab": v, "merges": [[a, b] for a, b in MERGES]},
    }
    with open("bloom_style/tokenizer.json", "w", encoding="utf-8") as f:
        json.dump(bloom, f, ensure_ascii=False, indent=1)
    with open("bloom_style/config.json", "w") as f:
        json.dump({"model_type": "bloom"}, f)


if __name__ == "__main__":
    main()
