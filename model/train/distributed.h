// Data parallelism across processes (DESIGN.md section 2, "Training"): PyTorch's c10d from
// libtorch, Gloo on CPU, configured by torchrun's variables. Every process holds a full model
// replica and trains on its share of each global batch; the adapter gradients are summed with
// one all-reduce per optimizer step, so every replica applies the same update.
//
// Rendezvous: rank 0 serves a c10d TCPStore on MASTER_ADDR:MASTER_PORT; the others connect to
// it (waiting up to the timeout). Gloo's own connections then go to each rank's address: the
// loopback device when MASTER_ADDR is a loopback address (one machine), else the interface
// named by GLOO_SOCKET_IFNAME, else the address of this machine's hostname.
//
// Built only where libtorch ships c10d with Gloo and the Gloo headers are installed (Debian:
// libgloo-dev); elsewhere Connect() fails with UNIMPLEMENTED and WORLD_SIZE must be 1.
// NCCL (CUDA builds) is a later increment.
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
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
};

// RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT. WORLD_SIZE unset: one process (rank 0).
// InvalidArgument naming the variable when one is malformed or out of range.
absl::StatusOr<DistributedEnv> DistributedEnvFromEnviron();

class DataParallelGroup {
 public:
  // Joins the group (blocks until every rank has). UNIMPLEMENTED without Gloo; UNAVAILABLE when
  // the rendezvous fails or times out.
  static absl::StatusOr<std::unique_ptr<DataParallelGroup>> Connect(const DistributedEnv& env);
  ~DataParallelGroup();

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }

  // Sums float32 CPU `tensors` over all ranks, in place (one flat all-reduce).
  absl::Status AllReduceSum(const std::vector<at::Tensor>& tensors);
  absl::Status Barrier();

 private:
  struct Impl;
  DataParallelGroup(const DistributedEnv& env, std::unique_ptr<Impl> impl);
  DistributedEnv env_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lmeye
