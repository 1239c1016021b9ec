// The JSON writer (see json.hpp).
#include "policy/json.hpp"

#include <cstdio>

namespace wb {

std::string json_string(const std::string& value) {
    std::string out = "\"";
    for (unsigned char c : value) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    return out + "\"";
}

void JsonObject::key(const std::string& k) {
    if (!body_.empty()) body_ += ",";
    body_ += json_string(k) + ":";
}

JsonObject& JsonObject::text(const std::string& k, const std::string& value) {
    key(k);
    body_ += json_string(value);
    return *this;
}

JsonObject& JsonObject::text_or_null(const std::string& k, const std::optional<std::string>& value) {
    key(k);
    body_ += value ? json_string(*value) : "null";
    return *this;
}

JsonObject& JsonObject::integer(const std::string& k, int64_t value) {
    key(k);
    body_ += std::to_string(value);
    return *this;
}

JsonObject& JsonObject::boolean(const std::string& k, bool value) {
    key(k);
    body_ += value ? "true" : "false";
    return *this;
}

JsonObject& JsonObject::raw(const std::string& k, const std::string& json) {
    key(k);
    body_ += json;
    return *this;
}

JsonObject& JsonObject::strings(const std::string& k, const std::vector<std::string>& values) {
    key(k);
    body_ += "[";
    for (size_t i = 0; i < values.size(); ++i)
        body_ += (i ? "," : "") + json_string(values[i]);
    body_ += "]";
    return *this;
}

} // namespace wb
