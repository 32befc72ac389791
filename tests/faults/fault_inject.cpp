// SPDX-License-Identifier: GPL-2.0
#include "fault_inject.hpp"

#include "error.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>

#include <fcntl.h>
#include <unistd.h>

namespace dibs::faults {
namespace {

tools::unique_fd open_proc(const char* path) {
    tools::unique_fd fd(::open(path, O_RDWR | O_CLOEXEC)); // NOLINT(*-vararg)
    if (!fd) {
        throw tools::error::system("fault injection", "open", path, errno,
                                   "is this the debug kernel (FAULT_INJECTION)?");
    }
    return fd;
}

void write_number(int fd, unsigned value, const char* what) {
    const std::string text = std::to_string(value);
    if (::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
        throw tools::error::system("fault injection", "write", what, errno);
    }
}

/// FAULT_TRACE=1: one line per call on stderr (what failed, how it ended, how long it took).
void trace(const operation& op, const char* mode, unsigned n, int err, bool injected,
           std::chrono::steady_clock::duration took) {
    static const bool on = std::getenv("FAULT_TRACE") != nullptr; // NOLINT(*-mt-unsafe)
    if (on) {
        std::cerr << op.name << ": " << mode << ' ' << n << (injected ? " injected" : "") << ": "
                  << (err == 0 ? std::string("ok") : errno_name(err)) << " in "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
    }
}

void check_outcome(const operation& op, unsigned n, int err, bool injected,
                   const errno_set& also_allowed) {
    if (err == 0 || (injected && (err == ENOMEM ||
                                  std::ranges::find(also_allowed, err) != also_allowed.end()))) {
        return;
    }
    throw std::runtime_error(op.name + ": " + (injected ? "with allocation " : "without ") +
                             (injected ? std::to_string(n) + " failing" : "a failure") + ": " +
                             errno_name(err) + " (" + std::strerror(err) + ")");
}

} // namespace

fail_nth::fail_nth() : fd_(open_proc("/proc/thread-self/fail-nth")) {}

void fail_nth::arm(unsigned n) {
    write_number(fd_.get(), n, "/proc/thread-self/fail-nth");
}

bool fail_nth::disarm() {
    // Reads 0 once the armed failure was injected, else how many allocations were still to go.
    char buf[16] = {};
    const ssize_t len = ::pread(fd_.get(), buf, sizeof(buf) - 1, 0);
    if (len <= 0) {
        throw tools::error::system("fault injection", "read", "/proc/thread-self/fail-nth", errno);
    }
    const bool injected = std::atoi(buf) == 0; // NOLINT(*-atoi-*)
    write_number(fd_.get(), 0, "/proc/thread-self/fail-nth");
    return injected;
}

make_it_fail::make_it_fail() : fd_(open_proc("/proc/thread-self/make-it-fail")) {}

void make_it_fail::set(bool on) {
    write_number(fd_.get(), on ? 1 : 0, "/proc/thread-self/make-it-fail");
}

sweep_result sweep(const operation& op, const errno_set& also_allowed, unsigned max_calls,
                   bool partial) {
    fail_nth nth;
    sweep_result r;
    for (unsigned n = 1; n <= max_calls; ++n) {
        if (op.prepare) {
            op.prepare();
        }
        const auto start = std::chrono::steady_clock::now();
        nth.arm(n);
        const int err = op.run();
        const bool injected = nth.disarm();
        trace(op, "sweep", n, err, injected, std::chrono::steady_clock::now() - start);
        ++r.calls;
        r.injected += injected ? 1 : 0;
        r.failed += err != 0 ? 1 : 0;
        check_outcome(op, n, err, injected, also_allowed);
        if (err == 0 && op.undo) {
            op.undo();
        }
        if (!injected) {
            return r;
        }
    }
    if (partial) {
        return r;
    }
    throw std::runtime_error(op.name + ": still failing after " + std::to_string(max_calls) +
                             " allocations");
}

sweep_result random_failures(const operation& op, unsigned rounds, const errno_set& also_allowed) {
    make_it_fail fail;
    sweep_result r;
    for (unsigned i = 0; i < rounds; ++i) {
        if (op.prepare) {
            op.prepare();
        }
        const auto start = std::chrono::steady_clock::now();
        fail.set(true);
        const int err = op.run();
        fail.set(false);
        trace(op, "random", i, err, err != 0, std::chrono::steady_clock::now() - start);
        ++r.calls;
        r.failed += err != 0 ? 1 : 0;
        // Whether a failure was injected is not known here: any error must be an allocation's.
        check_outcome(op, i, err, err != 0, also_allowed);
        if (err == 0 && op.undo) {
            op.undo();
        }
    }
    return r;
}

std::string errno_name(int err) {
    const char* name = ::strerrorname_np(err);
    return name != nullptr ? name : "errno " + std::to_string(err);
}

} // namespace dibs::faults
