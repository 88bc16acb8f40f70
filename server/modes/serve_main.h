// `lmeye serve`: loads the configured model into N workers, serves the Lmeye gRPC API (with
// health and reflection) and Prometheus metrics, and drains gracefully on SIGTERM or SIGINT:
// health turns NOT_SERVING, new requests get UNAVAILABLE, in-flight ones finish (up to
// drain_timeout_seconds), then the process exits 0.
#pragma once

#include <string>
#include <vector>

namespace lmeye {

// Blocks SIGTERM and SIGINT in the calling thread and every thread it creates afterwards, so
// that ServeMain receives them with sigwait(). Call first thing in main, before any library
// starts a thread.
void BlockTerminationSignals();

// `args` excludes the program and mode names. Exit codes: 0 after a drain, 2 bad flags or
// config, 1 the model or the server failed to start.
int ServeMain(const std::vector<std::string>& args);

}  // namespace lmeye
