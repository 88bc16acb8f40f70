#include "model/tokenizer/t5_tokenizer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/tokenizer/tokenizer_factory.h"

namespace lmeye {

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadT5Tokenizer(const std::string& spiece_model,
                                                           int extra_ids) {
  if (extra_ids < 0 || extra_ids > kT5MaxExtraIds) {
    return absl::InvalidArgumentError(
        absl::StrCat("T5 extra_ids ", extra_ids, " outside [0, ", kT5MaxExtraIds, "]"));
  }
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok,
                         LoadSentencePieceTokenizer(spiece_model, TokenizerFamily::kT5));
  // In increasing id order, so that each lands at the next free id: <extra_id_{extra_ids-1}>
  // first, <extra_id_0> last (T5Tokenizer's _convert_token_to_id: vocab_size - 1 - N).
  const int first_id = tok->vocab_size();
  for (int n = extra_ids - 1; n >= 0; --n) {
    const absl::Status status =
        tok->AddSpecialToken(absl::StrCat("<extra_id_", n, ">"), first_id + extra_ids - 1 - n);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(spiece_model, ": ", status.message()));
    }
  }
  return tok;
}

absl::StatusOr<int> ReadT5ExtraIds(const std::string& tokenizer_config_json) {
  if (!FileExists(tokenizer_config_json)) return kT5DefaultExtraIds;
  LMEYE_ASSIGN_OR_RETURN(nlohmann::json root, ReadJsonFile(tokenizer_config_json));
  if (!root.is_object() || !root.contains("extra_ids")) return kT5DefaultExtraIds;
  const nlohmann::json& value = root["extra_ids"];
  if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
      value.get<int64_t>() > kT5MaxExtraIds) {
    return absl::InvalidArgumentError(absl::StrCat(
        tokenizer_config_json, ": extra_ids must be an integer in [0, ", kT5MaxExtraIds, "]"));
  }
  return static_cast<int>(value.get<int64_t>());
}

}  // namespace lmeye
