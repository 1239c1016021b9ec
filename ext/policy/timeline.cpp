// The timeline (see timeline.hpp).
#include "policy/timeline.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

#include "common/error.hpp"
#include "policy/naming.hpp"

namespace wb {

namespace {

constexpr int64_t kNs = 1000000000;

int64_t floor_div(int64_t a, int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

// The ranges of one generation (split at files with a reason) and the gap
// before each part after the first.
void add_generation(const TimelineGeneration& g, size_t index, std::vector<TimelineRow>& rows) {
    TimelineRow range;
    range.kind = "range";
    range.base = g.base;
    range.generation = index;
    range.from_ns = g.started_ns;
    range.to_ns = g.started_ns;
    auto close = [&](size_t end) {
        range.end_point = end;
        if (end > range.first_point) range.to_ns = std::max(range.from_ns, g.points[end - 1].captured_ns);
        rows.push_back(range);
    };
    for (size_t f = 0; f < g.files.size(); ++f) {
        const TimelineFile& file = g.files[f];
        if (f > 0 && !file.reason.empty()) {
            close(file.first_point);
            TimelineRow gap;
            gap.kind = "gap";
            gap.from_ns = rows.back().to_ns;
            gap.to_ns = std::max(gap.from_ns, file.created_ns);
            gap.gap_reason = file.reason;
            rows.push_back(gap);
            range.from_ns = gap.to_ns;
            range.to_ns = gap.to_ns;
            range.first_point = file.first_point;
            range.segments = 0;
            range.bytes = 0;
        }
        range.segments += 1;
        range.bytes += file.bytes;
    }
    close(g.points.size());
}

std::string when(int64_t ns) {
    return format_time_ns(ns);
}

} // namespace

std::vector<TimelineRow> timeline_rows(const std::vector<TimelineGeneration>& generations) {
    std::vector<TimelineRow> rows;
    for (size_t i = 0; i < generations.size(); ++i) {
        const TimelineGeneration& g = generations[i];
        const std::string reason = g.files.empty() ? "" : g.files.front().reason;
        if (i > 0 && !reason.empty()) {
            TimelineRow gap;
            gap.kind = "gap";
            gap.from_ns = rows.back().to_ns;
            gap.to_ns = std::max(gap.from_ns, g.started_ns);
            gap.gap_reason = reason;
            rows.push_back(gap);
        }
        add_generation(g, i, rows);
    }
    return rows;
}

RestoreTarget resolve_time(const std::vector<TimelineGeneration>& generations, int64_t at_ns) {
    // Times are listed and taken to the microsecond (format_time_ns,
    // parse_time_ns), and stamps are nanoseconds: everything is compared at
    // the microsecond, so a listed time names the state at what it lists (a
    // point captured within that microsecond included).
    const auto us = [](int64_t ns) { return ns == kLatest ? kLatest : floor_div(ns, 1000); };
    const int64_t at = us(at_ns);
    const auto rows = timeline_rows(generations);
    const TimelineRow* last_range = nullptr;
    for (const auto& row : rows)
        if (row.kind == "range") last_range = &row;
    if (!last_range)
        throw Error("there is no restore point: continuous capture has not captured anything yet");
    auto target_of = [&](const TimelineRow& range, int64_t t) {
        RestoreTarget target;
        target.generation = range.generation;
        const auto& points = generations[range.generation].points;
        target.points = range.first_point; // everything before the range is needed too
        target.reached_ns = range.from_ns;
        for (size_t p = range.first_point; p < range.end_point && us(points[p].captured_ns) <= t; ++p) {
            target.points = p + 1;
            target.reached_ns = std::max(range.from_ns, points[p].captured_ns);
        }
        return target;
    };
    if (at == kLatest) return target_of(*last_range, kLatest);
    const TimelineRow* previous_range = nullptr;
    bool gap_since = false;
    std::string gap_reason;
    for (const auto& row : rows) {
        if (row.kind == "gap") {
            gap_since = true;
            gap_reason = row.gap_reason;
            continue;
        }
        if (at < us(row.from_ns)) {
            if (!previous_range)
                throw Error("'" + when(at_ns) + "' is before the oldest restore point (" + when(row.from_ns) +
                            "); choose a time from " + when(row.from_ns) + " on");
            if (gap_since)
                throw Error("'" + when(at_ns) + "' is in a gap of the timeline (" + gap_reason +
                            "): nothing can be restored between " + when(previous_range->to_ns) + " and " +
                            when(row.from_ns) + "; choose one of those, or a time outside the gap");
            return target_of(*previous_range, at); // unchanged since its last point
        }
        if (at <= us(row.to_ns)) return target_of(row, at);
        previous_range = &row;
        gap_since = false;
    }
    throw Error("'" + when(at_ns) + "' is after the newest restore point (" + when(last_range->to_ns) +
                "); choose a time up to " + when(last_range->to_ns) + ", or 'latest'");
}

std::vector<size_t> generations_to_prune(const std::vector<TimelineGeneration>& generations, uint64_t current,
                                         int64_t cutoff_ns) {
    std::vector<size_t> out;
    for (size_t i = 0; i + 1 < generations.size(); ++i)
        if (generations[i].id != current && generations[i + 1].started_ns <= cutoff_ns) out.push_back(i);
    return out;
}

std::set<std::string> generations_past_window(const std::vector<GenerationSpan>& spans, int64_t cutoff_ns) {
    std::map<std::string, GenerationSpan> by_base;
    for (const auto& span : spans) {
        auto [it, inserted] = by_base.emplace(span.base, span);
        if (inserted) continue;
        it->second.started_ns = std::min(it->second.started_ns, span.started_ns);
        it->second.local = it->second.local || span.local;
    }
    std::vector<GenerationSpan> ordered;
    ordered.reserve(by_base.size());
    for (auto& [base, span] : by_base)
        ordered.push_back(std::move(span));
    std::stable_sort(ordered.begin(), ordered.end(), [](const GenerationSpan& a, const GenerationSpan& b) {
        return a.started_ns < b.started_ns;
    });
    std::set<std::string> past;
    for (size_t i = 0; i + 1 < ordered.size(); ++i)
        if (!ordered[i].local && ordered[i + 1].started_ns <= cutoff_ns) past.insert(ordered[i].base);
    return past;
}

std::optional<int64_t> parse_time_ns(std::string_view text) {
    if (text == "latest") return kLatest;
    auto digits = [&](size_t at, size_t n, int& out) {
        if (at + n > text.size()) return false;
        int v = 0;
        for (size_t i = at; i < at + n; ++i) {
            if (text[i] < '0' || text[i] > '9') return false;
            v = v * 10 + (text[i] - '0');
        }
        out = v;
        return true;
    };
    int y, mon, d, h, mi, s;
    if (text.size() < 19 || !digits(0, 4, y) || text[4] != '-' || !digits(5, 2, mon) || text[7] != '-' ||
        !digits(8, 2, d) || (text[10] != 'T' && text[10] != ' ') || !digits(11, 2, h) || text[13] != ':' ||
        !digits(14, 2, mi) || text[16] != ':' || !digits(17, 2, s))
        return std::nullopt;
    const bool iso = text[10] == 'T';
    size_t at = 19;
    int64_t fraction = 0;
    if (at < text.size() && text[at] == '.') {
        ++at;
        size_t n = 0;
        while (at + n < text.size() && text[at + n] >= '0' && text[at + n] <= '9')
            ++n;
        if (n == 0 || n > 6) return std::nullopt;
        for (size_t i = 0; i < 9; ++i)
            fraction = fraction * 10 + (i < n ? text[at + i] - '0' : 0);
        at += n;
    }
    if (iso) {
        if (at + 1 != text.size() || text[at] != 'Z') return std::nullopt;
    } else if (at != text.size()) {
        return std::nullopt;
    }
    if (mon < 1 || mon > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return std::nullopt;
    if (y < 1970 || y > 2261) return std::nullopt; // nanoseconds since 1970 in 64 bits
    const int64_t days = days_from_civil(y, static_cast<unsigned>(mon), static_cast<unsigned>(d));
    int cy, cmon, cd, ch, cmi, cs;
    civil_from_seconds(days * 86400, cy, cmon, cd, ch, cmi, cs);
    if (cy != y || cmon != mon || cd != d) return std::nullopt;
    return (days * 86400 + int64_t{h} * 3600 + int64_t{mi} * 60 + s) * kNs + fraction;
}

std::string format_time_ns(int64_t ns) {
    if (ns == kLatest) return "latest";
    const int64_t seconds = floor_div(ns, kNs);
    const int64_t micros = (ns - seconds * kNs) / 1000;
    int y, mon, d, h, mi, s;
    civil_from_seconds(seconds, y, mon, d, h, mi, s);
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", y, mon, d, h, mi, s,
                  static_cast<long long>(micros));
    return buf;
}

} // namespace wb
