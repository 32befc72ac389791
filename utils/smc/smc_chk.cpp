// SPDX-License-Identifier: GPL-2.0
#include "smc_chk.hpp"

#include "cli.hpp"
#include "fd.hpp"
#include "smc_common.hpp"

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ostream>
#include <thread>

#include <arpa/inet.h>
#include <linux/smc_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SMC_TOOLS_VERSION
#define SMC_TOOLS_VERSION "0.1"
#endif

namespace dibs::smc::chk {
namespace {

using tools::error;
using tools::unique_fd;

constexpr std::string_view help_page = R"help(NAME
    smc_chk - check whether a server is reachable over SMC-D

SYNOPSIS
    smc_chk [-d] [-6] [-t SECONDS] [-p PORT] -C HOST
    smc_chk [-d] [-6] [-t SECONDS] HOST PORT
    smc_chk [-d] [-6] [-p PORT] -S
    smc_chk [-d] [-6] [-t SECONDS] -l
    smc_chk -h|--help
    smc_chk -v|--version

DESCRIPTION
    smc_chk opens an AF_SMC connection to a server and reports whether it
    uses SMC-D, as the connect test of smc_chk of IBM's smc-tools does: it
    sends a few bytes, reads the server's answer, and asks the kernel
    (smc_diag, as smcss does) for the connection's mode. On a TCP fallback
    it shows the reasons of client and server with their meaning.

    The server end can be any TCP or AF_SMC server (under smc_run for an
    unmodified program). smc_chk -S starts one: an AF_SMC server that echoes
    what it receives, until it is interrupted. smc_chk -l runs both ends on
    this host (over 127.0.0.1, or ::1 with -6), the "live test" of smc-tools
    for a host whose SMC-D device reaches itself, such as dibs_lo0.

    smc-tools' static analysis and PNET ID modes (-s, -i) need s390's PNET
    IDs; smc_chk does not offer them.

OPTIONS
    -C, --connect HOST  Connect to HOST (an IPv4 or IPv6 address) at PORT.
    -S, --server        Run an AF_SMC echo server on PORT.
    -l, --live-test     Run a server and a client on this host.
    -p, --port PORT     The port (default 37373; -S with 0: any free one).
    -6, --ipv6          Use IPv6 (-S: listen on ::, -l: use ::1).
    -t, --timeout S     Give up a connection after S seconds (default 10).
    -d, --debug         Show what smc_chk does.
    -h, --help          Show this help.
    -v, --version       Show the version.

EXIT STATUS
    0   The connection used SMC-D (-S: the server was stopped by a signal).
    1   It did not: TCP fallback (the reasons are shown) or SMC-R; or an
        operational error (no smc module, no smc_diag).
    2   Usage error: unknown option, bad PORT, HOST or SECONDS.
    3   No connection: refused, unreachable or timed out.

EXAMPLES
    smc_chk -C 10.0.0.2
        Is the smc_chk -S server on 10.0.0.2 reachable over SMC-D?
    smc_chk 127.0.0.1 5000
        Does a local server on port 5000 (e.g. run with smc_run) use SMC-D?
    smc_chk -l
        Can this host talk SMC-D to itself?
          Live test (127.0.0.1, port 45311)
             Success, using SMC-D

SEE ALSO
    smcss(8), smcd(8), smc_run(8)
)help";

std::uint16_t parse_port(const std::string& text, bool zero_ok) {
    unsigned long value = 0;
    char* end = nullptr;
    errno = 0;
    value = std::strtoul(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0 || value > 65535 || (value == 0 && !zero_ok)) {
        throw error::usage("invalid port " + tools::quote(text) + " (1 to 65535)");
    }
    return static_cast<std::uint16_t>(value);
}

/// An IPv4 or IPv6 address with a port.
struct address {
    sockaddr_storage storage{};
    socklen_t length = 0;
    int family = AF_INET;
};

address make_address(const std::string& host, std::uint16_t port, bool want_ipv6) {
    address a;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    if (!want_ipv6 && ::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        a.length = sizeof(*v4);
        return a;
    }
    if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        a.length = sizeof(*v6);
        a.family = AF_INET6;
        return a;
    }
    throw error::usage("invalid address " + tools::quote(host) +
                       (want_ipv6 ? " (an IPv6 address with -6)" : " (an IPv4 or IPv6 address)"));
}

unique_fd smc_socket(int family) {
    unique_fd fd(::socket(af_smc, SOCK_STREAM | SOCK_CLOEXEC,
                          family == AF_INET6 ? smcproto_smc6 : smcproto_smc));
    if (!fd) {
        const int e = errno;
        throw error("cannot create an AF_SMC socket: " + tools::errno_text(e) + " - " +
                        std::string{smc_module_hint},
                    "AF_SMC", e);
    }
    return fd;
}

