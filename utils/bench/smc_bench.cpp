// SPDX-License-Identifier: GPL-2.0
//
// dibs-smc-bench - AF_SMC (SMC-D over dibs) against TCP: stream throughput, request/response
// latency and connection rate. utils/bench/bench-smc runs it inside the VM for both families.
// Prints one machine-readable line of key=value pairs per run.
#include "cli.hpp"
#include "smc_sock.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <netinet/tcp.h>

namespace {

using namespace dibs::smc_test;
using clock_type = std::chrono::steady_clock;

constexpr std::string_view usage_text = R"(usage: dibs-smc-bench --mode stream|rr|crr [OPTIONS]

Benchmarks stream sockets over IPv4 (default 127.0.0.1), AF_SMC or TCP:
  stream  the client writes --size bytes at a time for --duration seconds; the receiver's
          byte count over its time from first byte to EOF gives MB/s (10^6 bytes/s)
  rr      1-byte request, 1-byte response, --iters times after --warmup; round-trip
          latency percentiles in microseconds
  crr     connect, 1-byte request and response, close, for --duration seconds;
          connections per second
Blocking sockets, TCP_NODELAY on both families. The SMC mode of a connection (from smc_diag)
is reported as conn=... (for stream in SMC mode with the SMC send and receive buffer sizes);
for crr, of one connection before and one after the timed loop.

Options:
  --family F     smc (default) or tcp
  --mode M       stream, rr or crr
  --duration S   seconds for stream and crr (default 5)
  --size N       stream write size, suffix K or M (default 1M)
  --iters N      rr round trips (default 10000)
  --warmup N     rr round trips not counted (default 500)
  --role R       both (default: server thread + client in one process), server or client
  --addr A       server address (default 127.0.0.1)
  --port P       server port (default: any free port; required with --role)
  --expect M     fail (exit 1) unless the connections are in mode M: smcd, fallback,
                 fallback=0xREASON, any (default any)
  -h, --help     this text

Output (client side), e.g.
  bench=stream family=smc conn=SMCD sndbuf=... rmb=... size=1048576 seconds=5.00 bytes=... MBps=...
  bench=rr family=smc conn=SMCD iters=10000 p50_us=... p90_us=... p99_us=... mean_us=...
  bench=crr family=smc conn=SMCD conns=... seconds=5.00 cps=...
)";

enum class mode { stream, rr, crr };

struct options {
    family fam = family::smc;
    std::optional<mode> m;
    double duration = 5;
    std::size_t size = 1 << 20;
    std::size_t iters = 10000;
    std::size_t warmup = 500;
    std::string role = "both";
    std::string addr = "127.0.0.1";
    std::uint16_t port = 0;
    mode_expectation expect;
};

[[nodiscard]] std::uint64_t parse_number(std::string_view text, std::string_view opt) {
    std::uint64_t v = 0;
    const auto* end = text.data() + text.size();
    const auto [p, ec] = std::from_chars(text.data(), end, v);
    std::uint64_t mult = 1;
    const std::string_view suffix(p, static_cast<std::size_t>(end - p));
    if (suffix == "K" || suffix == "k") {
        mult = 1 << 10;
    } else if (suffix == "M" || suffix == "m") {
        mult = 1 << 20;
    } else if (!suffix.empty() || ec != std::errc{} || p == text.data()) {
        throw usage_error(std::string(opt) + ": not a number: '" + std::string(text) + "'");
    }
    return v * mult;
}

/// The command line (CLI11, as every tool of the tree); nullopt for --help.
[[nodiscard]] std::optional<options> parse_options(std::span<const std::string_view> args) {
    options o;
    bool help = false;
    std::string fam = "smc";
    std::string m;
    std::string duration = "5";
    std::string size = "1M";
    std::string iters = "10000";
    std::string warmup = "500";
    std::string port = "0";
    std::string expect = "any";
    const auto app = dibs::tools::make_app("dibs-smc-bench");
    app->add_flag("-h,--help", help);
    app->add_option("--family", fam)->check(CLI::IsMember({"smc", "tcp"}));
    app->add_option("--mode", m)->check(CLI::IsMember({"stream", "rr", "crr"}));
    app->add_option("--duration", duration);
    app->add_option("--size", size);
    app->add_option("--iters", iters);
    app->add_option("--warmup", warmup);
    app->add_option("--role", o.role)->check(CLI::IsMember({"both", "server", "client"}));
    app->add_option("--addr", o.addr);
    app->add_option("--port", port);
    app->add_option("--expect", expect);
    try {
        dibs::tools::parse(*app, args);
    } catch (const dibs::tools::error& e) {
        throw usage_error(std::string(e.what()) + " (try --help)");
    }
    if (help) {
        return std::nullopt;
    }
    o.fam = fam == "smc" ? family::smc : family::tcp;
    if (m == "stream") {
        o.m = mode::stream;
    } else if (m == "rr") {
        o.m = mode::rr;
    } else if (m == "crr") {
        o.m = mode::crr;
    }
    const auto secs = parse_number(duration, "--duration");
    if (secs == 0 || secs > 3600) {
        throw usage_error("--duration: 1 .. 3600 seconds");
    }
    o.duration = static_cast<double>(secs);
    o.size = parse_number(size, "--size");
    o.iters = parse_number(iters, "--iters");
    o.warmup = parse_number(warmup, "--warmup");
    const auto p = parse_number(port, "--port");
    if (p > 65535) {
        throw usage_error("--port: at most 65535");
    }
    o.port = static_cast<std::uint16_t>(p);
    o.expect = mode_expectation(expect);
    if (!o.m) {
        throw usage_error("--mode is required (try --help)");
    }
    if (o.role != "both" && o.port == 0) {
        throw usage_error("--role " + o.role + " needs --port");
    }
    if (o.size == 0 || o.iters == 0) {
        throw usage_error("--size and --iters must be positive");
    }
    return o;
}

