#include "model/common/runtime.h"

#include <sched.h>

#include <fstream>
#include <string>

#include <ATen/Config.h>
#include <ATen/Parallel.h>
#if AT_PARALLEL_OPENMP
#include <omp.h>
#endif
#include <torch/version.h>

#include "absl/strings/str_cat.h"

namespace lmeye {

void ConfigureTorchThreads(int n) {
  if (n <= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
  }
  at::set_num_threads(n > 0 ? n : 1);
}

void KeepAtenOpsOnThisThread() {
  // ATen sets each thread's OpenMP thread count lazily, on its first parallel op, to the global
  // one: run that initialisation first, or that first op would undo what follows.
  at::internal::lazy_init_num_threads();
#if AT_PARALLEL_OPENMP
  omp_set_num_threads(1);  // this thread's ICV only
#endif
}

std::string LoadedBlasLibrary() {
  // The dynamic loader resolved libblas.so.3 through Debian's alternatives; /proc/self/maps shows
  // the file actually mapped.
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    if (path.find("libblas") != std::string::npos ||
        path.find("libopenblas") != std::string::npos || path.find("libmkl") != std::string::npos) {
      char resolved[4096];
      if (realpath(path.c_str(), resolved) != nullptr) return resolved;
      return path;
    }
  }
  return "";
}

std::string RuntimeSummary() {
  std::string blas = LoadedBlasLibrary();
  if (blas.empty()) blas = "none loaded";
  if (blas.find("/blas/") != std::string::npos)
    blas += " (REFERENCE BLAS: install libopenblas0-openmp)";
  return absl::StrCat("libtorch ", TORCH_VERSION, ", ", at::get_num_threads(),
                      " intra-op threads, BLAS ", blas);
}

}  // namespace lmeye
