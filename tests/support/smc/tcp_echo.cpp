// SPDX-License-Identifier: GPL-2.0
//
// tcp_echo: a plain TCP echo server and client for the SMC tests (the test VM has no nc/socat).
// It knows nothing about SMC: the tests run it under smc_run.
//
//   tcp_echo server [-b ADDR] [-c COUNT] PORT   listen (PORT 0: any), print "listening PORT",
//                                               echo COUNT connections (default 1) one by one
//   tcp_echo client [-n BYTES] [-w FILE] ADDR PORT
//                                               send BYTES (default 65536), check the echo,
//                                               print "echoed BYTES bytes", then keep the
//                                               connection open until FILE exists
#include "cli.hpp"
#include "error.hpp"
#include "fd.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using dibs::tools::error;
using dibs::tools::unique_fd;

constexpr std::string_view usage_text = "usage: tcp_echo server [-b ADDR] [-c COUNT] PORT\n"
                                        "       tcp_echo client [-n BYTES] [-w FILE] ADDR PORT\n";

[[noreturn]] void fail(const std::string& what) {
    throw error(what + ": " + dibs::tools::errno_text(errno));
}

std::uint64_t number(std::string_view text, std::string_view what) {
    std::uint64_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size()) {
        throw error::usage("bad " + std::string{what} + " '" + std::string{text} + "'");
    }
    return value;
}

/// The numeric address host:port (IPv4 or IPv6).
sockaddr_storage resolve(const std::string& host, const std::string& port, socklen_t& len) {
    addrinfo hints{};
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
        throw error("bad address " + host + " port " + port + ": " + ::gai_strerror(rc));
    }
    sockaddr_storage ss{};
    std::memcpy(&ss, res->ai_addr, res->ai_addrlen);
    len = res->ai_addrlen;
    ::freeaddrinfo(res);
    return ss;
}

unique_fd tcp_socket(const sockaddr_storage& addr) {
    unique_fd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        fail("socket");
    }
    return fd;
}

void write_all(int fd, std::span<const std::byte> data) {
    while (!data.empty()) {
        const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            fail("send");
        }
        data = data.subspan(static_cast<std::size_t>(n));
    }
}

void read_all(int fd, std::span<std::byte> data) {
    while (!data.empty()) {
        const ssize_t n = ::recv(fd, data.data(), data.size(), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            fail("recv");
        }
        if (n == 0) {
            throw error("recv: connection closed early");
        }
        data = data.subspan(static_cast<std::size_t>(n));
    }
}

int server(std::span<const std::string_view> args) {
    std::string bind_addr = "127.0.0.1";
    std::string port_text;
    std::string count_text = "1";
    const auto app = dibs::tools::make_app("tcp_echo server");
    app->add_option("-b,--bind", bind_addr);
    app->add_option("-c,--count", count_text);
    app->add_option("PORT", port_text)->required();
    dibs::tools::parse(*app, args, "server");
    socklen_t len = 0;
    const auto addr = resolve(bind_addr, port_text, len);
    const auto count = number(count_text, "count");

    const unique_fd lfd = tcp_socket(addr);
    const int on = 1;
    (void)::setsockopt(lfd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (::bind(lfd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
        fail("bind");
    }
    if (::listen(lfd.get(), 8) != 0) {
        fail("listen");
    }
    sockaddr_storage bound{};
    socklen_t bound_len = sizeof(bound);
    if (::getsockname(lfd.get(), reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0) {
        fail("getsockname");
    }
    const auto port = bound.ss_family == AF_INET6
                          ? reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port
                          : reinterpret_cast<const sockaddr_in*>(&bound)->sin_port;
    std::cout << "listening " << ntohs(port) << std::endl;

    std::vector<std::byte> buf(65536);
    for (std::uint64_t i = 0; i < count; ++i) {
        const unique_fd cfd(::accept4(lfd.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!cfd) {
            fail("accept");
        }
        std::uint64_t total = 0;
        for (;;) {
            const ssize_t n = ::recv(cfd.get(), buf.data(), buf.size(), 0);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                fail("recv");
            }
            if (n == 0) {
                break;
            }
            write_all(cfd.get(), std::span{buf}.first(static_cast<std::size_t>(n)));
            total += static_cast<std::uint64_t>(n);
        }
        std::cout << "served " << total << " bytes" << std::endl;
    }
    return 0;
}

int client(std::span<const std::string_view> args) {
    std::string bytes_text = "65536";
    std::optional<std::string> wait_for;
    std::string host;
    std::string port_text;
    const auto app = dibs::tools::make_app("tcp_echo client");
    app->add_option("-n,--bytes", bytes_text);
    app->add_option("-w,--wait-for", wait_for);
    app->add_option("ADDR", host)->required();
    app->add_option("PORT", port_text)->required();
    dibs::tools::parse(*app, args, "client");
    socklen_t len = 0;
    const auto addr = resolve(host, port_text, len);
    const auto bytes = number(bytes_text, "byte count");

    const unique_fd fd = tcp_socket(addr);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
        fail("connect");
    }
    constexpr std::size_t chunk = 16384;
    std::vector<std::byte> out(chunk);
    std::vector<std::byte> in(chunk);
    for (std::uint64_t sent = 0; sent < bytes;) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, bytes - sent));
        for (std::size_t i = 0; i < n; ++i) {
            out[i] = static_cast<std::byte>((sent + i) * 7 % 251);
        }
        write_all(fd.get(), std::span{out}.first(n));
        read_all(fd.get(), std::span{in}.first(n));
        if (!std::equal(out.begin(), out.begin() + static_cast<long>(n), in.begin())) {
            throw error("echo differs from what was sent near byte " + std::to_string(sent));
        }
        sent += n;
    }
    std::cout << "echoed " << bytes << " bytes" << std::endl;
    if (const auto& file = wait_for) {
        using namespace std::chrono_literals;
        const auto deadline = std::chrono::steady_clock::now() + 120s;
        while (!std::filesystem::exists(std::filesystem::path{*file})) {
            if (std::chrono::steady_clock::now() > deadline) {
                throw error("timeout waiting for " + *file);
            }
            std::this_thread::sleep_for(20ms);
        }
    }
    return 0;
}

} // namespace

int main(int argc, char* argv[]) {
    try {
        const auto args = dibs::tools::arguments(argc, argv);
        const std::span all{args};
        if (!args.empty() && args[0] == "server") {
            return server(all.subspan(1));
        }
        if (!args.empty() && args[0] == "client") {
            return client(all.subspan(1));
        }
        std::cerr << usage_text;
        return 2;
    } catch (const error& e) {
        std::cerr << "tcp_echo: " << e.what() << '\n';
        if (e.status() == dibs::tools::exit_usage) {
            std::cerr << usage_text;
        }
        return e.status();
    } catch (const std::exception& e) {
        std::cerr << "tcp_echo: " << e.what() << '\n';
        return 1;
    }
}
