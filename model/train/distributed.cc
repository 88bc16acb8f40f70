#include "model/train/distributed.h"

#include <cstdlib>

#include <ATen/core/grad_mode.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"

#if defined(LMEYE_WITH_GLOO) || defined(LMEYE_WITH_NCCL)
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#ifdef LMEYE_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef LMEYE_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace lmeye {
namespace {

absl::Status ReadInt(const char* name, int low, int high, int* out) {
  const char* value = std::getenv(name);
  if (value == nullptr) return absl::OkStatus();
  if (!absl::SimpleAtoi(value, out) || *out < low || *out > high) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, "=\"", value, "\": expected an integer in [", low, ", ", high, "]"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DistributedEnv> DistributedEnvFromEnviron() {
  DistributedEnv env;
  absl::Status s = ReadInt("WORLD_SIZE", 1, 1 << 20, &env.world_size);
  if (s.ok()) s = ReadInt("RANK", 0, env.world_size - 1, &env.rank);
  env.local_rank = env.rank;
  if (s.ok()) s = ReadInt("LOCAL_RANK", 0, env.world_size - 1, &env.local_rank);
  if (s.ok()) s = ReadInt("MASTER_PORT", 1, 65535, &env.master_port);
  if (!s.ok()) return s;
  if (const char* addr = std::getenv("MASTER_ADDR"); addr != nullptr && *addr != '\0') {
    env.master_addr = addr;
  }
  return env;
}

const char* DistributedBackendName(DistributedBackend backend) {
  return backend == DistributedBackend::kNccl ? "nccl" : "gloo";
}

bool DistributedBackendBuilt(DistributedBackend backend) {
  switch (backend) {
    case DistributedBackend::kGloo:
#ifdef LMEYE_WITH_GLOO
      return true;
#else
      return false;
#endif
    case DistributedBackend::kNccl:
#ifdef LMEYE_WITH_NCCL
      return true;
#else
      return false;
#endif
  }
  return false;
}

absl::StatusOr<DistributedBackend> ChooseDistributedBackend(const std::string& requested,
                                                            const at::Device& device) {
  if (requested == "gloo") return DistributedBackend::kGloo;
  if (requested == "nccl") {
    if (!device.is_cuda()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "dist_backend nccl needs a CUDA device (device is ", device.str(), "); use gloo"));
    }
    return DistributedBackend::kNccl;
  }
  if (requested != "auto") {
    return absl::InvalidArgumentError(
        absl::StrCat("dist_backend \"", requested, "\": expected auto, gloo or nccl"));
  }
  return device.is_cuda() && DistributedBackendBuilt(DistributedBackend::kNccl)
             ? DistributedBackend::kNccl
             : DistributedBackend::kGloo;
}

std::string RankDevice(const std::string& device, const DistributedEnv& env) {
  if (device == "cuda" && env.world_size > 1) return absl::StrCat("cuda:", env.local_rank);
  return device;
}

struct DataParallelGroup::Impl {
#if defined(LMEYE_WITH_GLOO) || defined(LMEYE_WITH_NCCL)
  c10::intrusive_ptr<c10d::Store> store;
#endif
#ifdef LMEYE_WITH_GLOO
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#endif
#ifdef LMEYE_WITH_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
  at::Device device{at::kCPU};  // where the flat all-reduce buffer lives (NCCL: the rank's GPU)

  // Sums `flat` (one tensor on `device`) over the ranks, in place. For NCCL, wait() orders the
  // current CUDA stream after the collective; reading the result synchronises as usual.
  void AllReduce(std::vector<at::Tensor>& flat) {
#ifdef LMEYE_WITH_NCCL
    if (nccl) {
      nccl->allreduce(flat)->wait();
      return;
    }
#endif
#ifdef LMEYE_WITH_GLOO
    if (gloo) {
      gloo->allreduce(flat)->wait();
      return;
    }
#endif
    TORCH_CHECK(false, "no process group");
  }
};

