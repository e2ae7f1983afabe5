#include "tributary/core/ordered_acks.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace tributary::core {
namespace {

TEST(OrderedAcks, SettlesOnlyTheAcknowledgedRunAtTheFront) {
  OrderedAcks<uint64_t, uint64_t> acks;  // sequence -> end offset
  acks.Add(1, 100);
  acks.Add(2, 250);
  acks.Add(3, 400);
  std::vector<uint64_t> settled;
  auto record = [&](uint64_t, uint64_t end) { settled.push_back(end); };
  EXPECT_EQ(acks.outstanding(), 3u);
  EXPECT_EQ(acks.Acknowledge(2, record), 250u);
  EXPECT_TRUE(settled.empty()) << "1 is still outstanding";
  EXPECT_EQ(acks.outstanding(), 2u);
  EXPECT_EQ(acks.size(), 3u);
  EXPECT_TRUE(acks.Contains(2));
  EXPECT_EQ(acks.first(), 1u);
  EXPECT_EQ(acks.Acknowledge(1, record), 100u);
  EXPECT_EQ(settled, (std::vector<uint64_t>{100, 250}));
  EXPECT_EQ(acks.first(), 3u);
  EXPECT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks.Acknowledge(3, record), 400u);
  EXPECT_EQ(settled, (std::vector<uint64_t>{100, 250, 400}));
  EXPECT_TRUE(acks.empty());
  EXPECT_FALSE(acks.first().has_value());
}

TEST(OrderedAcks, UnknownAndRepeatedAcknowledgementsChangeNothing) {
  OrderedAcks<int64_t> acks;
  acks.Add(10);
  acks.Add(11);
  EXPECT_FALSE(acks.Acknowledge(12).has_value());
  EXPECT_TRUE(acks.Acknowledge(11).has_value());
  EXPECT_FALSE(acks.Acknowledge(11).has_value()) << "acknowledged already";
  EXPECT_EQ(acks.size(), 2u);
  EXPECT_EQ(acks.outstanding(), 1u);
  EXPECT_EQ(acks.first(), 10);
  EXPECT_TRUE(acks.Acknowledge(10).has_value());
  EXPECT_FALSE(acks.Acknowledge(10).has_value()) << "settled positions are gone";
  EXPECT_TRUE(acks.empty());
}

TEST(OrderedAcks, KeysAddedOutOfOrderStillSettleInOrder) {
  OrderedAcks<uint64_t> acks;
  acks.Add(7);
  acks.Add(5);  // a replayed position handed on after a newer one
  std::vector<uint64_t> settled;
  auto record = [&](uint64_t key, bool) { settled.push_back(key); };
  acks.Acknowledge(7, record);
  EXPECT_TRUE(settled.empty());
  acks.Acknowledge(5, record);
  EXPECT_EQ(settled, (std::vector<uint64_t>{5, 7}));
}

TEST(OrderedAcks, ARewindForgetsWhatWillBeReadAgain) {
  OrderedAcks<int64_t> acks;
  for (int64_t offset = 100; offset < 110; ++offset) acks.Add(offset);
  acks.Acknowledge(106);
  EXPECT_EQ(acks.outstanding(), 9u);
  EXPECT_EQ(acks.ForgetFrom(104), 6u);
  EXPECT_EQ(acks.size(), 4u);
  EXPECT_EQ(acks.outstanding(), 4u);
  EXPECT_FALSE(acks.Acknowledge(105).has_value());
  int64_t commit = -1;
  for (int64_t offset = 100; offset < 104; ++offset) {
    acks.Acknowledge(offset, [&](int64_t o, bool) { commit = o + 1; });
  }
  EXPECT_EQ(commit, 104);
  acks.Add(1);
  acks.Clear();
  EXPECT_TRUE(acks.empty());
}

}  // namespace
}  // namespace tributary::core
