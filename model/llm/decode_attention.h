// Attention of a decode step (one new token per row) computed in place on the KV cache slots.
//
// Why a kernel of our own: the generic path (llm_modules.cc Attend) reads a batch's keys and
// values as strided views of the cache and hands them to baddbmm/matmul. On CPU, libtorch's
// bf16 batched GEMM (oneDNN) only takes compact batches, and a view of positions [0, L) of slots
// with room for `capacity` positions is not compact, so every layer of every step copies (and
// for the keys, transposes) the batch's whole live cache first: measured on OPT-125m at batch 32
// under the autograd profiler (`lmeye bench`), those copies, the two small GEMMs and the softmax
// were 31% of a decode step. With one query per row the attention is two passes over each row's
// keys and values, which this kernel reads where they lie: the memory traffic is the cache itself,
// once, and no slot layout (runs, holes, any order) costs a gather.
//
// Numerics follow the generic path: scores = alpha q.k + bias rounded to the compute dtype (the
// GEMM's output dtype), softmax in float32, probabilities rounded to the compute dtype, the
// weighted sum of values accumulated in float32 and rounded once. Each row and head is computed
// alone, so a row's result does not depend on the batch it is in.
//
// Threading: reads the cache, writes only its output; rows are split across libtorch's intra-op
// threads (at::parallel_for). No autograd: callers hold a NoGradGuard (LlmModel::Step does).
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

namespace lmeye {

// True when DecodeAttention can take these tensors: CPU, float32 or bfloat16, grad mode off,
// caches contiguous. Other cases (CUDA, fp16, training) use the generic path.
bool DecodeAttentionSupported(const at::Tensor& q, const at::Tensor& k_cache,
                              const at::Tensor& v_cache);

// q [B, 1, H, D] (any strides with a contiguous last dim); k_cache, v_cache [n_slots, Hkv,
// capacity, D] contiguous; slots[b] = the cache slot of row b; score_bias [B * Hkv, G, >= n_keys]
// (G = H / Hkv; the mask and ALiBi, in the compute dtype) added to the scaled scores of keys
// [0, n_keys). Returns [B, 1, H * D] in q's dtype, the input of o_proj.
at::Tensor DecodeAttention(const at::Tensor& q, const at::Tensor& k_cache,
                           const at::Tensor& v_cache, const std::vector<int64_t>& slots,
                           const at::Tensor& score_bias, int64_t n_keys, double alpha);

// Stores one new key and value per row, as index_put_ would for a decode step: k_new[b] and
// v_new[b] ([B, Hkv, D] in the caches' dtype, any strides with a contiguous last dim) go to
// position positions[b] of slot slots[b] of k_cache / v_cache (as in DecodeAttention). The
// index_put_ it replaces cost 1.4 ms of a 50 ms OPT-125m batch-32 step (24 calls, autograd
// profiler), almost all of it per-call setup: the copies are 48 KiB each.
// Slots and positions out of the cache are refused (c10::Error).
void WriteDecodeKv(const at::Tensor& k_cache, const at::Tensor& v_cache,
                   const std::vector<int64_t>& slots, const std::vector<int64_t>& positions,
                   const at::Tensor& k_new, const at::Tensor& v_new);

}  // namespace lmeye
