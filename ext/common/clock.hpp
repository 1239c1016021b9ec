// The wall clock, in UTC seconds and nanoseconds since 1970. The one place
// that reads it, so policy code (which takes times as arguments) stays pure.
#pragma once
#include <chrono>
#include <cstdint>

namespace wb {

inline int64_t now_seconds() {
    using namespace std::chrono;
    return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

inline int64_t now_nanoseconds() {
    using namespace std::chrono;
    return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace wb