/// Waits for events on fd up to timeout_ms; false on timeout.
bool wait_for(int fd, short events, int timeout_ms) {
    pollfd p{fd, events, 0};
    int rc = 0;
    do {
        rc = ::poll(&p, 1, timeout_ms);
    } while (rc < 0 && errno == EINTR);
    return rc > 0;
}

std::uint64_t inode_of(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        throw error("fstat of the AF_SMC socket: " + tools::errno_text(errno));
    }
    return st.st_ino;
}

/// Thrown when there is no connection at all (exit_no_connection).
struct no_connection : error {
    explicit no_connection(const std::string& text) : error(text, {}, 0, exit_no_connection) {}
};

/// Connects to a, exchanges a few bytes, and returns the client socket's smc_diag entry.
std::optional<smcss::socket_info> probe(const address& a, const std::string& target,
                                        const settings& s, std::ostream& out) {
    const unique_fd fd = smc_socket(a.family);
    const auto debug = [&](const std::string& line) {
        if (s.debug) {
            out << "[DEBUG] " << line << '\n';
        }
    };
    debug("connecting to " + target);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a.storage), a.length) != 0) {
        throw no_connection("connect to " + target + ": " + tools::errno_text(errno));
    }
    constexpr std::string_view hello = "smc_chk\n";
    if (::send(fd.get(), hello.data(), hello.size(), MSG_NOSIGNAL) < 0) {
        throw no_connection("send to " + target + ": " + tools::errno_text(errno));
    }
    std::array<char, 64> buf{};
    if (!wait_for(fd.get(), POLLIN, s.timeout_ms)) {
        debug("no answer from " + target + " within the timeout");
    } else if (::recv(fd.get(), buf.data(), buf.size(), MSG_DONTWAIT) < 0) {
        debug("recv from " + target + ": " + tools::errno_text(errno));
    }
    auto info = smcss::find_socket(inode_of(fd.get()), 0);
    debug(info ? "smc_diag: mode " + smcss::mode_text(*info) : "smc_diag: socket not listed");
    return info;
}

std::atomic<bool> stop_server{false};

extern "C" void on_stop_signal(int /*sig*/) {
    stop_server = true;
}

/// Echoes every connection on lfd until stop_server (or, with once, after one connection).
void serve(int lfd, bool once, const settings& s, std::ostream& out) {
    while (!stop_server) {
        if (!wait_for(lfd, POLLIN, 200)) {
            continue;
        }
        const unique_fd cfd(::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC));
        if (!cfd) {
            continue;
        }
        if (s.debug && !once) {
            out << "[DEBUG] connection accepted\n" << std::flush;
        }
        std::array<char, 4096> buf{};
        while (wait_for(cfd.get(), POLLIN, s.timeout_ms)) {
            const ssize_t n = ::recv(cfd.get(), buf.data(), buf.size(), 0);
            if (n <= 0 ||
                ::send(cfd.get(), buf.data(), static_cast<std::size_t>(n), MSG_NOSIGNAL) < 0) {
                break;
            }
        }
        if (once) {
            return;
        }
    }
}

/// An AF_SMC listener on the wildcard address (or loopback), port 0 = any.
unique_fd listen_on(bool ipv6, bool loopback, std::uint16_t& port) {
    const address a = make_address(
        ipv6 ? (loopback ? "::1" : "::") : (loopback ? "127.0.0.1" : "0.0.0.0"), port, ipv6);
    unique_fd fd = smc_socket(a.family);
    const int on = 1;
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a.storage), a.length) != 0 ||
        ::listen(fd.get(), 16) != 0) {
        const int e = errno;
        throw error("cannot listen on port " + std::to_string(port) + ": " + tools::errno_text(e),
                    "AF_SMC", e);
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof(bound);
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len) == 0) {
        port = ntohs(a.family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                          : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    }
    return fd;
}

int run_connect(const settings& s, std::ostream& out) {
    const address a = make_address(s.host, s.port, s.ipv6);
    out << "Test with target IP " << s.host << " and port " << s.port << '\n';
    const auto v = judge(probe(a, s.host + " port " + std::to_string(s.port), s, out));
    out << v.text;
    return v.status;
}

int run_server(const settings& s, std::ostream& out) {
    std::uint16_t port = s.port;
    const unique_fd lfd = listen_on(s.ipv6, false, port);
    (void)std::signal(SIGINT, on_stop_signal);
    (void)std::signal(SIGTERM, on_stop_signal);
    out << "Server started on port " << port << '\n' << std::flush;
    serve(lfd.get(), false, s, out);
    return tools::exit_ok;
}

