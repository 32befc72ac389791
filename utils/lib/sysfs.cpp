// SPDX-License-Identifier: GPL-2.0
#include "sysfs.hpp"

#include "fd.hpp"

#include <array>
#include <cerrno>

#include <fcntl.h>
#include <unistd.h>

namespace dibs::tools {

std::string read_attribute(const std::filesystem::path& path, std::string_view context) {
    // A sysfs attribute is at most a page; anything much longer is not an attribute.
    constexpr std::size_t max_size = std::size_t{64} * 1024;

    const unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)); // NOLINT(*-vararg)
    if (!fd) {
        throw error::system(context, "read", path, errno);
    }
    std::string content;
    std::array<char, 4096> buf{};
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw error::system(context, "read", path, errno);
        }
        if (n == 0) {
            break;
        }
        content.append(buf.data(), static_cast<std::size_t>(n));
        if (content.size() > max_size) {
            throw error::system(context, "read", path, EFBIG, "not a sysfs attribute");
        }
    }
    if (!content.empty() && content.back() == '\n') {
        content.pop_back();
    }
    return content;
}

int write_attribute(const std::filesystem::path& path, std::string_view value) noexcept {
    // O_TRUNC like a shell redirection: harmless on sysfs, needed for a plain file in a fake tree.
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC)); // NOLINT(*-vararg)
    if (!fd) {
        return errno;
    }
    // A sysfs store handler sees exactly one write(); it returns the length or a negative errno.
    ssize_t n = 0;
    do {
        n = ::write(fd.get(), value.data(), value.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return errno;
    }
    if (static_cast<std::size_t>(n) != value.size()) {
        return EIO;
    }
    return fd.close();
}

sysfs_layout::sysfs_layout(std::filesystem::path root) : root_(std::move(root)) {}

sysfs_layout sysfs_layout::from_env(const char* value) {
    if (value == nullptr || *value == '\0') {
        return sysfs_layout{};
    }
    return sysfs_layout{value};
}

std::filesystem::path sysfs_layout::class_dir() const {
    return root_ / "class" / "dibs";
}

std::filesystem::path sysfs_layout::device_dir(std::string_view name) const {
    return class_dir() / name;
}

std::filesystem::path sysfs_layout::loopback_dir() const {
    return root_ / "kernel" / "dibs_loopback";
}

std::filesystem::path sysfs_layout::new_device() const {
    return loopback_dir() / "new_device";
}

std::filesystem::path sysfs_layout::del_device() const {
    return loopback_dir() / "del_device";
}

} // namespace dibs::tools
