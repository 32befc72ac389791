// SPDX-License-Identifier: GPL-2.0
//
// smc_run as a library: the command line, the buffer sizes, where libsmc-preload.so is and the
// environment that hands the settings to it. The preload library itself is preload.cpp.
#ifndef DIBS_SMC_SMC_RUN_HPP
#define DIBS_SMC_SMC_RUN_HPP

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dibs::smc::run {

/// The preload library's file name, looked for next to the smc_run executable.
inline constexpr std::string_view preload_name = "libsmc-preload.so";
/// The environment variable with another path of the preload library.
inline constexpr std::string_view preload_env = "SMC_RUN_PRELOAD";
/// The settings the preload library reads (as smc-tools' library does).
inline constexpr std::string_view debug_env = "SMC_DEBUG";
inline constexpr std::string_view rcvbuf_env = "SMC_RCVBUF";
inline constexpr std::string_view sndbuf_env = "SMC_SNDBUF";

/// Exit statuses of smc_run itself (otherwise it becomes the command).
inline constexpr int exit_cannot_execute = 126;
inline constexpr int exit_not_found = 127;

struct settings {
    bool help = false;
    bool version = false;
    bool debug = false;
    std::optional<std::uint32_t> rcvbuf; ///< bytes
    std::optional<std::uint32_t> sndbuf;
    std::vector<std::string_view> command; ///< the command and its arguments
};

/// Parses "[-d] [-r SIZE] [-t SIZE] [--] COMMAND [ARG...]"; options end at COMMAND. Throws
/// error::usage for an unknown option, a bad size, or a missing command.
[[nodiscard]] settings parse_args(std::span<const std::string_view> args);

/// "65536", "64K", "64k", "1M": bytes, 1 .. 2^31-1; nullopt otherwise.
[[nodiscard]] std::optional<std::uint32_t> parse_size(std::string_view text) noexcept;

/// The preload library: override if set and non-empty, else preload_name in exe's directory.
[[nodiscard]] std::filesystem::path preload_path(const std::filesystem::path& exe,
                                                 const char* override);

/// LD_PRELOAD with lib in front: "lib" or "lib:existing", without other copies of lib.
/// LD_PRELOAD entries are separated by ':' or blanks.
[[nodiscard]] std::string prepend_preload(std::string_view existing, std::string_view lib);

/// The variables smc_run sets: LD_PRELOAD, SMC_DEBUG (1 or 0), and SMC_RCVBUF / SMC_SNDBUF
/// (decimal bytes) when given.
[[nodiscard]] std::vector<std::pair<std::string, std::string>>
environment(const settings& s, std::string_view lib, const char* ld_preload);

/// Sets up the environment and execvp()s the command; returns an exit status only when that
/// fails (messages "smc_run: ..." on err).
[[nodiscard]] int run(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

[[nodiscard]] std::string_view help_text() noexcept;

} // namespace dibs::smc::run

#endif // DIBS_SMC_SMC_RUN_HPP
