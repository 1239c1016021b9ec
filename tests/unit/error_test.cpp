// wb::Error's texts: a system error is always described in words, never left
// as a bare number at the end of a message.
#include <gtest/gtest.h>

#include <cctype>
#include <cerrno>

#include "common/error.hpp"

using namespace wb;

TEST(ErrnoText, a_known_errno_is_its_description) {
    EXPECT_EQ(errno_text(ENOENT), "No such file or directory");
}

TEST(ErrnoText, an_errno_without_a_description_does_not_end_in_a_bare_number) {
    const std::string text = errno_text(5230);
    EXPECT_NE(text.find("5230"), std::string::npos) << text;
    EXPECT_FALSE(std::isdigit(static_cast<unsigned char>(text.back()))) << text;
    const std::string message = system_error("cannot read 'x'", 5230).what();
    EXPECT_FALSE(std::isdigit(static_cast<unsigned char>(message.back()))) << message;
}
