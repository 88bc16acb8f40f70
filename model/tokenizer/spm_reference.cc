#include "model/tokenizer/spm_reference.h"

// Only this file sees the SentencePiece header (see spm_reference.h).
#include <sentencepiece_processor.h>

namespace lmeye {

SpmReference::SpmReference() : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}
SpmReference::~SpmReference() = default;

bool SpmReference::LoadFromSerialized(const std::string& serialized, std::string* error) {
  const auto status = sp_->LoadFromSerializedProto(serialized);
  if (!status.ok()) {
    *error = status.ToString();
    return false;
  }
  return true;
}

bool SpmReference::Encode(const std::string& text, std::vector<int>* ids,
                          std::string* error) const {
  const auto status = sp_->Encode(text, ids);
  if (!status.ok()) {
    *error = status.ToString();
    return false;
  }
  return true;
}

bool SpmReference::EncodeAsPieces(const std::string& text, std::vector<std::string>* pieces,
                                  std::string* error) const {
  const auto status = sp_->Encode(text, pieces);
  if (!status.ok()) {
    *error = status.ToString();
    return false;
  }
  return true;
}

bool SpmReference::Decode(const std::vector<int>& ids, std::string* text,
                          std::string* error) const {
  const auto status = sp_->Decode(ids, text);
  if (!status.ok()) {
    *error = status.ToString();
    return false;
  }
  return true;
}

int SpmReference::piece_size() const { return sp_->GetPieceSize(); }
const std::string& SpmReference::IdToPiece(int id) const { return sp_->IdToPiece(id); }
int SpmReference::PieceToId(const std::string& piece) const { return sp_->PieceToId(piece); }
bool SpmReference::IsControl(int id) const { return sp_->IsControl(id); }
bool SpmReference::IsUnknown(int id) const { return sp_->IsUnknown(id); }
bool SpmReference::IsByte(int id) const { return sp_->IsByte(id); }
bool SpmReference::IsUnused(int id) const { return sp_->IsUnused(id); }
int SpmReference::bos_id() const { return sp_->bos_id(); }
int SpmReference::eos_id() const { return sp_->eos_id(); }
int SpmReference::unk_id() const { return sp_->unk_id(); }
int SpmReference::pad_id() const { return sp_->pad_id(); }

}  // namespace lmeye
