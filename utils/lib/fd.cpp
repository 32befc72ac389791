// SPDX-License-Identifier: GPL-2.0
#include "fd.hpp"

#include <cerrno>

#include <unistd.h>

namespace dibs::tools {

unique_fd& unique_fd::operator=(unique_fd&& other) noexcept {
    if (this != &other) {
        close();
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

unique_fd::~unique_fd() {
    close();
}

int unique_fd::close() noexcept {
    if (fd_ < 0) {
        return 0;
    }
    // Linux releases the descriptor even when close() fails: never retry.
    const int rc = ::close(std::exchange(fd_, -1));
    return rc == 0 ? 0 : errno;
}

} // namespace dibs::tools
