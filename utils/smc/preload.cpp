// SPDX-License-Identifier: GPL-2.0
//
// libsmc-preload.so: loaded with LD_PRELOAD (by smc_run), it replaces socket(2) so that TCP
// sockets are created as AF_SMC sockets; the kernel's smc module then negotiates SMC or falls back
// to TCP per connection. If AF_SMC cannot be created at all, the original socket is created.
//
// Settings come from the environment, read once: SMC_DEBUG (not starting with '0': log to
// stderr), SMC_RCVBUF / SMC_SNDBUF (bytes: SO_RCVBUF / SO_SNDBUF of each converted socket).
//
// This code runs inside arbitrary programs, behind a C ABI: no exceptions (built with
// -fno-exceptions), no allocation, no C++ runtime (no libstdc++ dependency), errno preserved
// for the caller.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

constexpr int af_smc = 43;          // AF_SMC
constexpr int smcproto_smc = 0;     // SMCPROTO_SMC: IPv4
constexpr int smcproto_smc6 = 1;    // SMCPROTO_SMC6: IPv6
constexpr int sock_type_mask = 0xf; // SOCK_TYPE_MASK (include/linux/net.h): without the flags

using socket_fn = int (*)(int, int, int);

std::atomic<socket_fn> real_socket{nullptr};

int env_int(const char* name) noexcept {
    const char* value = std::getenv(name); // NOLINT(*-mt-unsafe)
    if (value == nullptr) {
        return 0;
    }
    const long v = std::strtol(value, nullptr, 10);
    return v > 0 && v <= 0x7fffffff ? static_cast<int>(v) : 0;
}

/// A setting from the environment, read on first use: racing threads read the same value, so
/// no lock (and no C++ runtime) is needed.
class setting {
public:
    using reader = int (*)() noexcept;
    explicit constexpr setting(reader read) noexcept : read_(read) {}

    int get() noexcept {
        int v = value_.load(std::memory_order_relaxed);
        if (v < 0) {
            v = read_();
            value_.store(v, std::memory_order_relaxed);
        }
        return v;
    }

private:
    reader read_;
    std::atomic<int> value_{-1};
};

constinit setting debug{[]() noexcept {
    const char* v = std::getenv("SMC_DEBUG"); // NOLINT(*-mt-unsafe)
    return v != nullptr && *v != '\0' && *v != '0' ? 1 : 0;
}};
constinit setting rcvbuf{[]() noexcept { return env_int("SMC_RCVBUF"); }};
constinit setting sndbuf{[]() noexcept { return env_int("SMC_SNDBUF"); }};

/// One line to stderr with a single write(); "smc_run[pid]: " in front.
__attribute__((format(printf, 1, 2))) void debug_log(const char* fmt, ...) noexcept {
    char buf[256];
    int n = std::snprintf(buf, sizeof(buf), "smc_run[%d]: ", static_cast<int>(::getpid()));
    std::va_list ap;
    va_start(ap, fmt);
    const int m = std::vsnprintf(buf + n, sizeof(buf) - static_cast<std::size_t>(n) - 1, fmt, ap);
    va_end(ap);
    n = m < 0 ? n : std::min(n + m, static_cast<int>(sizeof(buf)) - 2);
    buf[n++] = '\n';
    (void)!::write(STDERR_FILENO, buf, static_cast<std::size_t>(n));
}

/// "EAFNOSUPPORT"; glibc returns NULL for an unknown errno.
const char* errno_name(int e) noexcept {
    const char* name = strerrorname_np(e);
    return name != nullptr ? name : "unknown errno";
}

const char* errno_text(int e) noexcept {
    const char* text = strerrordesc_np(e);
    return text != nullptr ? text : "unknown error";
}

const char* family_name(int domain) noexcept {
    return domain == AF_INET6 ? "AF_INET6" : "AF_INET";
}

socket_fn resolve() noexcept {
    socket_fn fn = real_socket.load(std::memory_order_acquire);
    if (fn == nullptr) {
        // The cast of dlsym's void* to a function pointer is what POSIX requires to work.
        fn = reinterpret_cast<socket_fn>(::dlsym(RTLD_NEXT, "socket"));
        real_socket.store(fn, std::memory_order_release);
    }
    return fn;
}

void set_buffer(int fd, int option, int size, const char* name) noexcept {
    if (size > 0 && ::setsockopt(fd, SOL_SOCKET, option, &size, sizeof(size)) != 0 &&
        debug.get() != 0) {
        debug_log("setsockopt(fd %d, %s, %d) failed: %s", fd, name, size, errno_name(errno));
    }
}

bool eligible(int domain, int type, int protocol) noexcept {
    return (domain == AF_INET || domain == AF_INET6) && (type & sock_type_mask) == SOCK_STREAM &&
           (protocol == 0 || protocol == IPPROTO_TCP);
}

} // namespace

extern "C" __attribute__((visibility("default"))) int socket(int domain, int type,
                                                             int protocol) noexcept {
    const socket_fn real = resolve();
    if (real == nullptr) {
        errno = ENOSYS;
        return -1;
    }
    if (!eligible(domain, type, protocol)) {
        return real(domain, type, protocol);
    }
    const bool dbg = debug.get() != 0;
    const int saved_errno = errno;
    int fd = real(af_smc, type, domain == AF_INET6 ? smcproto_smc6 : smcproto_smc);
    if (fd >= 0) {
        if (dbg) {
            debug_log("socket(%s, SOCK_STREAM) -> AF_SMC fd %d", family_name(domain), fd);
        }
    } else {
        const int smc_errno = errno;
        errno = saved_errno;
        fd = real(domain, type, protocol);
        const int fallback_errno = errno;
        if (dbg) {
            debug_log("socket(AF_SMC) failed: %s (%s); falling back to %s fd %d",
                      errno_text(smc_errno), errno_name(smc_errno), family_name(domain), fd);
        }
        errno = fallback_errno;
        if (fd < 0) {
            return fd;
        }
    }
    const int keep_errno = errno;
    set_buffer(fd, SO_RCVBUF, rcvbuf.get(), "SO_RCVBUF");
    set_buffer(fd, SO_SNDBUF, sndbuf.get(), "SO_SNDBUF");
    errno = keep_errno;
    return fd;
}
