// A binary that links libtorch and lmeye_tokenizer starts and tokenizes with a LLaMA model.
//
// Why: Debian's libsentencepiece.so.0 exports a bundled protobuf-lite, and libtorch_cpu pulls
// in libprotobuf.so.32; a process that loads both segfaults during static initialisation,
// before main. lmeye_tokenizer therefore carries its own SentencePiece (spm_model.h). If that
// regresses, this test dies before gtest prints anything.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include "model/tokenizer/tokenizer_factory.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

TEST(SpmWithTorchTest, LoadsAndEncodesNextToLibtorch) {
  // Touch libtorch so that the linker cannot drop it.
  const torch::Tensor t = torch::arange(3);
  EXPECT_EQ(t.sum().item<int64_t>(), 3);

  auto tok = LoadTokenizer(::lmeye::testing::TestData("tokenizers/llama_spm"));
  ASSERT_TRUE(tok.ok()) << tok.status();
  auto ids = (*tok)->Encode("Hello world");
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(*ids, (std::vector<int>{15043, 3186}));
  EXPECT_EQ(*(*tok)->Decode(*ids), "Hello world");
}

}  // namespace
}  // namespace lmeye
