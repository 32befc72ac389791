// SPDX-License-Identifier: GPL-2.0
//
// smc_sock.hpp - what the SMC-D socket test (tests/smc/smc-sock-test) and the benchmark
// (utils/bench/dibs-smc-bench) share: AF_SMC or TCP sockets over IPv4 with poll() deadlines,
// the SMC mode of a connection (smcss::find_socket(), the smc_diag dump of the tools), and a
// 64-bit stream hash. Header-only; users link smc_test_support.
#pragma once

#include "error.hpp"
#include "fd.hpp"
#include "smcss.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/smc_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef AF_SMC
#define AF_SMC 43
#endif

namespace dibs::smc_test {

// ---------------------------------------------------------------------------------------------
// Errors. The exit status of the tools follows the kind of failure.

enum exit_code : int {
    exit_ok = 0,
    exit_check = 1,   // a check failed: data, hash, length, SMC mode
    exit_usage = 2,   // bad command line
    exit_conn = 3,    // a system call failed: connection reset, broken pipe, refused, ...
    exit_timeout = 4, // no progress within the timeout
};

// A failed check (wrong data, hash or mode).
struct check_failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A failed system call; what() names the call, the socket and errno.
class sys_error : public std::runtime_error {
public:
    sys_error(const std::string& what, int err)
        : std::runtime_error(what + ": " + std::strerror(err) + " (errno " + std::to_string(err) +
                             ")")
        , err_(err) {}
    [[nodiscard]] int err() const noexcept { return err_; }

private:
    int err_;
};

// No progress on a socket within the timeout.
struct timeout_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The peer closed the connection before the protocol was done.
struct eof_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

[[noreturn]] inline void throw_sys(const std::string& what, int err = errno) {
    throw sys_error(what, err);
}

// ---------------------------------------------------------------------------------------------
// File descriptors

using dibs::tools::unique_fd;

// ---------------------------------------------------------------------------------------------
// Addresses and families

enum class family { smc, tcp };

[[nodiscard]] inline std::string_view family_name(family f) {
    return f == family::smc ? "AF_SMC" : "AF_INET";
}

[[nodiscard]] inline sockaddr_in make_addr(const std::string& host, std::uint16_t port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) {
        throw usage_error("not an IPv4 address: '" + host + "'");
    }
    return sa;
}

[[nodiscard]] inline std::string to_string(const sockaddr_in& sa) {
    std::array<char, INET_ADDRSTRLEN> buf{};
    inet_ntop(AF_INET, &sa.sin_addr, buf.data(), buf.size());
    return std::string(buf.data()) + ":" + std::to_string(ntohs(sa.sin_port));
}

// "local -> peer" of a connected socket (both as the kernel reports them).
[[nodiscard]] inline std::string endpoints(int fd) {
    sockaddr_in local{};
    sockaddr_in peer{};
    socklen_t len = sizeof(local);
    std::string text;
    text +=
        getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0 ? to_string(local) : "?";
    len = sizeof(peer);
    text += " -> ";
    text += getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0 ? to_string(peer) : "?";
    return text;
}

inline void set_nonblocking(int fd, bool on, const std::string& name) {
    const int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) < 0) {
        throw_sys("fcntl(O_NONBLOCK) on " + name);
    }
}

inline void set_int_opt(int fd, int level, int name, int value, const std::string& what) {
    if (setsockopt(fd, level, name, &value, sizeof(value)) < 0) {
        throw_sys("setsockopt(" + what + ")");
    }
}

[[nodiscard]] inline unique_fd make_socket(family f) {
    // AF_SMC with protocol 0 (SMCPROTO_SMC) is SMC over IPv4.
    const int domain = f == family::smc ? AF_SMC : AF_INET;
    unique_fd fd(socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        throw_sys("socket(" + std::string(family_name(f)) + ", SOCK_STREAM)");
    }
    return fd;
}

// ---------------------------------------------------------------------------------------------
// A connected socket with a name for messages ("client AF_SMC 127.0.0.1:40312 -> 127.0.0.1:5000")
// and I/O with a per-call timeout (poll() before each system call, so a silent peer gives a
// timeout_error instead of a hang). SO_RCVTIMEO would not do: on AF_SMC it reaches only the
// internal TCP socket, not the SMC data path.

class connection {
public:
    connection() = default;
    connection(unique_fd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}

    [[nodiscard]] int fd() const noexcept { return fd_.get(); }
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    explicit operator bool() const noexcept { return static_cast<bool>(fd_); }
    void close() noexcept { (void)fd_.close(); }

