// The restricted unpickler on hand-written pickles: the opcodes torch files use, and that every
// malformed or hostile input is an error (never a crash, never a call of a global).
#include "model/io/torch_pickle.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;

std::string Hex(absl::string_view hex) { return absl::HexStringToBytes(hex); }

class TorchPickleTest : public ::testing::Test {
 protected:
  absl::StatusOr<const PickleValue*> Run(const std::string& pickle) {
    auto r = Unpickle(pickle, 0, options_, arena_);
    if (!r.ok()) return r.status();
    EXPECT_EQ(r->end, pickle.size());
    return r->value;
  }
  std::string Error(const std::string& pickle) {
    auto r = Unpickle(pickle, 0, options_, arena_);
    EXPECT_FALSE(r.ok());
    return r.ok() ? "" : std::string(r.status().message());
  }

  UnpickleOptions options_;
  PickleArena arena_{1 << 20};
};

TEST_F(TorchPickleTest, Protocol2Containers) {
  // pickle.dumps({'a': [1, -2, 70000], 'b': (True, None, 0.5)}, protocol=2)
  auto v = Run(Hex(
      "80027d71002858010000006171015d7102284b014afeffffff4a70110100655801000000627103884e473fe00000"
      "00000000877104752e"));
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ((*v)->kind, PickleKind::kDict);
  const PickleValue* a = (*v)->DictGet("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->items.size(), 3u);
  EXPECT_EQ(a->items[1]->integer, -2);
  EXPECT_EQ(a->items[2]->integer, 70000);
  const PickleValue* b = (*v)->DictGet("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->kind, PickleKind::kTuple);
  EXPECT_TRUE(b->items[0]->boolean);
  EXPECT_EQ(b->items[1]->kind, PickleKind::kNone);
  EXPECT_EQ(b->items[2]->real, 0.5);
}

TEST_F(TorchPickleTest, Protocol4FramesMemoizeAndShortStrings) {
  // s = 'xy'; pickle.dumps([s, s], protocol=4): the second element is a memo reference.
  auto v = Run(Hex("8004950c000000000000005d94288c027879946801652e"));
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ((*v)->items.size(), 2u);
  EXPECT_EQ((*v)->items[0], (*v)->items[1]);
  EXPECT_EQ((*v)->items[0]->text, "xy");
}

TEST_F(TorchPickleTest, LongIntegers) {
  // LONG1 of torch's legacy magic number (10 bytes) stays a big int; LONG1 -1 and 2^40 fit.
  auto magic = Run(Hex("80028a0a6cfc9c46f9206aa850192e"));
  ASSERT_TRUE(magic.ok()) << magic.status();
  EXPECT_EQ((*magic)->kind, PickleKind::kBigInt);
  EXPECT_EQ((*magic)->text.size(), 10u);
  auto minus_one = Run(Hex("8a01ff2e"));
  ASSERT_TRUE(minus_one.ok());
  EXPECT_EQ((*minus_one)->integer, -1);
  auto big =
      Run(Hex("8a09"
              "000000000001000000"
              "2e"));  // with redundant sign bytes
  ASSERT_TRUE(big.ok());
  EXPECT_EQ((*big)->kind, PickleKind::kInt);
  EXPECT_EQ((*big)->integer, int64_t{1} << 40);
  auto too_big =
      Run(Hex("8a09"
              "00000000000000"
              "80"
              "00"
              "2e"));  // 2^63
  ASSERT_TRUE(too_big.ok());
  EXPECT_EQ((*too_big)->kind, PickleKind::kBigInt);
}

TEST_F(TorchPickleTest, Protocol0TextOpcodes) {
  auto v = Run("(I12\nL-7L\nF0.25\nI01\nt.");
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ((*v)->items.size(), 4u);
  EXPECT_EQ((*v)->items[0]->integer, 12);
  EXPECT_EQ((*v)->items[1]->integer, -7);
  EXPECT_EQ((*v)->items[2]->real, 0.25);
  EXPECT_TRUE((*v)->items[3]->boolean);
}

TEST_F(TorchPickleTest, GlobalsMustBeAllowListedAndAreNeverCalledUnlessHandled) {
  // GLOBAL 'os system', MARK, BINUNICODE 'echo', TUPLE, REDUCE
  EXPECT_THAT(Error(Hex("636f730a73797374656d0a2858040000006563686f74522e")),
              HasSubstr("pickle byte 0 (GLOBAL): global os.system is not allowed"));
  // The same through protocol 4's STACK_GLOBAL.
  EXPECT_THAT(Error(Hex("80048c086275696c74696e738c046576616c932e")),
              HasSubstr("global builtins.eval is not allowed"));
  options_.globals["torch.FloatStorage"] = nullptr;  // a value-only global
  EXPECT_THAT(Error("ctorch\nFloatStorage\n)R."), HasSubstr("torch.FloatStorage cannot be called"));
  int calls = 0;
  options_.globals["m.f"] = [&calls](PickleArena& arena, const PickleValue& args) {
    ++calls;
    auto v = arena.New(PickleKind::kInt);
    if (v.ok()) (*v)->integer = static_cast<int64_t>(args.items.size());
    return v;
  };
  auto v = Run("cm\nf\n(K\x01K\x02tR.");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ((*v)->integer, 2);
  EXPECT_EQ(calls, 1);
  EXPECT_THAT(Error("cm\nf\nK\x01R."), HasSubstr("arguments are a int, not a tuple"));
}

TEST_F(TorchPickleTest, PersistentIdsNeedAHandler) {
  const std::string pid_k = Hex("58010000006b512e");  // BINUNICODE 'k', BINPERSID
  EXPECT_THAT(Error(pid_k), HasSubstr("persistent ids are not expected"));
  options_.persistent_load = [](PickleArena& arena, const PickleValue& pid) {
    auto v = arena.New(PickleKind::kExternal);
    if (v.ok()) (*v)->text = "loaded " + pid.text;
    return v;
  };
  auto v = Run(pid_k);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ((*v)->text, "loaded k");
}

TEST_F(TorchPickleTest, MalformedInputIsAnError) {
  EXPECT_THAT(Error(""), HasSubstr("no pickle here"));
  EXPECT_THAT(Error("\x80\x02"), HasSubstr("data ends before the STOP opcode"));
  EXPECT_THAT(Error("\x80\x09."), HasSubstr("unsupported pickle protocol 9"));
  EXPECT_THAT(Error("\xff."), HasSubstr("unknown opcode 0xff"));
  EXPECT_THAT(Error("."), HasSubstr("pickle byte 0 (STOP): stack underflow"));
  EXPECT_THAT(Error("a."), HasSubstr("stack underflow"));
  EXPECT_THAT(Error(Hex("4b014b02612e")), HasSubstr("expects a list below, found int"));
  EXPECT_THAT(Error("h\x05."), HasSubstr("memo entry 5 was never stored"));
  EXPECT_THAT(Error("t."), HasSubstr("no MARK"));
  EXPECT_THAT(Error(Hex("284b01642e")), HasSubstr("odd number of items"));
  // A 4 GB string announced in a few bytes: refused before anything is allocated.
  EXPECT_THAT(Error("X\xff\xff\xff\xff"
                    "abc."),
              HasSubstr("truncated: needs 4294967295 bytes"));
  EXPECT_THAT(Error("\x8d\xff\xff\xff\xff\xff\xff\xff\x7f."), HasSubstr("truncated"));
  EXPECT_THAT(Error(Hex("9500000000010000004e2e")), HasSubstr("frame of"));
  EXPECT_THAT(Error("cos\nsys"), HasSubstr("no newline"));
  EXPECT_THAT(Error("i__main__\nX\n(t."), HasSubstr("opcode not supported"));
  EXPECT_THAT(Error("N\x97."), HasSubstr("opcode not supported"));
}

TEST_F(TorchPickleTest, LimitsBoundNestingStackAndMemo) {
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "]";
  for (int i = 0; i < 99; ++i) deep += "a";
  deep += ".";
  EXPECT_THAT(Error(deep), HasSubstr("nested deeper than 64"));

  options_.limits.max_stack = 10;
  EXPECT_THAT(Error(std::string(11, 'N') + "."), HasSubstr("more than 10 values on the stack"));
  options_.limits.max_memo = 2;
  EXPECT_THAT(Error(Hex("4e7100710171022e")), HasSubstr("more than 2 memo entries"));
  PickleArena small(3);
  auto r = Unpickle("NNNN.", 0, options_, small);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(TorchPickleTest, CyclesDoNotHangOrLeak) {
  // l = []; l.append(l): the arena owns the values, so the cycle is harmless.
  auto v = Run(Hex("5d71006800612e"));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ((*v)->items[0], *v);
  EXPECT_EQ(DescribePickleValue(**v), "list (1 items)");
}

TEST_F(TorchPickleTest, PopDiscardsAnEmptyMarkLikeCPython) {
  auto v = Run("K\x01(0.");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ((*v)->integer, 1);
}

}  // namespace
}  // namespace lmeye
