#include "server/edge/auth.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"

namespace lmeye {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

// Compares every byte of equal-length strings, so the time taken does not tell an attacker how
// long a prefix of a token they have guessed.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]);
  }
  return diff == 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BearerTokenAuth>> BearerTokenAuth::FromFile(
    const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("auth token file: ", text.status().message()));
  }
  return FromText(*text, path);
}

absl::StatusOr<std::unique_ptr<BearerTokenAuth>> BearerTokenAuth::FromText(
    absl::string_view text, absl::string_view source) {
  std::vector<std::string> tokens;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    for (char c : line) {
      if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
        return absl::InvalidArgumentError(
            absl::StrCat("auth token file ", source, ": a token contains whitespace"));
      }
    }
    tokens.emplace_back(line.data(), line.size());
  }
  if (tokens.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("auth token file ", source, ": no tokens"));
  }
  return std::unique_ptr<BearerTokenAuth>(new BearerTokenAuth(std::move(tokens)));
}

absl::Status BearerTokenAuth::Authorize(const grpc::ServerContextBase& context) const {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return AuthorizeHeader(std::nullopt);
  return AuthorizeHeader(absl::string_view(it->second.data(), it->second.size()));
}

absl::Status BearerTokenAuth::AuthorizeHeader(std::optional<absl::string_view> header) const {
  if (!header.has_value()) {
    return absl::UnauthenticatedError("missing 'authorization: Bearer <token>' metadata");
  }
  // RFC 6750: the scheme name is case-insensitive.
  if (header->size() <= kBearer.size() ||
      !absl::EqualsIgnoreCase(header->substr(0, kBearer.size()), kBearer)) {
    return absl::UnauthenticatedError("authorization metadata is not 'Bearer <token>'");
  }
  const absl::string_view token = absl::StripAsciiWhitespace(header->substr(kBearer.size()));
  bool match = false;
  for (const std::string& known : tokens_) match |= ConstantTimeEquals(token, known);
  if (!match) return absl::UnauthenticatedError("unknown bearer token");
  return absl::OkStatus();
}

}  // namespace lmeye
