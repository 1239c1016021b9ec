// A small JSON writer for the objects the SQL functions return: keys in the
// order they are added, strings escaped (control characters as \u00XX).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wb {

class JsonObject {
  public:
    JsonObject& text(const std::string& key, const std::string& value);
    JsonObject& text_or_null(const std::string& key, const std::optional<std::string>& value);
    JsonObject& integer(const std::string& key, int64_t value);
    JsonObject& boolean(const std::string& key, bool value);
    JsonObject& raw(const std::string& key, const std::string& json);
    JsonObject& strings(const std::string& key, const std::vector<std::string>& values);
    std::string str() const { return "{" + body_ + "}"; }

  private:
    void key(const std::string& k);
    std::string body_;
};

std::string json_string(const std::string& value);

} // namespace wb
