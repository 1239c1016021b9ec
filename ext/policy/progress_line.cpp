// The progress bar's text (see progress_line.hpp).
#include "policy/progress_line.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace wb {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kGiB = 1024.0 * kMiB;
constexpr int kMinBar = 10; // narrower than this, a bar says nothing
constexpr int kMaxBar = 40;

std::string printf_string(const char* format, double value) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, value);
    return buf;
}

// Whether `scale` bytes are shown in GiB (else MiB).
bool in_gib(double scale) {
    return scale >= kGiB;
}

std::string number(double bytes, bool gib) {
    return gib ? printf_string("%.2f", bytes / kGiB) : printf_string("%.1f", bytes / kMiB);
}

std::string duration(double seconds) {
    const long long s = std::lround(std::min(seconds, 99.0 * 3600 + 59 * 60 + 59));
    char buf[32];
    if (s >= 3600)
        std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    else
        std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
    return buf;
}

// The parts of the line, each with its leading space; empty = not shown.
struct Parts {
    std::string name = "wecare_backup ";
    std::string phase;
    std::string percent;
    double fraction = -1; // < 0: no bar
    std::string sizes;
    std::string rate;
    std::string eta;
};

Parts parts_of(const ProgressState& s) {
    Parts p;
    p.phase = s.phase;
    const double done = std::max(0.0, s.done_bytes);
    const bool known = s.total_bytes > 0;
    const double total = known ? std::max(s.total_bytes, done) : 0;
    const bool gib = in_gib(known ? total : done);
    const char* unit = gib ? " GiB" : " MiB";
    if (known) {
        p.fraction = done / total;
        p.percent = printf_string(" %3.0f%%", std::floor(p.fraction * 100));
        // "done" as wide as "total", so that the bar keeps its width as it fills.
        const std::string total_text = number(total, gib);
        std::string done_text = number(done, gib);
        if (done_text.size() < total_text.size())
            done_text.insert(0, total_text.size() - done_text.size(), ' ');
        p.sizes = " " + done_text + "/" + total_text + unit;
    } else {
        p.sizes = " " + number(done, gib) + unit;
    }
    if (s.bytes_per_second > 0) {
        const bool rate_gib = in_gib(s.bytes_per_second);
        std::string rate = number(s.bytes_per_second, rate_gib);
        if (rate.size() < 5) rate.insert(0, 5 - rate.size(), ' ');
        p.rate = " " + rate + (rate_gib ? " GiB/s" : " MiB/s");
        if (known) p.eta = " " + duration((total - done) / s.bytes_per_second) + " left";
    }
    return p;
}

std::string bar(double fraction, int inner) {
    const int filled = static_cast<int>(std::floor(std::clamp(fraction, 0.0, 1.0) * inner));
    return " [" + std::string(static_cast<size_t>(filled), '#') +
           std::string(static_cast<size_t>(inner - filled), '.') + "]";
}

} // namespace

std::string progress_line(const ProgressState& state, int columns) {
    const int room = columns - 1;
    if (room < 1) return "";
    Parts p = parts_of(state);
    // Dropped one after the other until the line fits.
    std::vector<std::string*> droppable = {&p.name,   nullptr /* the bar */, &p.rate, &p.sizes, &p.eta,
                                           &p.percent};
    bool with_bar = p.fraction >= 0;
    for (size_t dropped = 0;; ++dropped) {
        const std::string text_only = p.name + p.phase + p.percent;
        const std::string tail = p.sizes + p.rate + p.eta;
        const int used = static_cast<int>(text_only.size() + tail.size());
        if (with_bar) {
            const int inner = std::min(kMaxBar, room - used - 3);
            if (inner >= kMinBar) return text_only + bar(p.fraction, inner) + tail;
        } else if (used <= room) {
            return text_only + tail;
        }
        if (dropped == droppable.size()) break;
        if (droppable[dropped])
            droppable[dropped]->clear();
        else
            with_bar = false;
    }
    return p.phase.substr(0, static_cast<size_t>(room));
}

} // namespace wb
