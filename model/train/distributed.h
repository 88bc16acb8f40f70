// Data parallelism across processes (docs/DESIGN.md section 2, "Training"): PyTorch's c10d from
// libtorch, configured by torchrun's variables. Every process holds a full model replica and
// trains on its share of each global batch; the adapter gradients are summed with one
// all-reduce per optimizer step, so every replica applies the same update.
//
// Backends: Gloo (CPU; it also all-reduces CUDA tensors, through host memory) and NCCL (CUDA
// tensors, GPU to GPU). Each is built only where its pieces exist:
//   Gloo  libtorch's c10d Gloo and the Gloo headers (Debian: libgloo-dev);
//   NCCL  a CUDA libtorch with c10d NCCL (PyTorch's own), probed at configure time by compiling
//         and linking a use of it, because its header ships with CPU builds too.
// Connect() with a backend this build lacks fails with UNIMPLEMENTED naming what is missing.
//
// Rendezvous: rank 0 serves a c10d TCPStore on MASTER_ADDR:MASTER_PORT; the others connect to
// it (waiting up to the timeout). Gloo's own connections then go to each rank's address: the
// loopback device when MASTER_ADDR is a loopback address (one machine), else the interface
// named by GLOO_SOCKET_IFNAME, else the address of this machine's hostname. NCCL exchanges its
// unique id through the store and picks its own transport.
//
// Threads: one thread (the trainer's) uses a group; collectives block until every rank joins.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace lmeye {

struct DistributedEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;  // the rank among this machine's processes (torchrun's LOCAL_RANK)
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
};

// RANK, WORLD_SIZE, LOCAL_RANK (default: RANK), MASTER_ADDR, MASTER_PORT. WORLD_SIZE unset:
// one process (rank 0). InvalidArgument naming the variable when one is malformed or out of
// range.
absl::StatusOr<DistributedEnv> DistributedEnvFromEnviron();

enum class DistributedBackend { kGloo, kNccl };
const char* DistributedBackendName(DistributedBackend backend);  // "gloo", "nccl"
// Whether this build has `backend` (see the top of this file).
bool DistributedBackendBuilt(DistributedBackend backend);

// The backend for `requested` ("auto", "gloo" or "nccl") and the training device. auto: NCCL
// for a CUDA device when this build has it, else Gloo. InvalidArgument for another name, or
// NCCL with a CPU device (NCCL all-reduces CUDA tensors only).
absl::StatusOr<DistributedBackend> ChooseDistributedBackend(const std::string& requested,
                                                            const at::Device& device);

// The device this process trains on. torchrun starts one process per GPU of a machine, so with
// WORLD_SIZE > 1 a bare "cuda" means this process's own GPU, cuda:LOCAL_RANK (what PyTorch's
// DDP examples do by hand). Anything else is returned as given.
std::string RankDevice(const std::string& device, const DistributedEnv& env);

class DataParallelGroup {
 public:
  // Joins the group (blocks until every rank has). `device`: this rank's training device, where
  // NCCL all-reduces (a CUDA device; Gloo ignores it). UNIMPLEMENTED when this build lacks the
  // backend; INVALID_ARGUMENT for NCCL on a CPU device; UNAVAILABLE when the rendezvous fails or
  // times out.
  static absl::StatusOr<std::unique_ptr<DataParallelGroup>> Connect(
      const DistributedEnv& env, DistributedBackend backend = DistributedBackend::kGloo,
      const at::Device& device = at::Device(at::kCPU));
  ~DataParallelGroup();

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  DistributedBackend backend() const { return backend_; }

  // Sums float32 `tensors` (on any device) over all ranks, in place: one flat all-reduce, on the
  // group's device for NCCL.
  absl::Status AllReduceSum(const std::vector<at::Tensor>& tensors);
  absl::Status Barrier();

 private:
  struct Impl;
  DataParallelGroup(const DistributedEnv& env, DistributedBackend backend,
                    std::unique_ptr<Impl> impl);
  DistributedEnv env_;
  DistributedBackend backend_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lmeye
