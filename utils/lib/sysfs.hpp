// SPDX-License-Identifier: GPL-2.0
//
// sysfs access for the dibs tools: reading and writing single attributes, and the layout of the
// dibs sysfs interface (/sys/class/dibs, /sys/kernel/dibs_loopback) under a configurable root.
#ifndef DIBS_TOOLS_SYSFS_HPP
#define DIBS_TOOLS_SYSFS_HPP

#include "error.hpp"

#include <filesystem>
#include <string>
#include <string_view>

namespace dibs::tools {

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
