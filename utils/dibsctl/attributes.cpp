// SPDX-License-Identifier: GPL-2.0
#include "attributes.hpp"

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <system_error>

namespace dibs::tools {
namespace {

constexpr bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/// Parses all of text (only digits of base) as an unsigned number no larger than max.
std::optional<std::uint32_t> parse_unsigned(std::string_view text, int base,
                                            std::uint32_t max) noexcept {
    if (text.empty()) {
        return std::nullopt;
    }
    // from_chars also takes a leading '-' for no type we use; reject anything but digits anyway.
    const bool all_digits = std::all_of(text.begin(), text.end(), [base](char c) {
        return base == 16 ? hex_value(c) >= 0 : is_digit(c);
    });
    if (!all_digits) {
        return std::nullopt;
    }
    std::uint32_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
    if (ec != std::errc{} || ptr != text.data() + text.size() || value > max) {
        return std::nullopt;
    }
    return value;
}

} // namespace

std::optional<dibs_gid> parse_gid(std::string_view text) noexcept {
    constexpr std::size_t uuid_length = 36;
    if (text.size() != uuid_length) {
        return std::nullopt;
    }
    dibs_gid gid;
    std::size_t byte = 0;
    for (std::size_t i = 0; i < text.size();) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-') {
                return std::nullopt;
            }
            ++i;
            continue;
        }
        const int hi = hex_value(text[i]);
        const int lo = hex_value(text[i + 1]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        gid.bytes.at(byte++) = static_cast<std::uint8_t>((hi << 4) | lo);
        i += 2;
    }
    return gid;
}

std::string format_gid(const dibs_gid& gid) {
    constexpr std::string_view hex = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (std::size_t i = 0; i < gid.bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out += '-';
        }
        out += hex[gid.bytes.at(i) >> 4U];
        out += hex[gid.bytes.at(i) & 0xfU];
    }
    return out;
}

std::optional<std::uint16_t> parse_fabric_id(std::string_view text) noexcept {
    std::optional<std::uint32_t> value;
    if (text.starts_with("0x") || text.starts_with("0X")) {
        value = parse_unsigned(text.substr(2), 16, 0xffff);
    } else {
        value = parse_unsigned(text, 10, 0xffff);
    }
    if (!value) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(*value);
}

std::string format_fabric_id(std::uint16_t fabric_id) {
    constexpr std::string_view hex = "0123456789abcdef";
    std::string out = "0x";
    for (int shift = 12; shift >= 0; shift -= 4) {
        out += hex[(fabric_id >> static_cast<unsigned>(shift)) & 0xfU];
    }
    return out;
}

std::optional<std::uint32_t> parse_decimal(std::string_view text, std::uint32_t max) noexcept {
    return parse_unsigned(text, 10, max);
}

// ---- device names --------------------------------------------------------------------------

std::optional<std::uint32_t> loopback_index(std::string_view name) noexcept {
    if (!name.starts_with(loopback_prefix)) {
        return std::nullopt;
    }
    const auto digits = name.substr(loopback_prefix.size());
    if (digits.size() > 1 && digits.front() == '0') {
        return std::nullopt; // the kernel prints "%u": dibs_lo01 is not a loopback name
    }
    return parse_decimal(digits);
}

std::string loopback_name(std::uint32_t index) {
    return std::string{loopback_prefix} + std::to_string(index);
}

bool valid_device_name(std::string_view name) noexcept {
    return !name.empty() && name != "." && name != ".." &&
           name.find_first_of(std::string_view{"/\0", 2}) == std::string_view::npos;
}

namespace {

/// The end of the digit run starting at pos.
std::size_t digits_end(std::string_view s, std::size_t pos) noexcept {
    while (pos < s.size() && is_digit(s[pos])) {
        ++pos;
    }
    return pos;
}

/// Compares two digit strings by value: <0, 0, >0.
int compare_numbers(std::string_view a, std::string_view b) noexcept {
    const auto strip = [](std::string_view s) {
        const auto first = s.find_first_not_of('0');
        return first == std::string_view::npos ? std::string_view{} : s.substr(first);
    };
    a = strip(a);
    b = strip(b);
    if (a.size() != b.size()) {
        return a.size() < b.size() ? -1 : 1;
    }
    return a.compare(b);
}

} // namespace

bool natural_less(std::string_view a, std::string_view b) noexcept {
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < a.size() && j < b.size()) {
        if (is_digit(a[i]) && is_digit(b[j])) {
            const auto ea = digits_end(a, i);
            const auto eb = digits_end(b, j);
            if (const int cmp = compare_numbers(a.substr(i, ea - i), b.substr(j, eb - j));
                cmp != 0) {
                return cmp < 0;
            }
            i = ea;
            j = eb;
        } else if (a[i] != b[j]) {
            return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
        } else {
            ++i;
            ++j;
        }
    }
    if ((i < a.size()) != (j < b.size())) {
        return j < b.size(); // a ran out first
    }
    return a < b; // equal as numbers ("lo01" vs "lo1"): keep a strict total order
}

} // namespace dibs::tools
