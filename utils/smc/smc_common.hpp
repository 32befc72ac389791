// SPDX-License-Identifier: GPL-2.0
//
// SMC facts the tools share, all without a kernel: the AF_SMC constants, socket states, CLC
// decline (fallback) reasons, user EIDs, and small formatting helpers.
#ifndef DIBS_SMC_SMC_COMMON_HPP
#define DIBS_SMC_SMC_COMMON_HPP

#include <array>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dibs::smc {

inline constexpr int af_smc = 43;       ///< AF_SMC / PF_SMC
inline constexpr int smcproto_smc = 0;  ///< SMCPROTO_SMC: AF_SMC over IPv4
inline constexpr int smcproto_smc6 = 1; ///< SMCPROTO_SMC6: AF_SMC over IPv6

/// The hint for errors when a kernel interface of smc is missing.
inline constexpr std::string_view smc_module_hint = "is the smc module loaded? (modprobe smc)";

// ---- socket states (enum smc_state, net/smc/smc.h) -----------------------------------------

inline constexpr std::uint8_t smc_state_active = 1;
inline constexpr std::uint8_t smc_state_init = 2;
inline constexpr std::uint8_t smc_state_closed = 7;
inline constexpr std::uint8_t smc_state_listen = 10;

/// "ACTIVE", "LISTEN", "PEERCLOSEWAIT1", ...; an unknown state as "0x1f?".
[[nodiscard]] std::string smc_state_name(std::uint8_t state);

// ---- fallback reasons (SMC_CLC_DECL_*, net/smc/smc_clc.h) ------------------------------------

struct fallback_reason {
    std::uint32_t code;
    std::string_view name; ///< the kernel's macro without SMC_CLC_DECL_, e.g. "NOSMCDEV"
    std::string_view text; ///< e.g. "no SMC device found"
};

/// Every CLC decline code of Linux 6.1, in ascending order.
[[nodiscard]] std::span<const fallback_reason> fallback_reasons() noexcept;
/// The entry of code, nullopt if unknown.
[[nodiscard]] std::optional<fallback_reason> find_fallback_reason(std::uint32_t code) noexcept;
/// The text of code ("no SMC device found"), "unknown reason" if unknown.
[[nodiscard]] std::string_view fallback_text(std::uint32_t code) noexcept;

// ---- user EIDs -----------------------------------------------------------------------------

inline constexpr std::size_t eid_length = 32; ///< SMC_MAX_EID_LEN

/// The kernel's form of a user EID: name in uppercase, padded with blanks to 32 characters.
/// Throws error::usage unless name has 1..32 characters A-Z, a-z, 0-9, '.' and '-', the first
/// a letter or digit (the rules of smc_clc_ueid_valid()).
[[nodiscard]] std::string normalize_ueid(std::string_view name);
/// The SMC_NLA_EID_TABLE_ENTRY payload: the 32 characters of normalize_ueid() and a NUL.
[[nodiscard]] std::array<char, eid_length + 1> ueid_attribute(std::string_view name);
/// An EID as the kernel reports it, without the blank padding.
[[nodiscard]] std::string trim_eid(std::string_view eid);

// ---- formatting ----------------------------------------------------------------------------

/// value in lowercase hex, zero-padded to width digits.
[[nodiscard]] std::string hex(std::uint64_t value, int width);
/// "0x" + hex(value, width)
[[nodiscard]] std::string hex0x(std::uint64_t value, int width);
/// text or "-" if empty.
[[nodiscard]] std::string or_dash(std::string_view text);

/// rows (the first is the header) as left-aligned columns two blanks apart, without trailing
/// blanks.
void print_columns(std::ostream& out, std::span<const std::vector<std::string>> rows);

} // namespace dibs::smc

#endif // DIBS_SMC_SMC_COMMON_HPP
