// SPDX-License-Identifier: GPL-2.0
//
// sysfs access for the dibs tools: the error type, reading and writing single attributes, and the
// layout of the dibs sysfs interface (/sys/class/dibs, /sys/kernel/dibs_loopback) under a
// configurable root.
#ifndef DIBS_TOOLS_SYSFS_HPP
#define DIBS_TOOLS_SYSFS_HPP

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace dibs::tools {

/// Process exit statuses of the dibs tools.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1; ///< operational error (sysfs, kernel, missing device)
inline constexpr int exit_usage = 2;   ///< bad command line

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

/// Owns a file descriptor; closes it on destruction.
class unique_fd {
public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& other) noexcept;
    ~unique_fd();

    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] explicit operator bool() const noexcept { return fd_ >= 0; }
    /// Closes the descriptor now; returns 0 or the errno of close().
    int close() noexcept;

private:
    int fd_ = -1;
};

/// Reads a sysfs attribute and strips one trailing newline. Throws error (with the errno of
/// open()/read(); context names the caller, e.g. "list") when the file cannot be read.
[[nodiscard]] std::string read_attribute(const std::filesystem::path& path,
                                         std::string_view context);

/// Writes value to a sysfs attribute in a single write(), as `echo value > path` does.
/// Returns 0 or the errno of open()/write()/close(): for sysfs the store handler's error.
[[nodiscard]] int write_attribute(const std::filesystem::path& path,
                                  std::string_view value) noexcept;

/// Where the dibs interface lives below a sysfs mount point.
class sysfs_layout {
public:
    /// The environment variable that overrides the sysfs root.
    static constexpr std::string_view root_env = "DIBS_SYSFS_ROOT";
    static constexpr std::string_view default_root = "/sys";

    explicit sysfs_layout(std::filesystem::path root = std::string{default_root});

    /// The layout for the value of $DIBS_SYSFS_ROOT (nullptr or empty: /sys).
    [[nodiscard]] static sysfs_layout from_env(const char* value);

    [[nodiscard]] const std::filesystem::path& root() const noexcept { return root_; }
    /// <root>/class/dibs: one entry per dibs device; absent if dibs.ko is not loaded.
    [[nodiscard]] std::filesystem::path class_dir() const;
    /// <root>/class/dibs/<name>
    [[nodiscard]] std::filesystem::path device_dir(std::string_view name) const;
    /// <root>/kernel/dibs_loopback; absent if dibs_loopback.ko is not loaded.
    [[nodiscard]] std::filesystem::path loopback_dir() const;
    [[nodiscard]] std::filesystem::path new_device() const;
    [[nodiscard]] std::filesystem::path del_device() const;

private:
    std::filesystem::path root_;
};

} // namespace dibs::tools

#endif // DIBS_TOOLS_SYSFS_HPP