    // Waits up to timeout_ms for events; returns revents (0 on timeout).
    [[nodiscard]] short wait(short events, int timeout_ms) const {
        pollfd p{fd_.get(), events, 0};
        for (;;) {
            const int rc = poll(&p, 1, timeout_ms);
            if (rc >= 0) {
                return rc == 0 ? short{0} : p.revents;
            }
            if (errno != EINTR) {
                throw_sys("poll on " + name_);
            }
        }
    }

    void send_all(std::span<const std::byte> data, int timeout_ms) const {
        while (!data.empty()) {
            const ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
            if (n > 0) {
                data = data.subspan(static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                throw_sys("send on " + name_);
            }
            if (n < 0 && errno == EAGAIN && wait(POLLOUT, timeout_ms) == 0) {
                throw timeout_error("send on " + name_ + ": no progress within " +
                                    std::to_string(timeout_ms) + " ms");
            }
        }
    }

    // Receives what is there (at most buf.size()); 0 means the peer closed its side.
    [[nodiscard]] std::size_t recv_some(std::span<std::byte> buf, int timeout_ms) const {
        for (;;) {
            const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
            if (n >= 0) {
                return static_cast<std::size_t>(n);
            }
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN) {
                throw_sys("recv on " + name_);
            }
            if (wait(POLLIN, timeout_ms) == 0) {
                throw timeout_error("recv on " + name_ + ": nothing within " +
                                    std::to_string(timeout_ms) + " ms");
            }
        }
    }

    void recv_exact(std::span<std::byte> buf, int timeout_ms, std::string_view what) const {
        std::size_t got = 0;
        while (got < buf.size()) {
            const std::size_t n = recv_some(buf.subspan(got), timeout_ms);
            if (n == 0) {
                throw eof_error(name_ + ": peer closed the connection after " +
                                std::to_string(got) + " of " + std::to_string(buf.size()) +
                                " bytes of " + std::string(what));
            }
            got += n;
        }
    }

    void shutdown_write() const {
        if (::shutdown(fd_.get(), SHUT_WR) < 0) {
            throw_sys("shutdown(SHUT_WR) on " + name_);
        }
    }

private:
    unique_fd fd_;
    std::string name_;
};

// A listening socket on addr:port (port 0: the kernel picks one; port() tells which).
class listener {
public:
    listener(family f, const std::string& addr, std::uint16_t port, int backlog = 1024) : f_(f) {
        fd_ = make_socket(f);
        set_int_opt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
        sockaddr_in sa = make_addr(addr, port);
        const std::string name = std::string(family_name(f)) + " listener " + to_string(sa);
        if (bind(fd_.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) < 0) {
            throw_sys("bind " + name);
        }
        if (::listen(fd_.get(), backlog) < 0) {
            throw_sys("listen " + name);
        }
        socklen_t len = sizeof(sa);
        if (getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&sa), &len) < 0) {
            throw_sys("getsockname " + name);
        }
        port_ = ntohs(sa.sin_port);
        name_ = std::string(family_name(f)) + " listener " + to_string(sa);
        set_nonblocking(fd_.get(), true, name_);
    }

    [[nodiscard]] int fd() const noexcept { return fd_.get(); }
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] const std::string& name() const noexcept { return name_; }

    // Accepts one connection within timeout_ms (nonblocking or blocking as asked).
    [[nodiscard]] connection accept(int timeout_ms, bool nonblocking = true) const {
        for (;;) {
            unique_fd fd(accept4(fd_.get(), nullptr, nullptr,
                                 SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0)));
            if (fd) {
                std::string name =
                    "server " + std::string(family_name(f_)) + " " + endpoints(fd.get());
                return {std::move(fd), std::move(name)};
            }
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno != EAGAIN) {
                throw_sys("accept on " + name_);
            }
            pollfd p{fd_.get(), POLLIN, 0};
            const int rc = poll(&p, 1, timeout_ms);
            if (rc < 0 && errno != EINTR) {
                throw_sys("poll on " + name_);
            }
            if (rc == 0) {
                throw timeout_error("accept on " + name_ + ": no connection within " +
                                    std::to_string(timeout_ms) + " ms");
            }
        }
    }

private:
    family f_;
    unique_fd fd_;
    std::uint16_t port_ = 0;
    std::string name_;
};

