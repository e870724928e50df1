// Protobuf wire format written and read by hand in tests, without the generated
// code (so that a test of an encoder does not decode with the same library it
// tests): varint, fixed64 and length-delimited fields.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace webpush::fcm::pb_wire {

inline std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

inline void put_varint(std::uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

inline std::string pb_varint(int field, std::uint64_t v) {
  std::string out;
  put_varint(static_cast<std::uint64_t>(field) << 3, out);
  put_varint(v, out);
  return out;
}

inline std::string pb_bytes(int field, std::string_view s) {
  std::string out;
  put_varint((static_cast<std::uint64_t>(field) << 3) | 2, out);
  put_varint(s.size(), out);
  out.append(s);
  return out;
}

inline std::string pb_fixed64(int field, std::uint64_t v) {
  std::string out;
  put_varint((static_cast<std::uint64_t>(field) << 3) | 1, out);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

/// One field of a protobuf body: varints and fixed numbers in `number`, length-delimited ones in `bytes`.
struct Field {
  int field = 0;
  int wire_type = 0;
  std::uint64_t number = 0;
  std::string bytes;
};

inline std::uint64_t get_varint(std::string_view& in) {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) {
      ADD_FAILURE() << "truncated varint";
      return v;
    }
    const auto byte = static_cast<std::uint8_t>(in.front());
    in.remove_prefix(1);
    v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return v;
  }
  ADD_FAILURE() << "varint over 10 bytes";
  return v;
}

inline std::uint64_t get_fixed(std::string_view& in, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n && i < in.size(); ++i) {
    v |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(in[i])) << (8 * i);
  }
  if (in.size() < n) ADD_FAILURE() << "truncated fixed field";
  in.remove_prefix(std::min(n, in.size()));
  return v;
}

/// Every field of a body, in order (a failure on a malformed one).
inline std::vector<Field> walk(std::string_view in) {
  std::vector<Field> out;
  while (!in.empty()) {
    const std::uint64_t key = get_varint(in);
    Field f{.field = static_cast<int>(key >> 3), .wire_type = static_cast<int>(key & 7)};
    if (f.wire_type == 0) {
      f.number = get_varint(in);
    } else if (f.wire_type == 1 || f.wire_type == 5) {
      f.number = get_fixed(in, f.wire_type == 1 ? 8 : 4);
    } else if (f.wire_type == 2) {
      const std::uint64_t size = get_varint(in);
      if (size > in.size()) {
        ADD_FAILURE() << "field " << f.field << " runs past the end";
        return out;
      }
      f.bytes = std::string(in.substr(0, size));
      in.remove_prefix(size);
    } else {
      ADD_FAILURE() << "field " << f.field << ": wire type " << f.wire_type;
      return out;
    }
    out.push_back(f);
  }
  return out;
}

inline std::vector<Field> all(const std::vector<Field>& fields, int number) {
  std::vector<Field> out;
  for (const Field& f : fields) {
    if (f.field == number) out.push_back(f);
  }
  return out;
}

/// The field `number`, if present (a failure if it is there twice).
inline std::optional<Field> find(const std::vector<Field>& fields, int number) {
  const auto found = all(fields, number);
  EXPECT_LE(found.size(), 1u) << "field " << number << " more than once";
  if (found.empty()) return std::nullopt;
  return found.front();
}

/// The one field `number` (a failure if there is not exactly one).
inline Field one(const std::vector<Field>& fields, int number) {
  const auto found = all(fields, number);
  EXPECT_EQ(found.size(), 1u) << "field " << number;
  return found.empty() ? Field{} : found.front();
}

/// The length-delimited values of field `number`.
inline std::vector<std::string> strings(const std::vector<Field>& fields, int number) {
  std::vector<std::string> out;
  for (const Field& f : all(fields, number)) out.push_back(f.bytes);
  return out;
}

/// The length-delimited values of `field` in a body.
inline std::vector<std::string> pb_strings(std::string_view body, int field) { return strings(walk(body), field); }

}  // namespace webpush::fcm::pb_wire