// Blocking I/O: the benchmark measures the plain system calls an application makes.
void write_all(const connection& c, std::span<const std::byte> data) {
    while (!data.empty()) {
        const ssize_t n = ::send(c.fd(), data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_sys("send on " + c.name());
        }
        data = data.subspan(static_cast<std::size_t>(n));
    }
}

[[nodiscard]] std::size_t read_some(const connection& c, std::span<std::byte> buf) {
    for (;;) {
        const ssize_t n = ::recv(c.fd(), buf.data(), buf.size(), 0);
        if (n >= 0) {
            return static_cast<std::size_t>(n);
        }
        if (errno != EINTR) {
            throw_sys("recv on " + c.name());
        }
    }
}

void read_exact(const connection& c, std::span<std::byte> buf) {
    while (!buf.empty()) {
        const std::size_t n = read_some(c, buf);
        if (n == 0) {
            throw eof_error(c.name() + ": unexpected EOF");
        }
        buf = buf.subspan(n);
    }
}

void nodelay(const connection& c) {
    set_int_opt(c.fd(), IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY on " + c.name());
}

// "conn=SMCD", or for AF_SMC connections in SMC mode also their buffer sizes:
// "conn=SMCD sndbuf=65536 rmb=65536" (send buffer, own receive buffer).
[[nodiscard]] std::string conn_mode(const options& o, const connection& c, bool sizes = false) {
    if (o.fam != family::smc) {
        return "TCP";
    }
    const std::string text = check_mode(c, o.expect);
    const auto m = query_mode(c.fd());
    if (!sizes || !m || !m->conn || m->mode == SMC_DIAG_MODE_FALLBACK_TCP) {
        return text;
    }
    return text + " sndbuf=" + std::to_string(m->conn->sndbuf_size) +
           " rmb=" + std::to_string(m->conn->rmbe_size);
}

// ---------------------------------------------------------------------------------------------
// Server side: one benchmark run.

void serve(const options& o, const listener& l) {
    constexpr int accept_timeout_ms = 60000;
    switch (*o.m) {
    case mode::stream: {
        const connection c = l.accept(accept_timeout_ms, false);
        std::vector<std::byte> buf(std::max<std::size_t>(o.size, 1 << 20));
        std::uint64_t bytes = 0;
        clock_type::time_point first{};
        for (;;) {
            const std::size_t n = read_some(c, buf);
            if (n == 0) {
                break;
            }
            if (bytes == 0) {
                first = clock_type::now();
            }
            bytes += n;
        }
        const auto ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - first);
        std::array<std::byte, 16> result{};
        put_u64(std::span(result).subspan<0, 8>(), bytes);
        put_u64(std::span(result).subspan<8, 8>(), static_cast<std::uint64_t>(ns.count()));
        write_all(c, result);
        break;
    }
    case mode::rr: {
        const connection c = l.accept(accept_timeout_ms, false);
        nodelay(c);
        std::array<std::byte, 1> b{};
        while (read_some(c, b) == 1) {
            write_all(c, b);
        }
        break;
    }
    case mode::crr:
        for (;;) { // until a request byte 'Q'
            const connection c = l.accept(accept_timeout_ms, false);
            nodelay(c);
            std::array<std::byte, 1> b{};
            read_exact(c, b);
            write_all(c, b);
            if (b[0] == std::byte{'Q'}) {
                break;
            }
        }
        break;
    }
}

// ---------------------------------------------------------------------------------------------
// Client side: one benchmark run; returns the result line.

[[nodiscard]] std::string fmt(const char* format, double v) {
    std::array<char, 64> buf{};
    std::snprintf(buf.data(), buf.size(), format, v);
    return buf.data();
}

