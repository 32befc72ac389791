// SPDX-License-Identifier: GPL-2.0
//
// The one error type of the dibs tools, their exit statuses, and the report at the top of main().
#ifndef DIBS_TOOLS_ERROR_HPP
#define DIBS_TOOLS_ERROR_HPP

#include <exception>
#include <filesystem>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace dibs::tools {

/// Process exit statuses of the dibs tools.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1; ///< operational error (sysfs, kernel, missing device)
inline constexpr int exit_usage = 2;   ///< bad command line

/// Where a tool writes: its standard output and standard error, string streams in the unit tests.
/// Tools' contexts derive from it.
struct tool_streams {
    tool_streams(std::ostream& out_stream, std::ostream& err_stream) noexcept
        : out(out_stream)
        , err(err_stream) {}

    std::ostream& out;
    std::ostream& err;
};

/// The one exception type of the dibs tools.
///
/// what() is the complete message without the program name, e.g.
/// "add-loopback: cannot write /sys/kernel/dibs_loopback/new_device: Permission denied (errno 13);
/// are you root?". resource() names the file or device concerned (may be empty), errnum() is the
/// errno behind the error (0 if none) and status() the exit status the error maps to.
class error : public std::runtime_error {
public:
    explicit error(const std::string& message, std::string resource = {}, int errnum = 0,
                   int status = exit_failure);

    /// A bad command line (exit status 2); resource() is the command concerned ("" = none).
    [[nodiscard]] static error usage(const std::string& message, std::string command = {});

    /// A failed system call on a file:
    /// "<context>: cannot <verb> <path>: <strerror> (errno <n>)[; <hint>]".
    [[nodiscard]] static error system(std::string_view context, std::string_view verb,
                                      const std::filesystem::path& path, int errnum,
                                      std::string_view hint = {});

    [[nodiscard]] const std::string& resource() const noexcept { return resource_; }
    [[nodiscard]] int errnum() const noexcept { return errnum_; }
    [[nodiscard]] int status() const noexcept { return status_; }

private:
    std::string resource_;
    int errnum_;
    int status_;
};

/// "<strerror> (errno <n>)", thread-safe.
[[nodiscard]] std::string errno_text(int errnum);

/// Quotes a user- or kernel-supplied string for a message: 'text', non-printable bytes as \xNN,
/// cut after 64 bytes.
[[nodiscard]] std::string quote(std::string_view text);

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

} // namespace dibs::tools

#endif // DIBS_TOOLS_ERROR_HPP
