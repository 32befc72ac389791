// SPDX-License-Identifier: GPL-2.0
//
// smcss as a library: SMC sockets from the smc_diag netlink interface (NETLINK_SOCK_DIAG, family
// AF_SMC), parsed into plain structs and printed like smcss of IBM's smc-tools. Parsing, filtering
// and formatting run without a kernel in the unit tests.
#ifndef DIBS_SMC_SMCSS_HPP
#define DIBS_SMC_SMCSS_HPP

#include "error.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <linux/smc_diag.h>

namespace dibs::smc::smcss {

/// One SMC socket (struct smc_diag_msg and its attributes). Addresses, ports and the interface
/// are those of the socket's TCP (CLC) socket.
struct socket_info {
    std::uint8_t state = 0;             ///< enum smc_state
    std::uint8_t mode = 0;              ///< SMC_DIAG_MODE_*
    bool ipv6 = false;                  ///< guessed: smc_diag reports AF_SMC for both
    std::array<std::uint8_t, 16> src{}; ///< network byte order; IPv4 in the first 4 bytes
    std::array<std::uint8_t, 16> dst{};
    std::uint16_t sport = 0; ///< host byte order
    std::uint16_t dport = 0;
    std::uint32_t ifindex = 0;
    std::uint32_t uid = 0;
    std::uint64_t inode = 0;
    std::optional<std::uint8_t> shutdown; ///< SMC_DIAG_SHUTDOWN: bit 0 RCV, bit 1 SEND
    std::optional<smc_diag_fallback> fallback;
    std::optional<smc_diag_conninfo> conn;
    std::optional<smc_diag_lgrinfo> lgr;
    std::optional<smcd_diag_dmbinfo> dmb;
};

/// Parses the payload of one SOCK_DIAG_BY_FAMILY reply; throws error if it is malformed.
[[nodiscard]] socket_info parse_socket(std::span<const std::byte> payload);

/// Every AF_SMC socket of this network namespace, from a smc_diag dump with the SMC_DIAG_* bits
/// in ext (diag_ext); throws error (naming smc_diag) if the dump fails.
[[nodiscard]] std::vector<socket_info> list_sockets(std::uint8_t ext);

/// The socket of that inode (fstat() of an AF_SMC socket), from list_sockets(ext).
[[nodiscard]] std::optional<socket_info> find_socket(std::uint64_t inode, std::uint8_t ext);

/// "127.0.0.1:12345" or "::1:12345", as smc-tools prints them. Without wide an address:port longer
/// than 23 characters is cut and marked "..".
[[nodiscard]] std::string format_address(bool ipv6, std::span<const std::uint8_t, 16> addr,
                                         std::uint16_t port, bool wide);
/// "SMCD", "SMCR", "TCP 0x03030000" or, with the peer's diagnosis, "TCP 0x05000000/0x03030000".
[[nodiscard]] std::string mode_text(const socket_info& sock);

struct options {
    bool all = false;       ///< -a: also listening and INIT sockets
    bool listening = false; ///< -l: only listening sockets
    bool extended = false;  ///< -d (-e): connection details (SMC_DIAG_CONNINFO)
    bool smcd = false;      ///< -D: only SMC-D sockets, with SMC-D details
    bool smcr = false;      ///< -R: only SMC-R sockets, with SMC-R details
    bool wide = false;      ///< -W: do not cut addresses
};

struct command_line {
    bool help = false;    ///< -h, --help
    bool version = false; ///< -v, -V, --version
    options opts;
};
/// Parses smcss's options (those of smc-tools' smcss, plus -e and -V); throws error::usage for
/// an unknown option, an argument, or a combination smc-tools refuses.
[[nodiscard]] command_line parse_args(std::span<const std::string_view> args);

/// Whether sock is listed with opts (smcss's rules).
[[nodiscard]] bool selected(const socket_info& sock, const options& opts) noexcept;
/// The diag_ext bits to request for opts.
[[nodiscard]] std::uint8_t diag_ext(const options& opts) noexcept;

void print_header(std::ostream& out, const options& opts);
void print_socket(std::ostream& out, const socket_info& sock, const options& opts);

struct context : tools::tool_streams {
    using tool_streams::tool_streams;
};

/// Runs one command line (without argv[0]); reports errors as "smcss: <message>" on ctx.err and
/// returns the exit status.
[[nodiscard]] int run(std::span<const std::string_view> args, context& ctx);

[[nodiscard]] std::string_view help_text() noexcept;

} // namespace dibs::smc::smcss

#endif // DIBS_SMC_SMCSS_HPP
