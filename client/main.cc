// lmeye_client: the command-line client of LMEye Serve (chat, describe, vqa, info, load, eval).
#include <iostream>
#include <string>
#include <vector>

#include "client/client_options.h"
#include "client/commands.h"
#include "client/exit_codes.h"

int main(int argc, char** argv) {
  using namespace lmeye::client;
  const std::vector<std::string> args(argv + 1, argv + argc);
  auto options = ParseClientArgs(args);
  if (!options.ok()) {
    std::cerr << "lmeye_client: " << options.status().message()
              << "\n(lmeye_client --help for usage)\n";
    return kExitUsage;
  }
  if (options->help) {
    std::cout << ClientUsage();
    return kExitOk;
  }
  const std::string& command = options->command;
  if (command == "chat") return RunChat(*options, std::cin, std::cout);
  if (command == "describe") return RunDescribe(*options, std::cout);
  if (command == "vqa") return RunVqa(*options, std::cout);
  if (command == "info") return RunInfo(*options, std::cout);
  if (command == "load") return RunLoad(*options, std::cout);
  if (command == "eval") return RunEval(*options, std::cout);
  return kExitUsage;  // ParseClientArgs accepts no other command
}
