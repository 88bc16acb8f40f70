// Bounded, deterministic fuzzing of the torch.save reader: random mutations (bit flips, byte
// and integer overwrites, truncations, insertions, deletions, splices between files) of every
// committed checkpoint, each fed to everything a caller can ask (torch_checkpoint_exercise.h).
// Zip files are mutated two ways: as raw bytes (the container), and member by member with the
// archive rewritten around them (so a changed data.pkl still passes its CRC and reaches the
// unpickler). The test passes when every input returns; a crash or an oversized tensor fails it.
// For longer, coverage-guided runs under AddressSanitizer see torch_checkpoint_fuzzer.cc
// (LMEYE_FUZZ=ON).
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "model/common/file_util.h"
#include "model/io/zip_archive.h"
#include "tests/common/test_data.h"
#include "tests/io/torch_checkpoint_exercise.h"

namespace lmeye {
namespace {

using ::lmeye::testing::TestData;

// 90,000 inputs in all: ~4 s here (2 shared cores), well under the suite's per-test budget.
constexpr int kIterationsPerFile = 10000;

class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  std::string Mutate(std::string s, const std::vector<std::string>& corpus) {
    const int n_mutations = 1 + Below(3);
    for (int i = 0; i < n_mutations; ++i) MutateOnce(s, corpus);
    return s;
  }

 private:
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  // Half the time anywhere; otherwise near the start (the pickles, a zip's data.pkl) or the end
  // (a zip's central directory), where a change alters structure rather than tensor values.
  size_t Pos(size_t size) {
    if (size == 0) return 0;
    switch (Below(4)) {
      case 0:
        return Below(std::min<size_t>(size, 4096));
      case 1:
        return size - 1 - Below(std::min<size_t>(size, 1024));
      default:
        return Below(size);
    }
  }
  void MutateOnce(std::string& s, const std::vector<std::string>& corpus) {
    static constexpr uint64_t kInteresting[] = {0,          1,          0x7f,       0x80,
                                                0xff,       0xffff,     0x7fffffff, 0x80000000,
                                                0xffffffff, 1ull << 32, 1ull << 62, ~0ull};
    static constexpr char kOpcodes[] =
        "(.0123FIJKLMNPQRSTUVXabcdeghijlopqrstu}])G\x80\x81\x85"
        "\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\x90\x91\x92\x93"
        "\x94\x95\x96";
    const size_t pos = Pos(s.size());
    switch (Below(9)) {
      case 0:  // flip bits
        if (!s.empty()) {
          for (uint64_t k = 1 + Below(8); k > 0; --k) s[Pos(s.size())] ^= 1 << Below(8);
        }
        break;
      case 1:  // an interesting byte
        if (!s.empty()) s[pos] = static_cast<char>(kInteresting[Below(5)] & 0xff);
        break;
      case 2: {  // an interesting 2-, 4- or 8-byte little-endian integer
        const int width = 2 << Below(3);
        const uint64_t v = kInteresting[Below(std::size(kInteresting))] + Below(3) - 1;
        for (int b = 0; b < width && pos + b < s.size(); ++b) s[pos + b] = (v >> (8 * b)) & 0xff;
        break;
      }
      case 3:  // truncate
        s.resize(pos);
        break;
      case 4: {  // insert random bytes
        std::string bytes(1 + Below(16), '\0');
        for (char& c : bytes) c = static_cast<char>(Below(256));
        s.insert(pos, bytes);
        break;
      }
      case 5:  // delete a range
        s.erase(pos, 1 + Below(64));
        break;
      case 6: {  // splice in a chunk of another file
        const std::string& other = corpus[Below(corpus.size())];
        const size_t from = Pos(other.size());
        const std::string chunk = other.substr(from, 1 + Below(256));
        s.replace(pos, Below(2) ? chunk.size() : 0, chunk);
        break;
      }
      case 7: {  // duplicate a chunk of this file elsewhere
        const std::string chunk = s.substr(Pos(s.size()), 1 + Below(128));
        s.insert(Pos(s.size()), chunk);
        break;
      }
      default:  // an opcode
        s.insert(pos, 1, kOpcodes[Below(sizeof(kOpcodes) - 1)]);
        break;
    }
  }

