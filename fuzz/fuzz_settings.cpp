// Settings: set_setting / get_setting / resolve_settings.
// Input: lines "key=value"; the key may be anything (index digit picks a real key).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/error.hpp"
#include "policy/naming.hpp"
#include "policy/settings.hpp"

using namespace wb;

namespace {
void check(bool ok) {
    if (!ok) std::abort();
}
std::string dump(const Settings& s) {
    std::string out;
    for (const auto& k : setting_keys())
        out += get_setting(s, k) + '\x01';
    return out;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string all(reinterpret_cast<const char*>(data), size);
    Settings s;
    size_t start = 0;
    while (start < all.size()) {
        size_t nl = all.find('\n', start);
        if (nl == std::string::npos) nl = all.size();
        const std::string line = all.substr(start, nl - start);
        start = nl + 1;
        const size_t eq = line.find('=');
        std::string key = eq == std::string::npos ? line : line.substr(0, eq);
        const std::string value = eq == std::string::npos ? "" : line.substr(eq + 1);
        if (key.size() == 1 && key[0] >= '0' && key[0] <= '9')
            key = setting_keys()[static_cast<size_t>(key[0] - '0') % setting_keys().size()];
        const std::string before = dump(s);
        try {
            set_setting(s, key, value);
        } catch (const Error&) {
            check(dump(s) == before); // a refused value changes nothing
            continue;
        }
        // Accepted: reads back in canonical form, and setting that again changes nothing.
        const std::string canonical = get_setting(s, key);
        const std::string after = dump(s);
        set_setting(s, key, canonical);
        check(dump(s) == after);
    }
    const Settings r = resolve_settings(s, "/srv/app/wecare.db");
    check(!r.dir.empty() && r.dir[0] == '/');
    check(prefix_problem(r.prefix).empty());
    for (bool safety : {false, true}) {
        const std::string name = backup_name(r.prefix, safety, 1795683600, 2);
        const auto parsed = parse_backup_name(r.prefix, name);
        check(parsed && parsed->safety == safety && parsed->sequence == 2);
        check(name_problem(name.data(), name.size()).empty());
    }
    return 0;
}
