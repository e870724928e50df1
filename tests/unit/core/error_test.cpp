#include "webpush/core/error.h"

#include <gtest/gtest.h>

#include <sstream>

#include "webpush/core/errc.h"

namespace webpush {
namespace core_error_test {

Result<int> half(int v) {
  if (v % 2 != 0) return fail(core::Errc::bad_url, "odd value " + std::to_string(v));
  return v / 2;
}

TEST(Error, CarriesDomainCodeAndMessage) {
  const Error e(core::Errc::bad_base64, "base64url: invalid character '+' at offset 3");
  EXPECT_EQ(e.domain(), Domain::core);
  EXPECT_EQ(e.code_name(), "bad_base64");
  EXPECT_TRUE(e.is(core::Errc::bad_base64));
  EXPECT_FALSE(e.is(core::Errc::bad_url));
  EXPECT_EQ(e.to_string(), "core.bad_base64: base64url: invalid character '+' at offset 3");
  std::ostringstream os;
  os << e;
  EXPECT_EQ(os.str(), e.to_string());
}

TEST(Error, WithContextKeepsCode) {
  const Error e = Error(core::Errc::bad_url, "no host").with_context("server");
  EXPECT_TRUE(e == core::Errc::bad_url);
  EXPECT_EQ(e.message(), "server: no host");
}

TEST(Result, HoldsValueOrError) {
  EXPECT_EQ(half(4).value(), 2);
  auto r = half(3);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), core::Errc::bad_url);
  EXPECT_EQ(r.error().message(), "odd value 3");
}

}  // namespace core_error_test
}  // namespace webpush
