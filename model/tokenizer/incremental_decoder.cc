#include "model/tokenizer/incremental_decoder.h"

#include "model/common/status_macros.h"
#include "model/tokenizer/tokenizer.h"
#include "model/tokenizer/utf8.h"

namespace lmeye {

IncrementalDecoder::IncrementalDecoder(const Tokenizer* tokenizer, bool at_text_start)
    : tokenizer_(tokenizer), at_text_start_(at_text_start) {}

absl::Status IncrementalDecoder::Push(int id, std::string* out) {
  LMEYE_ASSIGN_OR_RETURN(absl::string_view bytes, tokenizer_->TokenBytes(id, at_text_start_));
  // Special tokens do not end the text's start: SentencePiece strips the space of "▁Hello" in
  // [<s>, ▁Hello] too.
  if (!tokenizer_->IsSpecial(id)) at_text_start_ = false;
  if (bytes.empty()) return absl::OkStatus();
  if (pending_.empty()) {
    // Common case: copy straight from the vocabulary, keep only an incomplete tail.
    const size_t used =
        AppendValidUtf8(bytes, tokenizer_->utf8_replacement(), /*final=*/false, out);
    pending_.assign(bytes.data() + used, bytes.size() - used);
    return absl::OkStatus();
  }
  pending_.append(bytes.data(), bytes.size());
  const size_t used =
      AppendValidUtf8(pending_, tokenizer_->utf8_replacement(), /*final=*/false, out);
  pending_.erase(0, used);
  return absl::OkStatus();
}

absl::StatusOr<std::string> IncrementalDecoder::Push(int id) {
  std::string out;
  LMEYE_RETURN_IF_ERROR(Push(id, &out));
  return out;
}

void IncrementalDecoder::Flush(std::string* out) {
  AppendValidUtf8(pending_, tokenizer_->utf8_replacement(), /*final=*/true, out);
  pending_.clear();
}

std::string IncrementalDecoder::Flush() {
  std::string out;
  Flush(&out);
  return out;
}

}  // namespace lmeye
