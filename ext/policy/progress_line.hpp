// The text of the one-line progress bar drawn on a terminal (command/activity.cpp
// draws it): the phase, percent, a bar, sizes in MiB or GiB, the rate and the
// time left, fitted to the terminal's width. Pure: no terminal, no clock.
//
//   wecare_backup copy  42% [#######.........] 123.4/300.0 MiB 45.6 MiB/s 0:04 left
//
// What does not fit goes, in this order: the "wecare_backup" name, the bar,
// the rate, the sizes, the time left, the percent; the phase is cut last.
#pragma once
#include <cstdint>
#include <string>

namespace wb {

struct ProgressState {
    std::string phase;           // what runs now: "copy", "verify", "safety backup", "restore", ...
    double done_bytes = 0;       // so far in this phase
    double total_bytes = 0;      // 0 = not known (a download of unknown size)
    double bytes_per_second = 0; // 0 = not measured yet
};

// The line, at most `columns - 1` characters (ASCII) so that it never reaches
// the last column, where some terminals wrap; empty when `columns` < 2.
std::string progress_line(const ProgressState& state, int columns);

} // namespace wb
