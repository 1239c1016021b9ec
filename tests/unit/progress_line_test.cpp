// The progress bar's text (policy/progress_line.hpp): it fits every width,
// shows sizes in MiB or GiB, the rate and the time left when known, and drops
// the least useful parts first when the terminal is narrow.
#include <gtest/gtest.h>

#include <string>

#include "policy/progress_line.hpp"

using namespace wb;

namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kGiB = 1024.0 * kMiB;

ProgressState state(const std::string& phase, double done, double total, double rate = 0) {
    ProgressState s;
    s.phase = phase;
    s.done_bytes = done;
    s.total_bytes = total;
    s.bytes_per_second = rate;
    return s;
}

} // namespace

TEST(ProgressLine, WideShowsEverything) {
    EXPECT_EQ(
        progress_line(state("copy", 123.4 * kMiB, 300 * kMiB, 45.6 * kMiB), 200),
        "wecare_backup copy  41% [################........................] 123.4/300.0 MiB  45.6 MiB/s "
        "0:04 left");
}

TEST(ProgressLine, NeverReachesTheLastColumn) {
    const ProgressState states[] = {state("safety backup", 5 * kGiB, 20 * kGiB, 1.5 * kGiB),
                                    state("copy", 0, 0), state("verify", 7538108760576.0, 7538108760576.0, 1),
                                    state("offsite upload", 12 * kMiB, 0, 3 * kMiB),
                                    state("restore", 1, 3 * kGiB, 10)};
    for (const auto& s : states) {
        for (int columns = 0; columns <= 240; ++columns) {
            const std::string line = progress_line(s, columns);
            EXPECT_LE(static_cast<int>(line.size()), std::max(0, columns - 1)) << columns << " " << line;
            if (columns >= 2) EXPECT_FALSE(line.empty());
        }
    }
}

TEST(ProgressLine, NarrowDropsTheNameThenTheBarThenTheRate) {
    const ProgressState s = state("copy", 1.5 * kGiB, 4 * kGiB, 200 * kMiB);
    EXPECT_EQ(progress_line(s, 100),
              "wecare_backup copy  37% [#############........................] 1.50/4.00 GiB "
              "200.0 MiB/s 0:13 left");
    EXPECT_EQ(progress_line(s, 70), "copy  37% [#######..............] 1.50/4.00 GiB 200.0 MiB/s 0:13 left");
    EXPECT_EQ(progress_line(s, 50), "copy  37% 1.50/4.00 GiB 200.0 MiB/s 0:13 left");
    EXPECT_EQ(progress_line(s, 40), "copy  37% 1.50/4.00 GiB 0:13 left");
    EXPECT_EQ(progress_line(s, 20), "copy  37% 0:13 left");
    EXPECT_EQ(progress_line(s, 12), "copy  37%");
    EXPECT_EQ(progress_line(s, 4), "cop");
}

TEST(ProgressLine, DoneIsAsWideAsTotalSoTheBarKeepsItsWidth) {
    const std::string a = progress_line(state("copy", 8 * kMiB, 195.8 * kMiB), 80);
    const std::string b = progress_line(state("copy", 134 * kMiB, 195.8 * kMiB), 80);
    EXPECT_EQ(a.size(), b.size());
    EXPECT_NE(a.find("  8.0/195.8 MiB"), std::string::npos) << a;
}

TEST(ProgressLine, UnknownTotalShowsWhatIsDoneAndTheRate) {
    EXPECT_EQ(progress_line(state("fetch", 12 * kMiB, 0, 3 * kMiB), 80),
              "wecare_backup fetch 12.0 MiB   3.0 MiB/s");
}

TEST(ProgressLine, TimeLeftInHoursOnceLong) {
    const std::string line = progress_line(state("restore", 0, 100 * kGiB, 10 * kMiB), 120);
    EXPECT_NE(line.find(" 2:50:40 left"), std::string::npos) << line;
}
