#include "model/tokenizer/spm_processor.h"

// Only this file sees the SentencePiece header (see spm_processor.h).
#include <sentencepiece_processor.h>

namespace lmeye {

SpmProcessor::SpmProcessor() : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}
SpmProcessor::~SpmProcessor() = default;

bool SpmProcessor::LoadFromSerialized(const std::string& serialized, std::string* error) {
  const auto status = sp_->LoadFromSerializedProto(serialized);
  if (!status.ok()) {
    *error = status.ToString();
    return false;
  }
  return true;
}

bool SpmProcessor::Encode(const std::string& text, std::vector<int>* ids,
                          std::string* error) const {
  const auto status = sp_->Encode(text, ids);
  if (!status.ok()) {
    *error = status.ToString();
    return false;
  }
  return true;
}

bool SpmProcessor::Decode(const std::vector<int>& ids, std::string* text,
                          std::string* error) const {
  const auto status = sp_->Decode(ids, text);
  if (!status.ok()) {
    *error = status.ToString();
    return false;
  }
  return true;
}

int SpmProcessor::piece_size() const { return sp_->GetPieceSize(); }
const std::string& SpmProcessor::IdToPiece(int id) const { return sp_->IdToPiece(id); }
int SpmProcessor::PieceToId(const std::string& piece) const { return sp_->PieceToId(piece); }
bool SpmProcessor::IsControl(int id) const { return sp_->IsControl(id); }
bool SpmProcessor::IsUnknown(int id) const { return sp_->IsUnknown(id); }
bool SpmProcessor::IsByte(int id) const { return sp_->IsByte(id); }
bool SpmProcessor::IsUnused(int id) const { return sp_->IsUnused(id); }
int SpmProcessor::bos_id() const { return sp_->bos_id(); }
int SpmProcessor::eos_id() const { return sp_->eos_id(); }
int SpmProcessor::unk_id() const { return sp_->unk_id(); }
int SpmProcessor::pad_id() const { return sp_->pad_id(); }

}  // namespace lmeye
