// Process-wide libtorch runtime settings: intra-op threads, and a one-line summary of the BLAS
// and threading libtorch actually uses (logged at start-up: Debian's libtorch silently falls back
// to the reference BLAS when libopenblas0-openmp is missing, which costs 2-16x).
#pragma once

#include <string>

namespace lmeye {

// Sets libtorch's intra-op thread count. n <= 0 means every core this process may run on.
// Call once, from main, before any model work.
void ConfigureTorchThreads(int n);

// Makes the ATen ops that the calling thread runs stay on that thread, for helper threads
// (image preprocessing, model loading) beside a scheduler that owns the intra-op threads. Why:
// libtorch's OpenMP gives every thread that runs a parallel op a team of its own, and once
// libgomp manages more threads than there are cores it stops spinning between parallel regions,
// so the scheduler's team sleeps and is woken (a futex and, in a VM, an IPI) for every op of a
// decode step. Other threads keep the configured count.
void KeepAtenOpsOnThisThread();

// The realpath of the BLAS shared object mapped into this process (empty if none is loaded).
std::string LoadedBlasLibrary();

// e.g. "libtorch 1.13.1, 2 intra-op threads, BLAS /usr/lib/.../openblas-openmp/libblas.so.3".
std::string RuntimeSummary();

}  // namespace lmeye
