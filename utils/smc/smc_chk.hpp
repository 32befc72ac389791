// SPDX-License-Identifier: GPL-2.0
//
// smc_chk as a library: whether a server is reachable over SMC-D, like smc_chk of IBM's
// smc-tools (-C connect, -S server, -l live test on this host). The verdict comes from smc_diag
// (the mode and fallback reasons smcss shows); parsing and the report run in the unit tests.
#ifndef DIBS_SMC_SMC_CHK_HPP
#define DIBS_SMC_SMC_CHK_HPP

#include "smcss.hpp"

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace dibs::smc::chk {

/// smc-tools' default port.
inline constexpr std::uint16_t default_port = 37373;

/// Exit statuses: 0 the connection used SMC-D; 1 it did not (TCP fallback or SMC-R); 2 usage;
/// 3 no connection at all.
inline constexpr int exit_not_smcd = 1;
inline constexpr int exit_no_connection = 3;

enum class mode { help, version, connect, server, live };

struct settings {
    mode what = mode::help;
    std::string host;                  ///< connect: the server
    std::uint16_t port = default_port; ///< connect: the server's, server: the listening one
    bool ipv6 = false;                 ///< -6
    bool debug = false;                ///< -d
    int timeout_ms = 10000;            ///< -t SECONDS
};

/// Parses "-C HOST [-p PORT]", "HOST PORT", "-S [-p PORT]", "-l" and the common options;
/// throws error::usage for anything else.
[[nodiscard]] settings parse_args(std::span<const std::string_view> args);

/// The report of one connection's SMC mode (smc-tools' wording) and its exit status.
struct verdict {
    int status = exit_no_connection;
    std::string text;
};
[[nodiscard]] verdict judge(const std::optional<smcss::socket_info>& client);

/// Runs one command line (without argv[0]); messages "smc_chk: ..." on err.
[[nodiscard]] int run(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

[[nodiscard]] std::string_view help_text() noexcept;

} // namespace dibs::smc::chk

#endif // DIBS_SMC_SMC_CHK_HPP
