#include "model/train/distributed.h"

#include <cstdlib>

#include <ATen/core/grad_mode.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "model/common/torch_status.h"

#ifdef LMEYE_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
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
  if (s.ok()) s = ReadInt("MASTER_PORT", 1, 65535, &env.master_port);
  if (!s.ok()) return s;
  if (const char* addr = std::getenv("MASTER_ADDR"); addr != nullptr && *addr != '\0') {
    env.master_addr = addr;
  }
  return env;
}

#ifdef LMEYE_WITH_GLOO

struct DataParallelGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
};

absl::StatusOr<std::unique_ptr<DataParallelGroup>> DataParallelGroup::Connect(
    const DistributedEnv& env) {
  auto impl = std::make_unique<Impl>();
  absl::Status s = GuardTorch("c10d rendezvous", [&]() -> absl::Status {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(env.master_port);
    store_options.isServer = env.rank == 0;
    store_options.numWorkers = env.world_size;
    store_options.waitWorkers = true;
    store_options.timeout = env.timeout;
    impl->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
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
    impl->group =
        c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, env.rank, env.world_size, options);
    return absl::OkStatus();
  });
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat("joining rank ", env.rank, " of ", env.world_size,
                                               " at ", env.master_addr, ":", env.master_port, ": ",
                                               s.message()));
  }
  return std::unique_ptr<DataParallelGroup>(new DataParallelGroup(env, std::move(impl)));
}

absl::Status DataParallelGroup::AllReduceSum(const std::vector<at::Tensor>& tensors) {
  return GuardTorch("all-reduce", [&]() -> absl::Status {
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> flat = {at::cat(
        [&] {
          std::vector<at::Tensor> parts;
          for (const at::Tensor& t : tensors) parts.push_back(t.reshape({-1}));
          return parts;
        }(),
        0)};
    impl_->group->allreduce(flat)->wait();
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
  return GuardTorch("barrier", [&]() -> absl::Status {
    impl_->group->barrier()->wait();
    return absl::OkStatus();
  });
}

#else  // !LMEYE_WITH_GLOO

struct DataParallelGroup::Impl {};

absl::StatusOr<std::unique_ptr<DataParallelGroup>> DataParallelGroup::Connect(
    const DistributedEnv& env) {
  return absl::UnimplementedError(
      absl::StrCat("WORLD_SIZE ", env.world_size,
                   ": this build has no c10d Gloo (install libgloo-dev and "
                   "rebuild)"));
}

absl::Status DataParallelGroup::AllReduceSum(const std::vector<at::Tensor>&) {
  return absl::UnimplementedError("no c10d Gloo in this build");
}

absl::Status DataParallelGroup::Barrier() {
  return absl::UnimplementedError("no c10d Gloo in this build");
}

#endif  // LMEYE_WITH_GLOO

DataParallelGroup::DataParallelGroup(const DistributedEnv& env, std::unique_ptr<Impl> impl)
    : env_(env), impl_(std::move(impl)) {}

DataParallelGroup::~DataParallelGroup() = default;

}  // namespace lmeye
