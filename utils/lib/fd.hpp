// SPDX-License-Identifier: GPL-2.0
//
// unique_fd: the owner of a file descriptor.
#ifndef DIBS_TOOLS_FD_HPP
#define DIBS_TOOLS_FD_HPP

#include <utility>

namespace dibs::tools {

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

} // namespace dibs::tools

#endif // DIBS_TOOLS_FD_HPP
