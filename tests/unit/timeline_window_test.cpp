// The pitr window over generations wherever they are (policy/timeline.hpp
// generations_past_window): what off-site retention deletes of the timeline.
#include <gtest/gtest.h>

#include "policy/timeline.hpp"

using namespace wb;

namespace {
constexpr int64_t kHour = int64_t{3600} * 1000000000;

GenerationSpan remote(const std::string& base, int64_t started) {
    return {base, started, false};
}
GenerationSpan here(const std::string& base, int64_t started) {
    return {base, started, true};
}
} // namespace

TEST(TimelineWindow, NothingWithoutALaterGeneration) {
    EXPECT_TRUE(generations_past_window({}, 100 * kHour).empty());
    EXPECT_TRUE(generations_past_window({remote("a", 0)}, 100 * kHour).empty());
}

TEST(TimelineWindow, AGenerationGoesOnceTheNextStartedBeforeTheCutoff) {
    const std::vector<GenerationSpan> spans{remote("a", 0), remote("b", 10 * kHour), remote("c", 20 * kHour)};
    // Cutoff before b started: a still has instants inside the window.
    EXPECT_TRUE(generations_past_window(spans, 9 * kHour).empty());
    EXPECT_EQ(generations_past_window(spans, 10 * kHour), (std::set<std::string>{"a"}));
    EXPECT_EQ(generations_past_window(spans, 25 * kHour), (std::set<std::string>{"a", "b"}));
}

TEST(TimelineWindow, TheNewestGenerationIsNeverPastTheWindow) {
    const std::vector<GenerationSpan> spans{remote("a", 0), remote("b", kHour)};
    EXPECT_EQ(generations_past_window(spans, 1000 * kHour), (std::set<std::string>{"a"}));
}

TEST(TimelineWindow, AGenerationStillLocalIsKept) {
    const std::vector<GenerationSpan> spans{here("a", 0), remote("b", kHour), here("c", 2 * kHour)};
    EXPECT_EQ(generations_past_window(spans, 1000 * kHour), (std::set<std::string>{"b"}));
}

TEST(TimelineWindow, SpansOfOneBaseAreOneGenerationInAnyOrder) {
    // The same generation seen off-site (a later file) and here (its first file).
    const std::vector<GenerationSpan> spans{remote("b", 12 * kHour), remote("a", 0), remote("b", 10 * kHour),
                                            here("a", 0)};
    EXPECT_TRUE(generations_past_window(spans, 1000 * kHour).empty()); // a is local; b is the newest
    const std::vector<GenerationSpan> off{remote("a", 5), remote("a", 0), remote("b", 10 * kHour),
                                          remote("b", 11 * kHour)};
    EXPECT_EQ(generations_past_window(off, 10 * kHour), (std::set<std::string>{"a"}));
}
