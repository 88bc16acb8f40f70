// The lmeye_client commands. Each returns the process exit code (exit_codes.h) and prints its
// errors to stderr; results go to `out` (stdout in main).
#pragma once

#include <iostream>

#include "client/client_options.h"

namespace lmeye::client {

// Interactive (one human turn per line of `in`; `/reset` clears the history, `/quit` ends) or,
// with --message, one turn. Tokens are written to `out` as they arrive.
int RunChat(const ClientOptions& options, std::istream& in, std::ostream& out);
int RunDescribe(const ClientOptions& options, std::ostream& out);
int RunVqa(const ClientOptions& options, std::ostream& out);
int RunInfo(const ClientOptions& options, std::ostream& out);
// The load generator; the report goes to `out`. Exit code: 0 when every request succeeded,
// otherwise the code of the first failure (the report is printed either way).
int RunLoad(const ClientOptions& options, std::ostream& out);
// A dataset against the server (eval_command.cc): predictions and the report written to files,
// the report's table (or JSON) to `out`, progress to stderr. Exit code: 0 when every item got
// an answer; otherwise the code of the first failure in dataset order (a missing image:
// kExitLocalInput); the files are written in every case once the dataset was read.
int RunEval(const ClientOptions& options, std::ostream& out);

}  // namespace lmeye::client
