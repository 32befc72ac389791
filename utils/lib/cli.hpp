// SPDX-License-Identifier: GPL-2.0
//
// Command lines of the dibs tools: CLI11 (Debian's libcli11-dev) does the parsing; this maps its
// errors onto the tools' error type and takes std::string_view arguments, so that every tool's
// logic runs in-process in the unit tests. Help is each tool's own man-page text: build apps with
// make_app(), which removes CLI11's --help so that the tool defines and prints its own.
#ifndef DIBS_TOOLS_CLI_HPP
#define DIBS_TOOLS_CLI_HPP

#include "error.hpp"

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

namespace dibs::tools {

/// A CLI11 app named name, without CLI11's own help flag and rejecting unknown options.
[[nodiscard]] std::unique_ptr<CLI::App> make_app(std::string_view name);

/// Adds a flag (names as in CLI11, e.g. "-j,--json") that sets value, takes no value
/// ("--json=yes" is an error) and may be given only once.
CLI::Option* add_switch(CLI::App& app, const std::string& names, bool& value,
                        const std::string& description = {});

/// Parses args (without the program name) into app. A CLI11 parse error becomes
/// error::usage("<context>: <CLI11's message>") ("<message>" for an empty context); unexpected
/// arguments are listed in the order given.
void parse(CLI::App& app, std::span<const std::string_view> args, std::string_view context = {});

/// argv[1..] as string_views.
[[nodiscard]] std::vector<std::string_view> arguments(int argc, char** argv);

} // namespace dibs::tools

#endif // DIBS_TOOLS_CLI_HPP