// Connects to addr:port. A refused connection is retried (the server may still be starting)
// until retry_ms have passed; the connect itself blocks (AF_SMC runs its CLC handshake in it).
[[nodiscard]] inline connection connect_to(family f, const std::string& addr, std::uint16_t port,
                                           int retry_ms = 0, bool nonblocking = true) {
    const sockaddr_in sa = make_addr(addr, port);
    const std::string target = std::string(family_name(f)) + " " + to_string(sa);
    for (int waited = 0;; waited += 50) {
        unique_fd fd = make_socket(f);
        if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) == 0) {
            std::string name = "client " + std::string(family_name(f)) + " " + endpoints(fd.get());
            if (nonblocking) {
                set_nonblocking(fd.get(), true, name);
            }
            return {std::move(fd), std::move(name)};
        }
        const int err = errno;
        if (err != ECONNREFUSED || waited >= retry_ms) {
            throw_sys("connect to " + target, err);
        }
        usleep(50 * 1000);
    }
}

// ---------------------------------------------------------------------------------------------
// The SMC mode of a connection, from smc_diag: a dump of every AF_SMC socket in this network
// namespace (smc_diag only dumps), matched by the socket's inode.

// What smc_diag says of one AF_SMC socket: mode, fallback reason, buffer sizes (SMC_DIAG_CONNINFO).
using smc_mode = smc::smcss::socket_info;

// "SMCD", "TCP 0x03030000", ... as smcss prints it.
using smc::smcss::mode_text;

// inode -> mode of every AF_SMC socket now (one dump for many connections).
[[nodiscard]] inline std::unordered_map<std::uint64_t, smc_mode> smc_diag_dump() {
    std::vector<smc_mode> sockets;
    try {
        sockets = smc::smcss::list_sockets(1U << (SMC_DIAG_CONNINFO - 1));
    } catch (const tools::error& e) {
        throw sys_error(e.what(), e.errnum());
    }
    std::unordered_map<std::uint64_t, smc_mode> table;
    for (auto& sock : sockets) {
        const std::uint64_t inode = sock.inode;
        table.emplace(inode, std::move(sock));
    }
    return table;
}

[[nodiscard]] inline std::uint64_t socket_inode(int fd) {
    struct stat st {};
    if (fstat(fd, &st) < 0) {
        throw_sys("fstat(socket)");
    }
    return st.st_ino;
}

// The mode of one AF_SMC socket; nullopt if smc_diag does not list it.
[[nodiscard]] inline std::optional<smc_mode> query_mode(int fd) {
    try {
        return smc::smcss::find_socket(socket_inode(fd), 1U << (SMC_DIAG_CONNINFO - 1));
    } catch (const tools::error& e) {
        throw sys_error(e.what(), e.errnum());
    }
}

// --expect: "smcd", "fallback", "fallback=0xREASON" or "any".
class mode_expectation {
public:
    mode_expectation() = default;
    explicit mode_expectation(std::string_view text) : text_(text) {
        if (text == "any") {
            kind_ = kind::any;
        } else if (text == "smcd") {
            kind_ = kind::smcd;
        } else if (text == "fallback") {
            kind_ = kind::fallback;
        } else if (text.starts_with("fallback=")) {
            kind_ = kind::fallback;
            const std::string num(text.substr(9));
            char* end = nullptr;
            const unsigned long v = std::strtoul(num.c_str(), &end, 0);
            if (num.empty() || *end != '\0' || v > 0xffffffffUL) {
                throw usage_error("--expect: bad fallback reason '" + num + "'");
            }
            reason_ = static_cast<std::uint32_t>(v);
        } else {
            throw usage_error("--expect: want smcd, fallback, fallback=0xREASON or any, not '" +
                              std::string(text) + "'");
        }
    }

    [[nodiscard]] bool any() const noexcept { return kind_ == kind::any; }
    [[nodiscard]] const std::string& str() const noexcept { return text_; }

    // A fallback for REASON matches on the side that found it and on the peer, which falls
    // back with "peer declined" (0x05000000) and REASON as the peer's diagnosis.
    [[nodiscard]] bool matches(const smc_mode& m) const noexcept {
        switch (kind_) {
        case kind::any:
            return true;
        case kind::smcd:
            return m.mode == SMC_DIAG_MODE_SMCD;
        case kind::fallback: {
            const auto fb = m.fallback.value_or(smc_diag_fallback{});
            return m.mode == SMC_DIAG_MODE_FALLBACK_TCP &&
                   (!reason_ || fb.reason == *reason_ ||
                    (fb.reason == peer_declined && fb.peer_diagnosis == *reason_));
        }
        }
        return false;
    }

