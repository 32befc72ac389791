// SPDX-License-Identifier: GPL-2.0
//
// Command-line parsing shared by the SMC tools (smcss, smcd, smc_run): getopt_long-like option
// parsing over std::string_view arguments, so that the tools' logic runs in-process in the unit
// tests.
#ifndef DIBS_SMC_CLI_HPP
#define DIBS_SMC_CLI_HPP

#include "error.hpp"
#include "fd.hpp"
#include "sysfs.hpp"

#include <exception>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dibs::smc {

using tools::error;
using tools::exit_failure;
using tools::exit_ok;
using tools::exit_usage;

/// One option: "-x" and "--long-name"; with takes_value "-x V", "-xV", "--long-name V" and
/// "--long-name=V" are accepted.
struct option_def {
    char short_name; ///< 0 for a long-only option
    std::string_view long_name;
    bool takes_value = false;
};

struct parsed_options {
    std::vector<std::pair<std::string_view, std::string_view>> values; ///< long name, value
    std::vector<std::string_view> operands;

    [[nodiscard]] bool has(std::string_view name) const noexcept;
    [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const noexcept;
};

/// Parses args (without the program name). Short flags may be bundled ("-al"); "--" ends the
/// options. With stop_at_operand the first operand ends them too (for "smc_run -d CMD -x"),
/// otherwise options and operands may be mixed. An option given twice, an unknown option or a
/// missing value is an error::usage "<context>: ..." (just "..." for an empty context).
[[nodiscard]] parsed_options parse_options(std::string_view context,
                                           std::span<const std::string_view> args,
                                           std::span<const option_def> defs,
                                           bool stop_at_operand = false);

/// Runs body() and returns its exit status. An exception is reported as "<tool>: <message>" on
/// err (after flushing out), with "Try '<tool> --help'." for a usage error; the status is then
/// the error's, or exit_failure for any other exception.
template <typename Body>
[[nodiscard]] int report_errors(std::string_view tool, std::ostream& out, std::ostream& err,
                                Body&& body) {
    try {
        return body();
    } catch (const error& e) {
        out.flush();
        err << tool << ": " << e.what() << '\n';
        if (e.status() == exit_usage) {
            err << "Try '" << tool << " --help'.\n";
        }
        return e.status();
    } catch (const std::exception& e) {
        out.flush();
        err << tool << ": " << e.what() << '\n';
        return exit_failure;
    }
}

/// argv[1..] as string_views.
[[nodiscard]] std::vector<std::string_view> arguments(int argc, char** argv);

} // namespace dibs::smc

#endif // DIBS_SMC_CLI_HPP