int run_live(const settings& s, std::ostream& out) {
    std::uint16_t port = 0;
    const unique_fd lfd = listen_on(s.ipv6, true, port);
    const std::string host = s.ipv6 ? "::1" : "127.0.0.1";
    out << "  Live test (" << host << ", port " << port << ")\n";
    std::thread server([&] { serve(lfd.get(), true, s, out); });
    std::optional<smcss::socket_info> info;
    std::exception_ptr failure;
    try {
        info =
            probe(make_address(host, port, s.ipv6), host + " port " + std::to_string(port), s, out);
    } catch (...) {
        failure = std::current_exception();
        stop_server = true;
    }
    server.join();
    if (failure) {
        std::rethrow_exception(failure);
    }
    const auto v = judge(info);
    out << v.text;
    return v.status;
}

} // namespace

settings parse_args(std::span<const std::string_view> args) {
    settings s;
    bool help = false;
    bool version = false;
    bool server = false;
    bool live = false;
    std::optional<std::string> connect;
    std::optional<std::string> port;
    unsigned timeout = 10;
    std::vector<std::string> operands;
    const auto app = tools::make_app("smc_chk");
    app->add_flag("-h,--help", help);
    app->add_flag("-v,-V,--version", version);
    app->add_flag("-d,--debug", s.debug);
    app->add_flag("-6,--ipv6", s.ipv6);
    app->add_flag("-S,--server", server);
    app->add_flag("-l,--live-test", live);
    app->add_option("-C,--connect", connect);
    app->add_option("-p,--port", port);
    app->add_option("-t,--timeout", timeout)->check(CLI::Range(1U, 3600U));
    app->add_option("operands", operands);
    tools::parse(*app, args);
    if (help || version) {
        s.what = help ? mode::help : mode::version;
        return s;
    }
    s.timeout_ms = static_cast<int>(timeout) * 1000;
    const int modes =
        (connect ? 1 : 0) + (server ? 1 : 0) + (live ? 1 : 0) + (operands.empty() ? 0 : 1);
    if (modes != 1) {
        throw error::usage(modes == 0 ? "missing -C HOST, HOST PORT, -S or -l"
                                      : "-C, HOST PORT, -S and -l exclude each other");
    }
    if (!operands.empty()) {
        if (operands.size() != 2) {
            throw error::usage("want HOST PORT, got " + std::to_string(operands.size()) +
                               " argument(s)");
        }
        if (port) {
            throw error::usage("HOST PORT and -p exclude each other");
        }
        connect = operands[0];
        port = operands[1];
    }
    if (live && port) {
        throw error::usage("-l picks a free port itself (no -p)");
    }
    if (port) {
        s.port = parse_port(*port, server);
    }
    if (connect) {
        s.what = mode::connect;
        s.host = *connect;
        (void)make_address(s.host, s.port, s.ipv6); // a bad HOST is a usage error
    } else {
        s.what = server ? mode::server : mode::live;
    }
    return s;
}

verdict judge(const std::optional<smcss::socket_info>& client) {
    if (!client) {
        return {exit_no_connection, "     Failed, no connection (smc_diag does not list it)\n"};
    }
    if (client->mode == SMC_DIAG_MODE_SMCD) {
        return {tools::exit_ok, "     Success, using SMC-D\n"};
    }
    if (client->mode == SMC_DIAG_MODE_SMCR) {
        return {exit_not_smcd, "     Success, using SMC-R (not SMC-D)\n"};
    }
    const auto fb = client->fallback.value_or(smc_diag_fallback{});
    std::string text = "     Failed  (TCP fallback), reasons:\n";
    text += "          Client: " + hex0x(fb.reason, 8) + " " +
            std::string{fallback_text(fb.reason)} + "\n";
    if (fb.peer_diagnosis != 0) {
        text += "          Server: " + hex0x(fb.peer_diagnosis, 8) + " " +
                std::string{fallback_text(fb.peer_diagnosis)} + "\n";
    }
    return {exit_not_smcd, text};
}

int run(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
    return tools::report_errors("smc_chk", out, err, [&] {
        const auto s = parse_args(args);
        switch (s.what) {
        case mode::help:
            out << help_page;
            return tools::exit_ok;
        case mode::version:
            out << "smc_chk (dibs-rdma) " << SMC_TOOLS_VERSION << '\n';
            return tools::exit_ok;
        case mode::connect:
            return run_connect(s, out);
        case mode::server:
            return run_server(s, out);
        case mode::live:
            return run_live(s, out);
        }
        return tools::exit_failure;
    });
}

std::string_view help_text() noexcept {
    return help_page;
}

} // namespace dibs::smc::chk
