// SPDX-License-Identifier: GPL-2.0
//
// SMC facts the tools share, all without a kernel: the AF_SMC constants, socket states, CLC
// decline (fallback) reasons, user EIDs, and small formatting helpers.
#ifndef DIBS_SMC_SMC_COMMON_HPP
#define DIBS_SMC_SMC_COMMON_HPP

#include "error.hpp"

#include <array>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dibs::smc {

using tools::error;
using tools::exit_failure;
using tools::exit_ok;
using tools::exit_usage;
using tools::report_errors;

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

// ---- SMC-D devices -------------------------------------------------------------------------

/// The PCI ids the smc netlink device dump reports of an SMC-D device's parent
/// (SMC_NLA_DEV_PCI_VENDOR / _DEVICE): IBM's ISM, and the pci_dev-shaped parent dibs_smcd gives
/// every dibs device (smcd/dibs_smcd.c: DIBS_SMCD_PCI_*, keep in sync).
inline constexpr std::uint16_t pci_vendor_ibm = 0x1014;
inline constexpr std::uint16_t pci_device_ism = 0x04ed;
inline constexpr std::uint16_t pci_vendor_dibs = 0xffff;
inline constexpr std::uint16_t pci_device_dibs = 0xd1b5;          ///< reaches its fabric
inline constexpr std::uint16_t pci_device_dibs_loopback = 0xd1b0; ///< reaches only itself

/// SMC_NLA_LGR_V2_OS: "ZOS", "LINUX", "AIX", else "Unknown (0x..)", as smc-tools names them.
[[nodiscard]] std::string peer_os_name(unsigned os);

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
/// a letter or digit, and no ".." (the rules of smc_clc_ueid_valid() and smc-tools).
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