std::string run_client(const options& o, std::uint16_t port) {
    const std::string fam = o.fam == family::smc ? "smc" : "tcp";
    const int retry_ms = o.role == "client" ? 30000 : 0;
    switch (*o.m) {
    case mode::stream: {
        const connection c = connect_to(o.fam, o.addr, port, retry_ms, false);
        const std::string conn = conn_mode(o, c, true);
        std::vector<std::byte> buf(o.size);
        fill_pattern(buf, 1);
        const auto until = clock_type::now() + std::chrono::duration<double>(o.duration);
        while (clock_type::now() < until) {
            write_all(c, buf);
        }
        c.shutdown_write();
        std::array<std::byte, 16> result{};
        read_exact(c, result);
        const std::uint64_t bytes = get_u64(std::span<const std::byte>(result).subspan<0, 8>());
        const double secs =
            static_cast<double>(get_u64(std::span<const std::byte>(result).subspan<8, 8>())) / 1e9;
        return "bench=stream family=" + fam + " conn=" + conn + " size=" + std::to_string(o.size) +
               " seconds=" + fmt("%.2f", secs) + " bytes=" + std::to_string(bytes) +
               " MBps=" + fmt("%.1f", secs > 0 ? static_cast<double>(bytes) / secs / 1e6 : 0);
    }
    case mode::rr: {
        const connection c = connect_to(o.fam, o.addr, port, retry_ms, false);
        nodelay(c);
        const std::string conn = conn_mode(o, c);
        std::vector<std::int64_t> ns;
        ns.reserve(o.iters);
        std::array<std::byte, 1> b{std::byte{'r'}};
        for (std::size_t i = 0; i < o.warmup + o.iters; ++i) {
            const auto t0 = clock_type::now();
            write_all(c, b);
            read_exact(c, b);
            const auto t1 = clock_type::now();
            if (i >= o.warmup) {
                ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
            }
        }
        std::sort(ns.begin(), ns.end());
        const auto pct = [&](std::size_t p) {
            return static_cast<double>(ns[std::min(ns.size() - 1, ns.size() * p / 100)]) / 1e3;
        };
        double sum = 0;
        for (const auto v : ns) {
            sum += static_cast<double>(v);
        }
        return "bench=rr family=" + fam + " conn=" + conn + " iters=" + std::to_string(o.iters) +
               " p50_us=" + fmt("%.2f", pct(50)) + " p90_us=" + fmt("%.2f", pct(90)) +
               " p99_us=" + fmt("%.2f", pct(99)) +
               " mean_us=" + fmt("%.2f", sum / static_cast<double>(ns.size()) / 1e3) +
               " min_us=" + fmt("%.2f", static_cast<double>(ns.front()) / 1e3);
    }
    case mode::crr: {
        // one request/response on a new connection; the mode is read only when asked
        const auto once = [&](std::byte req, bool check) {
            const connection c = connect_to(o.fam, o.addr, port, retry_ms, false);
            nodelay(c);
            std::string conn;
            if (check) {
                conn = conn_mode(o, c);
            }
            std::array<std::byte, 1> b{req};
            write_all(c, b);
            read_exact(c, b);
            return conn;
        };
        const std::string before = once(std::byte{'c'}, true);
        std::size_t conns = 0;
        const auto t0 = clock_type::now();
        const auto until = t0 + std::chrono::duration<double>(o.duration);
        while (clock_type::now() < until) {
            (void)once(std::byte{'c'}, false);
            ++conns;
        }
        const std::chrono::duration<double> took = clock_type::now() - t0;
        const std::string after = once(std::byte{'Q'}, true);
        const std::string conn = before == after ? before : before + "," + after;
        return "bench=crr family=" + fam + " conn=" + conn + " conns=" + std::to_string(conns) +
               " seconds=" + fmt("%.2f", took.count()) +
               " cps=" + fmt("%.1f", static_cast<double>(conns) / took.count());
    }
    }
    return {};
}

} // namespace

int main(int argc, char* argv[]) {
    std::signal(SIGPIPE, SIG_IGN);
    try {
        const auto parsed = parse_options(dibs::tools::arguments(argc, argv));
        if (!parsed) {
            std::fputs(usage_text.data(), stdout);
            return 0;
        }
        const options& o = *parsed;
        // a stuck run (a peer that never answers) ends here instead of hanging the VM
        alarm(static_cast<unsigned>(o.duration) + 300);
        if (o.role == "client") {
            std::printf("%s\n", run_client(o, o.port).c_str());
            return 0;
        }
        const listener l(o.fam, o.addr, o.port);
        if (o.role == "server") {
            std::printf("dibs-smc-bench: server on %s\n", l.name().c_str());
            std::fflush(stdout);
            serve(o, l);
            return 0;
        }
        std::exception_ptr server_error;
        std::thread server([&] {
            try {
                serve(o, l);
            } catch (...) {
                server_error = std::current_exception();
            }
        });
        std::string line;
        try {
            line = run_client(o, l.port());
        } catch (const std::exception& e) {
            // the server thread may wait for a connection that will not come: do not join it
            std::fprintf(stderr, "dibs-smc-bench: %s\n", e.what());
            std::fflush(stderr);
            std::_Exit(dynamic_cast<const check_failure*>(&e) ? exit_check : exit_conn);
        }
        server.join();
        if (server_error) {
            std::rethrow_exception(server_error);
        }
        std::printf("%s\n", line.c_str());
        return 0;
    } catch (const usage_error& e) {
        std::fprintf(stderr, "dibs-smc-bench: %s\n", e.what());
        return exit_usage;
    } catch (const check_failure& e) {
        std::fprintf(stderr, "dibs-smc-bench: FAIL: %s\n", e.what());
        return exit_check;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dibs-smc-bench: %s\n", e.what());
        return exit_conn;
    }
}
