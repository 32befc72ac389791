// SPDX-License-Identifier: GPL-2.0
//
// The values dibsctl reads from and writes to sysfs: GIDs, fabric ids and counters, and the names
// of dibs devices (loopback names, natural order).
#ifndef DIBS_TOOLS_DIBSCTL_ATTRIBUTES_HPP
#define DIBS_TOOLS_DIBSCTL_ATTRIBUTES_HPP

#include <array>
#include <compare>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace dibs::tools {

/// A dibs GID: a uuid, in sysfs as "%pUb" (36 characters, lowercase).
struct dibs_gid {
    std::array<std::uint8_t, 16> bytes{};
    auto operator<=>(const dibs_gid&) const = default;
};

/// Parses "01234567-89ab-cdef-0123-456789abcdef" (either case); nullopt if malformed.
[[nodiscard]] std::optional<dibs_gid> parse_gid(std::string_view text) noexcept;
/// Lowercase 8-4-4-4-12 form, as the kernel prints it.
[[nodiscard]] std::string format_gid(const dibs_gid& gid);

/// The fabric id of a loopback device that reaches only itself (the default).
inline constexpr std::uint16_t private_fabric_id = 0xffff;

/// Parses a fabric id, decimal ("16") or hex with 0x/0X ("0x10"), 0..0xffff; nullopt otherwise.
[[nodiscard]] std::optional<std::uint16_t> parse_fabric_id(std::string_view text) noexcept;
/// "0x%04x", as the kernel prints fabric_id.
[[nodiscard]] std::string format_fabric_id(std::uint16_t fabric_id);

/// Parses a plain decimal number (no sign, no spaces); nullopt if malformed or above max.
[[nodiscard]] std::optional<std::uint32_t>
parse_decimal(std::string_view text,
              std::uint32_t max = std::numeric_limits<std::uint32_t>::max()) noexcept;

// ---- device names --------------------------------------------------------------------------

inline constexpr std::string_view loopback_prefix = "dibs_lo";
/// Highest loopback index dibsctl asks for.
inline constexpr std::uint32_t max_loopback_index = 0x7fffffff;
/// Most devices one add-loopback creates.
inline constexpr std::uint32_t max_loopback_count = 1024;

/// The index N of a loopback device name "dibs_loN" (canonical decimal), else nullopt.
[[nodiscard]] std::optional<std::uint32_t> loopback_index(std::string_view name) noexcept;
[[nodiscard]] std::string loopback_name(std::uint32_t index);

/// A plain device name: not empty, no '/' or NUL, not "." or "..", so that it cannot name a path
/// outside <root>/class/dibs.
[[nodiscard]] bool valid_device_name(std::string_view name) noexcept;

/// Natural order: digit runs compare as numbers, so dibs_lo2 < dibs_lo10.
[[nodiscard]] bool natural_less(std::string_view a, std::string_view b) noexcept;

} // namespace dibs::tools

#endif // DIBS_TOOLS_DIBSCTL_ATTRIBUTES_HPP