    static constexpr std::uint32_t peer_declined = 0x05000000; // SMC_CLC_DECL_PEERDECL

private:
    enum class kind { any, smcd, fallback };
    kind kind_ = kind::any;
    std::optional<std::uint32_t> reason_;
    std::string text_ = "any";
};

// Checks the mode of an AF_SMC connection; returns it as text ("SMCD", "TCP 0x03030000").
inline std::string check_mode(const connection& c, const mode_expectation& want) {
    const auto mode = query_mode(c.fd());
    if (!mode) {
        throw check_failure(c.name() + ": not listed by smc_diag");
    }
    if (!want.matches(*mode)) {
        throw check_failure(c.name() + ": mode " + mode_text(*mode) + ", expected " + want.str());
    }
    return mode_text(*mode);
}

// ---------------------------------------------------------------------------------------------
// A 64-bit stream hash: four lanes of xxHash64's round function (multiply, rotate, multiply)
// over 32-byte blocks, with the length folded in. The result depends only on the bytes, not on
// how they were split into update() calls. Not xxHash64-compatible; only both ends must agree.

class stream_hash {
public:
    void update(std::span<const std::byte> data) noexcept {
        total_ += data.size();
        if (pending_len_ > 0) {
            const std::size_t take = std::min(data.size(), block - pending_len_);
            std::memcpy(pending_.data() + pending_len_, data.data(), take);
            pending_len_ += take;
            data = data.subspan(take);
            if (pending_len_ < block) {
                return;
            }
            round(pending_.data());
            pending_len_ = 0;
        }
        while (data.size() >= block) {
            round(data.data());
            data = data.subspan(block);
        }
        std::memcpy(pending_.data(), data.data(), data.size());
        pending_len_ = data.size();
    }

    [[nodiscard]] std::uint64_t digest() const noexcept {
        std::uint64_t h = std::rotl(lane_[0], 1) + std::rotl(lane_[1], 7) +
                          std::rotl(lane_[2], 12) + std::rotl(lane_[3], 18);
        h ^= total_ * prime1;
        for (std::size_t i = 0; i < pending_len_; ++i) { // FNV-1a over the tail
            h = (h ^ std::to_integer<std::uint64_t>(pending_[i])) * 0x100000001b3ULL;
        }
        h ^= h >> 33;
        h *= prime2;
        h ^= h >> 29;
        h *= prime3;
        h ^= h >> 32;
        return h;
    }

    [[nodiscard]] std::uint64_t bytes() const noexcept { return total_; }

private:
    static constexpr std::size_t block = 32;
    static constexpr std::uint64_t prime1 = 0x9E3779B185EBCA87ULL;
    static constexpr std::uint64_t prime2 = 0xC2B2AE3D27D4EB4FULL;
    static constexpr std::uint64_t prime3 = 0x165667B19E3779F9ULL;

    void round(const std::byte* p) noexcept {
        for (std::size_t i = 0; i < 4; ++i) {
            std::uint64_t w = 0;
            std::memcpy(&w, p + 8 * i, 8);
            lane_[i] = std::rotl(lane_[i] + w * prime2, 31) * prime1;
        }
    }

    std::array<std::uint64_t, 4> lane_{prime1 + prime2, prime2, 0, 0 - prime1};
    std::array<std::byte, block> pending_{};
    std::size_t pending_len_ = 0;
    std::uint64_t total_ = 0;
};

// Deterministic pseudo-random bytes (xorshift64*), e.g. for payloads both ends can rebuild.
inline void fill_pattern(std::span<std::byte> buf, std::uint64_t seed) noexcept {
    std::uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
    for (std::size_t i = 0; i < buf.size(); i += 8) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        const std::uint64_t v = x * 0x2545F4914F6CDD1DULL;
        std::memcpy(buf.data() + i, &v, std::min<std::size_t>(8, buf.size() - i));
    }
}

// Little-endian 64-bit values in protocol headers.
inline void put_u64(std::span<std::byte, 8> out, std::uint64_t v) noexcept {
    for (std::size_t i = 0; i < 8; ++i) {
        out[i] = static_cast<std::byte>(v >> (8 * i));
    }
}

[[nodiscard]] inline std::uint64_t get_u64(std::span<const std::byte, 8> in) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) {
        v |= std::to_integer<std::uint64_t>(in[i]) << (8 * i);
    }
    return v;
}

} // namespace dibs::smc_test