  std::mt19937_64 rng_;
};

using Members = std::vector<std::pair<std::string, std::string>>;

void Put(std::string& out, uint64_t v, int n_bytes) {
  for (int i = 0; i < n_bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// A stored zip laid out as miniz writes torch's (data descriptors, no alignment padding).
std::string WriteStoredZip(const Members& members) {
  std::string out, central;
  for (const auto& [name, data] : members) {
    const uint32_t crc = Crc32(data);
    const uint64_t offset = out.size();
    Put(out, 0x04034b50, 4);
    Put(out, 0, 2);
    Put(out, 0x0808, 2);
    Put(out, 0, 18);  // method, time, date, CRC, sizes: the sizes are in the descriptor
    Put(out, name.size(), 2);
    Put(out, 0, 2);
    out += name + data;
    Put(out, 0x08074b50, 4);
    Put(out, crc, 4);
    Put(out, data.size(), 4);
    Put(out, data.size(), 4);
    Put(central, 0x02014b50, 4);
    Put(central, 0, 4);
    Put(central, 0x0808, 2);
    Put(central, 0, 6);
    Put(central, crc, 4);
    Put(central, data.size(), 4);
    Put(central, data.size(), 4);
    Put(central, name.size(), 2);
    Put(central, 0, 12);
    Put(central, offset, 4);
    central += name;
  }
  const uint64_t dir_offset = out.size();
  out += central;
  Put(out, 0x06054b50, 4);
  Put(out, 0, 4);
  Put(out, members.size(), 2);
  Put(out, members.size(), 2);
  Put(out, central.size(), 4);
  Put(out, dir_offset, 4);
  Put(out, 0, 2);
  return out;
}

TEST(TorchCheckpointFuzzTest, RewrittenZipMatchesTheOriginalContent) {
  auto bytes = ReadFileToString(TestData("checkpoints/zip_state_dict.pt"));
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto zip = ZipArchive::Parse(*bytes);
  ASSERT_TRUE(zip.ok()) << zip.status();
  Members members;
  for (const ZipMember& m : zip->members()) {
    members.emplace_back(m.name, std::string(ZipArchive::Bytes(*bytes, m)));
  }
  testing::ExerciseCounts counts;
  testing::ExerciseTorchCheckpoint(WriteStoredZip(members), counts);
  EXPECT_EQ(counts.opened, 1);
  EXPECT_EQ(counts.loaded, 13);
  EXPECT_EQ(counts.load_errors, 0);
}

TEST(TorchCheckpointFuzzTest, MutatedCheckpointsNeverCrash) {
  const std::vector<std::string> paths = {
      TestData("models/lingcloud-v0-tiny-llama/lingcloud_checkpoint.pth"),
      TestData("models/lingcloud-v0-tiny-bloom/lingcloud_checkpoint.pth"),
      TestData("checkpoints/zip_state_dict.pt"),
      TestData("checkpoints/zip_protocol4.pt"),
      TestData("checkpoints/legacy_ddp.pth"),
      TestData("checkpoints/libtorch_pickle_save.pt"),
      TestData("checkpoints/hf_single/pytorch_model.bin"),
      TestData("checkpoints/hf_sharded/pytorch_model-00001-of-00002.bin"),
      TestData("checkpoints/hf_sharded/pytorch_model-00002-of-00002.bin"),
  };
  std::vector<std::string> corpus;
  for (const std::string& path : paths) {
    auto bytes = ReadFileToString(path);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    corpus.push_back(*bytes);
  }
  // The members of the zip files, and their pickles (spliced into one another).
  std::vector<Members> zip_members(corpus.size());
  std::vector<std::string> pickles;
  for (size_t f = 0; f < corpus.size(); ++f) {
    if (!absl::StartsWith(corpus[f], "PK")) continue;
    auto zip = ZipArchive::Parse(corpus[f]);
    ASSERT_TRUE(zip.ok()) << zip.status();
    for (const ZipMember& m : zip->members()) {
      zip_members[f].emplace_back(m.name, std::string(ZipArchive::Bytes(corpus[f], m)));
      if (absl::EndsWith(m.name, "data.pkl")) pickles.push_back(zip_members[f].back().second);
    }
  }
  const auto start = std::chrono::steady_clock::now();
  Mutator mutator(/*seed=*/20240607);
  testing::ExerciseCounts counts;
  int64_t iterations = 0;
  for (size_t f = 0; f < corpus.size(); ++f) {
    for (int i = 0; i < kIterationsPerFile; ++i, ++iterations) {
      if (zip_members[f].empty() || i % 2 == 0) {
        testing::ExerciseTorchCheckpoint(mutator.Mutate(corpus[f], corpus), counts);
        continue;
      }
      // Mostly data.pkl; sometimes a storage, which then has the wrong size.
      Members members = zip_members[f];
      size_t k = 0;
      while (!absl::EndsWith(members[k].first, "data.pkl")) ++k;
      if (i % 10 == 1) k = (i / 10) % members.size();
      const bool is_pickle = absl::EndsWith(members[k].first, "data.pkl");
      members[k].second = mutator.Mutate(members[k].second, is_pickle ? pickles : corpus);
      testing::ExerciseTorchCheckpoint(WriteStoredZip(members), counts);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "%lld mutated inputs in %.1f s: %lld opened (%lld tensor lists refused, %lld tensors loaded, "
      "%lld loads refused), %lld refused at open\n",
      static_cast<long long>(iterations), seconds, static_cast<long long>(counts.opened),
      static_cast<long long>(counts.tensor_list_errors), static_cast<long long>(counts.loaded),
      static_cast<long long>(counts.load_errors), static_cast<long long>(counts.open_errors));
  EXPECT_EQ(counts.oversized, 0);
  // The mutations reach both sides: some inputs still open, most are refused.
  EXPECT_GT(counts.opened, 0);
  EXPECT_GT(counts.open_errors, 0);
}

}  // namespace
}  // namespace lmeye