absl::StatusOr<std::unique_ptr<DataParallelGroup>> DataParallelGroup::Connect(
    const DistributedEnv& env, DistributedBackend backend, const at::Device& device) {
  if (!DistributedBackendBuilt(backend)) {
    return absl::UnimplementedError(absl::StrCat(
        "WORLD_SIZE ", env.world_size, ": this build has no c10d ", DistributedBackendName(backend),
        backend == DistributedBackend::kGloo ? " (install libgloo-dev and rebuild)"
                                             : " (build against a CUDA libtorch with NCCL, e.g. "
                                               "PyTorch's; see deploy/cuda_check.sh)"));
  }
  if (backend == DistributedBackend::kNccl && !device.is_cuda()) {
    return absl::InvalidArgumentError(
        absl::StrCat("c10d nccl needs a CUDA device, got ", device.str()));
  }
  auto impl = std::make_unique<Impl>();
#if defined(LMEYE_WITH_GLOO) || defined(LMEYE_WITH_NCCL)
  absl::Status s = GuardTorch("c10d rendezvous", [&]() -> absl::Status {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(env.master_port);
    store_options.isServer = env.rank == 0;
    store_options.numWorkers = env.world_size;
    store_options.waitWorkers = true;
    store_options.timeout = env.timeout;
    impl->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
#ifdef LMEYE_WITH_NCCL
    if (backend == DistributedBackend::kNccl) {
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = env.timeout;
      impl->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl->store, env.rank,
                                                               env.world_size, options);
      impl->device = device;
      return absl::OkStatus();
    }
#endif
#ifdef LMEYE_WITH_GLOO
    auto options = c10d::ProcessGroupGloo::Options::create(env.timeout);
    const bool loopback = env.master_addr == "127.0.0.1" || env.master_addr == "localhost" ||
                          env.master_addr == "::1";
    if (loopback) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    impl->gloo =
        c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, env.rank, env.world_size, options);
#endif
    return absl::OkStatus();
  });
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat("joining rank ", env.rank, " of ", env.world_size,
                                               " (c10d ", DistributedBackendName(backend), ") at ",
                                               env.master_addr, ":", env.master_port, ": ",
                                               s.message()));
  }
#endif
  return std::unique_ptr<DataParallelGroup>(new DataParallelGroup(env, backend, std::move(impl)));
}

absl::Status DataParallelGroup::AllReduceSum(const std::vector<at::Tensor>& tensors) {
  return GuardTorch("all-reduce", [&]() -> absl::Status {
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> parts;
    for (const at::Tensor& t : tensors) parts.push_back(t.reshape({-1}).to(impl_->device));
    std::vector<at::Tensor> flat = {at::cat(parts, 0)};
    impl_->AllReduce(flat);
    int64_t offset = 0;
    for (const at::Tensor& t : tensors) {
      const int64_t n = t.numel();
      t.copy_(flat[0].narrow(0, offset, n).view(t.sizes()));
      offset += n;
    }
    return absl::OkStatus();
  });
}

absl::Status DataParallelGroup::Barrier() {
  // An all-reduce of one value, read back: every rank has reached it. (NCCL's own barrier
  // guesses each rank's GPU from its rank number; this uses the rank's device.)
  at::Tensor one = at::ones({1}, at::kFloat);
  LMEYE_RETURN_IF_ERROR(AllReduceSum({one}));
  if (one.item<float>() != static_cast<float>(env_.world_size)) {
    return absl::InternalError(
        absl::StrCat("barrier: ", one.item<float>(), " of ", env_.world_size, " ranks answered"));
  }
  return absl::OkStatus();
}

DataParallelGroup::DataParallelGroup(const DistributedEnv& env, DistributedBackend backend,
                                     std::unique_ptr<Impl> impl)
    : env_(env), backend_(backend), impl_(std::move(impl)) {}

DataParallelGroup::~DataParallelGroup() = default;

}  // namespace lmeye
