// SPDX-License-Identifier: GPL-2.0
//
// The commands of dibsctl (list, show, add-loopback, del, help) and their dispatcher, which takes
// the arguments and the output streams so that it runs in-process in the unit tests.
#ifndef DIBS_TOOLS_DIBSCTL_COMMANDS_HPP
#define DIBS_TOOLS_DIBSCTL_COMMANDS_HPP

#include "error.hpp"
#include "sysfs.hpp"

#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace dibs::tools {

/// Writes value to a sysfs attribute; returns 0 or an errno (see write_attribute()).
using attribute_writer = std::function<int(const std::filesystem::path&, std::string_view)>;

/// Everything the commands touch, so that tests can replace it.
struct context : tool_streams {
    using tool_streams::tool_streams;

    sysfs_layout sysfs;
    attribute_writer write = write_attribute;
    /// Refuse to write to the loopback control files unless euid is 0. Off when $DIBS_SYSFS_ROOT
    /// points elsewhere; the kernel's own EACCES/EPERM is reported the same way.
    bool check_root = true;
    unsigned euid = 0;
};

/// Runs one command line (without argv[0]). Returns the exit status; throws error on failure.
[[nodiscard]] int dispatch(std::span<const std::string_view> args, context& ctx);

/// dispatch(), reporting an error as "dibsctl: <message>" on ctx.err (plus a hint for usage
/// errors) and returning its exit status.
[[nodiscard]] int run(std::span<const std::string_view> args, context& ctx);

/// The full help text (dibsctl --help).
[[nodiscard]] std::string_view main_help() noexcept;
/// The help text of one command, nullopt for an unknown command.
[[nodiscard]] std::optional<std::string_view> command_help(std::string_view command) noexcept;
/// "dibsctl (dibs-rdma) <version>"
[[nodiscard]] std::string version_text();

} // namespace dibs::tools

#endif // DIBS_TOOLS_DIBSCTL_COMMANDS_HPP
