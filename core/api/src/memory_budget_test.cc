#include "tributary/core/memory_budget.h"

#include "gtest/gtest.h"

namespace tributary::core {
namespace {

TEST(MemoryBudget, ReservationsHoldTheirBytesUntilTheyGo) {
  MemoryBudget budget;
  budget.SetLimit(1000);
  MemoryBudget::Reservation a;
  ASSERT_TRUE(budget.Reserve(600, &a));
  EXPECT_EQ(budget.used(), 600u);
  MemoryBudget::Reservation b;
  EXPECT_FALSE(budget.Reserve(500, &b));  // 1,100 would pass the limit
  EXPECT_EQ(b.bytes(), 0u);
  EXPECT_EQ(budget.used(), 600u);
  EXPECT_TRUE(a.Grow(400));
  EXPECT_FALSE(a.Grow(1));
  EXPECT_EQ(a.bytes(), 1000u);
  {
    MemoryBudget::Reservation moved = std::move(a);
    EXPECT_EQ(moved.bytes(), 1000u);
    EXPECT_EQ(a.bytes(), 0u);
    EXPECT_EQ(budget.used(), 1000u);
  }
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_TRUE(budget.Reserve(1000, &b));
  b = MemoryBudget::Reservation();  // assigning releases what it held
  EXPECT_EQ(budget.used(), 0u);
}

TEST(MemoryBudget, NoLimitStillCounts) {
  MemoryBudget budget;
  MemoryBudget::Reservation r;
  EXPECT_TRUE(budget.Reserve(uint64_t{1} << 40, &r));
  EXPECT_EQ(budget.used(), uint64_t{1} << 40);
}

}  // namespace
}  // namespace tributary::core
