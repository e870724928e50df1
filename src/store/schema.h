// Internal: the schema history. migrations()[i] upgrades a database at schema
// version i to version i + 1; a new database runs them all. Forward-only: a
// published migration is never edited (tests/data/store/v1_schema.sql is the
// frozen copy of version 1 that the migration tests check against).
#pragma once

#include <span>
#include <string_view>

namespace webpush::store::detail {

[[nodiscard]] std::span<const std::string_view> migrations() noexcept;

}  // namespace webpush::store::detail
