// SPDX-License-Identifier: GPL-2.0
//
// smc-sock-test - AF_SMC socket tests for SMC-D over dibs (run inside the VM by
// tests/smc/smc-case.sh): echo, bulk, concurrent and garbage, each checking the SMC mode of
// its connections with smc_diag. `smc-sock-test --help` describes them.
#include "cli.hpp"
#include "raw_clc.hpp"
#include "smc_sock.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <sys/epoll.h>

namespace {

using namespace dibs::smc_test;
using clock_type = std::chrono::steady_clock;

constexpr std::string_view usage_text = R"(usage: smc-sock-test COMMAND [OPTIONS]

AF_SMC socket tests over IPv4 (SMC-D over dibs). Every connection's SMC mode is read from
smc_diag and must match --expect. Without --role, one process runs the server (a thread) and
the client; with --role server|client the two halves run as separate processes (same --port).

Commands:
  echo        one connection, --count messages of sizes 1 B .. 1 MiB, each echoed and compared
  bulk        the client sends --bytes in --chunk writes with a 64-bit hash; the server checks
              length and hash and reports MB/s. --bytes 0: send until the connection breaks
              (for peer-kill and device-removal tests; the sender prints "bulk: streaming")
  concurrent  --conns connections open at once (--threads connect them), each echoing --count
              messages; all must succeed
  garbage     an AF_SMC listener gets plain TCP connections with CLC-like junk (they fall back,
              0x03010000, and their bytes are echoed), then, over a TUN interface, hand-made
              TCP connections with the SMC option carrying malformed CLC messages (the listener
              must reset, close or decline each, within --timeout); finally a proper AF_SMC
              connection must work in the --expect mode. Needs root and the tun module.

Options:
  --tcp             AF_INET instead of AF_SMC (no mode check)
  --addr A          server address (default 127.0.0.1)
  --port P          server port (default: any free port; required with --role)
  --role R          server or client (default: both, in one process)
  --expect M        smcd | fallback | fallback=0xREASON | any (default: smcd; any with --tcp).
                    fallback=R also matches the peer that fell back because the other side
                    declined with R (reason 0x05000000, peer diagnosis R)
  --timeout S       give up when a socket makes no progress for S seconds (default 20)
  --count N         echo: messages (default 50); concurrent: messages per connection (2)
  --bytes N         bulk: bytes to send, suffix K, M or G (default 64M; 0 = unlimited)
  --chunk N         bulk: write size (default 64K)
  --conns N         concurrent: connections (default 200)
  --threads N       concurrent: connecting threads (default 4)
  --ueid EID        garbage: the user EID for the well-formed v2 proposal (default DIBS-RDMA-SMCD)
  --no-raw          garbage: skip the TUN part
  -h, --help        this text

Exit status: 0 pass, 1 a check failed (data, hash, length, mode), 2 usage, 3 a socket call
failed or the peer went away (reset, broken pipe, early EOF), 4 no progress within --timeout.
)";

// ---------------------------------------------------------------------------------------------
// Options

enum class role { both, server, client };

struct options {
    std::string command;
    family fam = family::smc;
    std::string addr = "127.0.0.1";
    std::uint16_t port = 0;
    role r = role::both;
    std::optional<mode_expectation> expect;
    int timeout_ms = 20000;
    std::optional<std::size_t> count;
    std::uint64_t bytes = 64ULL << 20;
    std::size_t chunk = 64 * 1024;
    std::size_t conns = 200;
    std::size_t threads = 4;
    std::string ueid = "DIBS-RDMA-SMCD";
    bool raw = true;

    [[nodiscard]] mode_expectation want() const {
        if (expect) {
            return *expect;
        }
        return mode_expectation(fam == family::smc ? "smcd" : "any");
    }
};

[[nodiscard]] std::uint64_t parse_size(std::string_view text, std::string_view opt) {
    std::uint64_t v = 0;
    const auto* end = text.data() + text.size();
    const auto [p, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc{} || p == text.data()) {
        throw usage_error(std::string(opt) + ": not a number: '" + std::string(text) + "'");
    }
    std::uint64_t mult = 1;
    const std::string_view suffix(p, static_cast<std::size_t>(end - p));
    if (suffix == "K" || suffix == "k") {
        mult = 1ULL << 10;
    } else if (suffix == "M" || suffix == "m") {
        mult = 1ULL << 20;
    } else if (suffix == "G" || suffix == "g") {
        mult = 1ULL << 30;
    } else if (!suffix.empty()) {
        throw usage_error(std::string(opt) + ": bad suffix in '" + std::string(text) + "'");
    }
    return v * mult;
}

/// The command line (CLI11, as every tool of the tree); command "help" for --help.
[[nodiscard]] options parse_options(std::span<const std::string_view> args) {
    options o;
    bool help = false;
    bool tcp = false;
    bool no_raw = false;
    std::string role_text = "both";
    std::optional<std::string> expect;
    std::optional<std::string> port;
    std::optional<std::string> timeout;
    std::optional<std::string> count;
    std::optional<std::string> bytes;
    std::optional<std::string> chunk;
    std::optional<std::string> conns;
    std::optional<std::string> threads;
    const auto app = dibs::tools::make_app("smc-sock-test");
    app->add_flag("-h,--help", help);
    app->add_flag("--tcp", tcp);
    app->add_flag("--no-raw", no_raw);
    app->add_option("--addr", o.addr);
    app->add_option("--port", port);
    app->add_option("--role", role_text)->check(CLI::IsMember({"server", "client", "both"}));
    app->add_option("--expect", expect);
    app->add_option("--timeout", timeout);
    app->add_option("--count", count);
    app->add_option("--bytes", bytes);
    app->add_option("--chunk", chunk);
    app->add_option("--conns", conns);
    app->add_option("--threads", threads);
    app->add_option("--ueid", o.ueid);
    app->add_option("COMMAND", o.command);
    try {
        dibs::tools::parse(*app, args);
    } catch (const dibs::tools::error& e) {
        throw usage_error(std::string(e.what()) + " (try --help)");
    }
    if (help) {
        o.command = "help";
        return o;
    }
    const auto number = [](const std::optional<std::string>& text, std::string_view opt,
                           std::uint64_t max, std::uint64_t fallback) {
        if (!text) {
            return fallback;
        }
        const std::uint64_t v = parse_size(*text, opt);
        if (v > max) {
            throw usage_error(std::string(opt) + ": at most " + std::to_string(max));
        }
        return v;
    };
    o.fam = tcp ? family::tcp : family::smc;
    o.raw = !no_raw;
    o.r =
        role_text == "server" ? role::server : (role_text == "client" ? role::client : role::both);
    if (expect) {
        o.expect = mode_expectation(*expect);
    }
    o.port = static_cast<std::uint16_t>(number(port, "--port", 65535, 0));
    o.timeout_ms = static_cast<int>(number(timeout, "--timeout", 3600, 20)) * 1000;
    if (count) {
        o.count = number(count, "--count", 1000000, 0);
    }
    o.bytes = bytes ? parse_size(*bytes, "--bytes") : o.bytes;
    o.chunk = number(chunk, "--chunk", 64ULL << 20, o.chunk);
    o.conns = number(conns, "--conns", 100000, o.conns);
    o.threads = number(threads, "--threads", 256, o.threads);
    if (o.command.empty()) {
        throw usage_error("no command (try --help)");
    }
    if (o.r != role::both && o.port == 0) {
        throw usage_error("--role " + std::string(o.r == role::server ? "server" : "client") +
                          " needs --port");
    }
    if (o.chunk == 0 || o.conns == 0 || o.threads == 0 || o.timeout_ms <= 0) {
        throw usage_error("--chunk, --conns, --threads and --timeout must be positive");
    }
    return o;
}

void say(const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
}

[[nodiscard]] std::string mbps(std::uint64_t bytes, double seconds) {
    std::array<char, 64> buf{};
    std::snprintf(buf.data(), buf.size(), "%.1f MB/s",
                  seconds > 0 ? static_cast<double>(bytes) / seconds / 1e6 : 0.0);
    return buf.data();
}

[[nodiscard]] std::string seconds(double s) {
    std::array<char, 32> buf{};
    std::snprintf(buf.data(), buf.size(), "%.2f s", s);
    return buf.data();
}

[[nodiscard]] std::string hex64(std::uint64_t v) {
    std::array<char, 24> buf{};
    std::snprintf(buf.data(), buf.size(), "0x%016llx", static_cast<unsigned long long>(v));
    return buf.data();
}

// ---------------------------------------------------------------------------------------------
// epoll

class epoller {
public:
    epoller() : fd_(epoll_create1(EPOLL_CLOEXEC)) {
        if (!fd_) {
            throw_sys("epoll_create1");
        }
    }
    void add(int fd, std::uint32_t events) { ctl(EPOLL_CTL_ADD, fd, events); }
    void mod(int fd, std::uint32_t events) { ctl(EPOLL_CTL_MOD, fd, events); }
    void del(int fd) { ctl(EPOLL_CTL_DEL, fd, 0); }
    [[nodiscard]] std::span<epoll_event> wait(int timeout_ms) {
        for (;;) {
            const int n =
                epoll_wait(fd_.get(), events_.data(), static_cast<int>(events_.size()), timeout_ms);
            if (n >= 0) {
                return std::span(events_).first(static_cast<std::size_t>(n));
            }
            if (errno != EINTR) {
                throw_sys("epoll_wait");
            }
        }
    }

private:
    void ctl(int op, int fd, std::uint32_t events) {
        epoll_event ev{};
        ev.events = events;
        ev.data.fd = fd;
        if (epoll_ctl(fd_.get(), op, fd, &ev) < 0) {
            throw_sys("epoll_ctl");
        }
    }
    unique_fd fd_;
    std::array<epoll_event, 256> events_{};
};

// ---------------------------------------------------------------------------------------------
// The echo server: serves connections with epoll, echoing every byte until the client closes.

struct served_conn {
    std::string name;
    std::string mode;
    std::string error; // empty: closed cleanly
};

class echo_server {
public:
    // strict: a connection error or a mode mismatch ends run() with an exception;
    // otherwise they are recorded and the server goes on.
    echo_server(const listener& l, family f, mode_expectation want, bool strict, int timeout_ms)
        : l_(l)
        , f_(f)
        , want_(std::move(want))
        , strict_(strict)
        , timeout_ms_(timeout_ms) {}

    // Serves until `total` connections are done (0: until stop() is called).
    void run(std::size_t total) {
        epoller ep;
        ep.add(l_.fd(), EPOLLIN);
        std::unordered_map<int, state> conns;
        std::size_t done = 0;
        auto last_progress = clock_type::now();
        while ((total == 0 || done < total) && !stop_) {
            const auto events = ep.wait(100);
            if (events.empty()) {
                if (total != 0 &&
                    clock_type::now() - last_progress > std::chrono::milliseconds(timeout_ms_)) {
                    throw timeout_error(l_.name() + ": served " + std::to_string(done) + " of " +
                                        std::to_string(total) + " connections (" +
                                        std::to_string(conns.size()) + " open), no progress in " +
                                        std::to_string(timeout_ms_) + " ms");
                }
                continue;
            }
            last_progress = clock_type::now();
            for (const epoll_event& ev : events) {
                if (ev.data.fd == l_.fd()) {
                    accept_all(ep, conns);
                    continue;
                }
                const auto it = conns.find(ev.data.fd);
                if (it == conns.end()) {
                    continue;
                }
                bool finished = false;
                try {
                    finished = step(ep, it->second, ev.events);
                } catch (const std::exception& e) {
                    if (strict_) {
                        throw;
                    }
                    it->second.error = e.what();
                    finished = true;
                }
                if (finished) {
                    record(it->second);
                    ep.del(it->first);
                    conns.erase(it);
                    ++done;
                }
            }
        }
    }

    void stop() noexcept { stop_ = true; }

    [[nodiscard]] std::vector<served_conn> served() const {
        const std::scoped_lock lock(mutex_);
        return served_;
    }
    [[nodiscard]] std::size_t max_open() const noexcept { return max_open_; }

private:
    struct state {
        connection c;
        std::string mode;
        std::string error;
        std::vector<std::byte> buf = std::vector<std::byte>(64 * 1024);
        std::size_t head = 0; // pending echo bytes are buf[head, tail)
        std::size_t tail = 0;
        bool eof = false;
    };

    void accept_all(epoller& ep, std::unordered_map<int, state>& conns) {
        for (;;) {
            connection c;
            try {
                c = l_.accept(0);
            } catch (const timeout_error&) {
                return; // nothing more to accept now
            }
            state s;
            if (f_ == family::smc) {
                const auto mode = query_mode(c.fd());
                s.mode = mode ? mode_text(*mode) : "not in smc_diag";
                if (!mode || !want_.matches(*mode)) {
                    const std::string msg =
                        c.name() + ": mode " + s.mode + ", expected " + want_.str();
                    if (strict_) {
                        throw check_failure(msg);
                    }
                    s.error = msg;
                }
            } else {
                s.mode = "TCP";
            }
            const int fd = c.fd();
            s.c = std::move(c);
            ep.add(fd, EPOLLIN);
            conns.emplace(fd, std::move(s));
            max_open_ = std::max(max_open_, conns.size());
        }
    }

    // One readiness event; true when the connection is finished.
    static bool step(epoller& ep, state& s, std::uint32_t events) {
        if (s.head == s.tail && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0 && !s.eof) {
            const ssize_t n = ::recv(s.c.fd(), s.buf.data(), s.buf.size(), 0);
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                throw_sys("recv on " + s.c.name());
            }
            if (n == 0) {
                s.eof = true;
            } else if (n > 0) {
                s.head = 0;
                s.tail = static_cast<std::size_t>(n);
            }
        }
        while (s.head < s.tail) {
            const ssize_t n =
                ::send(s.c.fd(), s.buf.data() + s.head, s.tail - s.head, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    break;
                }
                throw_sys("send on " + s.c.name());
            }
            s.head += static_cast<std::size_t>(n);
        }
        if (s.head < s.tail) {
            ep.mod(s.c.fd(), EPOLLOUT);
            return false;
        }
        if (s.eof) {
            return true;
        }
        ep.mod(s.c.fd(), EPOLLIN);
        return false;
    }

    void record(const state& s) {
        const std::scoped_lock lock(mutex_);
        served_.push_back({s.c.name(), s.mode, s.error});
    }

    const listener& l_;
    family f_;
    mode_expectation want_;
    bool strict_;
    int timeout_ms_;
    std::atomic<bool> stop_ = false;
    mutable std::mutex mutex_;
    std::vector<served_conn> served_;
    std::size_t max_open_ = 0;
};

// Runs a server body on a thread; join() rethrows what it threw.
class server_thread {
public:
    explicit server_thread(std::function<void()> body)
        : thread_([this, body = std::move(body)] {
            try {
                body();
            } catch (...) {
                error_ = std::current_exception();
            }
        }) {}
    server_thread(const server_thread&) = delete;
    server_thread& operator=(const server_thread&) = delete;
    ~server_thread() {
        if (thread_.joinable()) {
            thread_.join();
        }
    }
    void join() {
        thread_.join();
        if (error_) {
            std::rethrow_exception(error_);
        }
    }
    // Called while the client's exception is handled: the server usually failed too (reset,
    // EOF). A failed check on the server side is the cause and is thrown instead; any other
    // server error is printed, and the caller rethrows the client's.
    void join_after_client_failed(const std::string& command) {
        try {
            join();
        } catch (const check_failure&) {
            throw;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "smc-sock-test %s: server side: %s\n", command.c_str(), e.what());
        }
    }

private:
    std::exception_ptr error_;
    std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// The echo client: drives many connections at once, each through its list of messages.

struct client_conn {
    connection c;
    std::vector<std::size_t> sizes; // message sizes, exchanged one after another
    std::uint64_t seed = 0;
    std::size_t msg = 0;
    std::vector<std::byte> out;
    std::size_t sent = 0;
    std::size_t rcvd = 0;
    bool shut = false;
    bool done = false;

    void start_message() {
        out.resize(sizes[msg]);
        fill_pattern(out, seed * 1000003 + msg);
        sent = 0;
        rcvd = 0;
    }
};

// Exchanges every connection's messages (sending and receiving interleaved, so no message size
// can deadlock), then half-closes and waits for the server's EOF. Returns the bytes echoed.
std::uint64_t run_echo_clients(std::vector<client_conn>& conns, int timeout_ms) {
    epoller ep;
    std::unordered_map<int, client_conn*> by_fd;
    std::size_t open = 0;
    for (auto& cc : conns) {
        cc.msg = 0;
        cc.start_message();
        by_fd.emplace(cc.c.fd(), &cc);
        ep.add(cc.c.fd(), EPOLLIN | EPOLLOUT);
        ++open;
    }
    std::vector<std::byte> in(256 * 1024);
    std::uint64_t echoed = 0;
    auto last_progress = clock_type::now();
    while (open > 0) {
        const auto events = ep.wait(100);
        if (events.empty()) {
            if (clock_type::now() - last_progress > std::chrono::milliseconds(timeout_ms)) {
                std::string stuck;
                int shown = 0;
                for (const auto& cc : conns) {
                    if (!cc.done && shown++ < 3) {
                        stuck += "\n  " + cc.c.name() + ": message " + std::to_string(cc.msg) +
                                 ", sent " + std::to_string(cc.sent) + ", echoed " +
                                 std::to_string(cc.rcvd) + " of " + std::to_string(cc.out.size());
                    }
                }
                throw timeout_error(std::to_string(open) + " of " + std::to_string(conns.size()) +
                                    " connections made no progress in " +
                                    std::to_string(timeout_ms) + " ms:" + stuck);
            }
            continue;
        }
        last_progress = clock_type::now();
        for (const epoll_event& ev : events) {
            client_conn& cc = *by_fd.at(ev.data.fd);
            if (cc.done) {
                continue;
            }
            if (!cc.shut && cc.sent < cc.out.size() && (ev.events & (EPOLLOUT | EPOLLERR)) != 0) {
                const ssize_t n = ::send(cc.c.fd(), cc.out.data() + cc.sent,
                                         cc.out.size() - cc.sent, MSG_NOSIGNAL);
                if (n < 0 && errno != EAGAIN && errno != EINTR) {
                    throw_sys("send on " + cc.c.name() + " (message " + std::to_string(cc.msg) +
                              ", " + std::to_string(cc.sent) + " bytes sent)");
                }
                cc.sent += n > 0 ? static_cast<std::size_t>(n) : 0;
            }
            if ((ev.events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
                const ssize_t n = ::recv(cc.c.fd(), in.data(), in.size(), 0);
                if (n < 0 && errno != EAGAIN && errno != EINTR) {
                    throw_sys("recv on " + cc.c.name() + " (message " + std::to_string(cc.msg) +
                              ", " + std::to_string(cc.rcvd) + " bytes echoed)");
                }
                if (n == 0) {
                    if (!cc.shut) {
                        throw eof_error(cc.c.name() + ": server closed during message " +
                                        std::to_string(cc.msg) + " after " +
                                        std::to_string(cc.rcvd) + " of " +
                                        std::to_string(cc.out.size()) + " echoed bytes");
                    }
                    cc.done = true;
                    ep.del(cc.c.fd());
                    cc.c.close();
                    --open;
                    continue;
                }
                if (n > 0) {
                    const auto got = static_cast<std::size_t>(n);
                    if (cc.shut || cc.rcvd + got > cc.sent) {
                        throw check_failure(cc.c.name() + ": " + std::to_string(got) +
                                            " bytes echoed that were never sent (message " +
                                            std::to_string(cc.msg) + ")");
                    }
                    const auto want = std::span(cc.out).subspan(cc.rcvd, got);
                    const auto mis = std::mismatch(want.begin(), want.end(), in.begin());
                    if (mis.first != want.end()) {
                        throw check_failure(
                            cc.c.name() + ": echoed data differs at byte " +
                            std::to_string(cc.rcvd +
                                           static_cast<std::size_t>(mis.first - want.begin())) +
                            " of message " + std::to_string(cc.msg) + " (" +
                            std::to_string(cc.out.size()) + " bytes)");
                    }
                    cc.rcvd += got;
                    echoed += got;
                }
            }
            if (!cc.shut && cc.rcvd == cc.out.size()) {
                if (++cc.msg < cc.sizes.size()) {
                    cc.start_message();
                } else {
                    cc.shut = true;
                    cc.c.shutdown_write();
                    ep.mod(cc.c.fd(), EPOLLIN);
                }
            }
            if (!cc.shut && cc.sent == cc.out.size()) {
                ep.mod(cc.c.fd(), EPOLLIN);
            } else if (!cc.shut) {
                ep.mod(cc.c.fd(), EPOLLIN | EPOLLOUT);
            }
        }
    }
    return echoed;
}

// Checks the mode of many client connections with one smc_diag dump; returns "N SMCD" etc.
std::string check_modes(const std::vector<client_conn>& conns, const mode_expectation& want) {
    const auto table = smc_diag_dump();
    std::map<std::string, std::size_t> tally;
    for (const auto& cc : conns) {
        const auto it = table.find(socket_inode(cc.c.fd()));
        if (it == table.end()) {
            throw check_failure(cc.c.name() + ": not listed by smc_diag");
        }
        if (!want.matches(it->second)) {
            throw check_failure(cc.c.name() + ": mode " + mode_text(it->second) + ", expected " +
                                want.str());
        }
        ++tally[mode_text(it->second)];
    }
    std::string text;
    for (const auto& [mode, n] : tally) {
        text += (text.empty() ? "" : ", ") + std::to_string(n) + " " + mode;
    }
    return text;
}

std::string tally(const std::vector<served_conn>& served) {
    std::map<std::string, std::size_t> t;
    for (const auto& s : served) {
        ++t[s.mode];
    }
    std::string text;
    for (const auto& [mode, n] : t) {
        text += (text.empty() ? "" : ", ") + std::to_string(n) + " " + mode;
    }
    return text;
}

// Message sizes for echo: small, around the SMC buffer sizes (16 KiB .. 1 MiB), odd ones.
[[nodiscard]] std::vector<std::size_t> echo_sizes(std::size_t count) {
    static constexpr std::array<std::size_t, 14> sizes{
        1, 2, 7, 64, 1000, 4096, 16383, 16384, 16385, 65536, 100003, 262144, 1 << 20, 1500};
    std::vector<std::size_t> v;
    for (std::size_t i = 0; i < count; ++i) {
        v.push_back(sizes[i % sizes.size()]);
    }
    return v;
}

// Echo server for `total` connections, on a thread (role both) or here (role server).
template <typename Client>
int serve_and_run(const options& o, std::size_t total, Client client) {
    const std::string bind_addr = o.addr;
    if (o.r == role::server) {
        const listener l(o.fam, bind_addr, o.port);
        say(o.command + ": server listening on " + l.name());
        echo_server srv(l, o.fam, o.want(), true, o.timeout_ms);
        srv.run(total);
        say(o.command + ": server: " + std::to_string(total) + " connection(s) served, " +
            tally(srv.served()) + ", at most " + std::to_string(srv.max_open()) + " open at once");
        return exit_ok;
    }
    if (o.r == role::client) {
        client(o.port);
        return exit_ok;
    }
    const listener l(o.fam, bind_addr, o.port);
    echo_server srv(l, o.fam, o.want(), true, o.timeout_ms);
    server_thread st([&] { srv.run(total); });
    try {
        client(l.port());
    } catch (...) {
        srv.stop();
        st.join_after_client_failed(o.command);
        throw;
    }
    st.join();
    say(o.command + ": server: " + std::to_string(total) + " connection(s) served, " +
        tally(srv.served()) + ", at most " + std::to_string(srv.max_open()) + " open at once");
    return exit_ok;
}

// ---------------------------------------------------------------------------------------------
// echo

int cmd_echo(const options& o) {
    const std::size_t count = o.count.value_or(50);
    return serve_and_run(o, 1, [&](std::uint16_t port) {
        std::vector<client_conn> conns(1);
        conns[0].c = connect_to(o.fam, o.addr, port, o.r == role::client ? o.timeout_ms : 0);
        conns[0].sizes = echo_sizes(count);
        conns[0].seed = 1;
        const std::string mode =
            o.fam == family::smc ? check_mode(conns[0].c, o.want()) : std::string("TCP");
        say("echo: " + conns[0].c.name() + ": mode " + mode);
        const auto t0 = clock_type::now();
        const std::uint64_t bytes = run_echo_clients(conns, o.timeout_ms);
        const std::chrono::duration<double> took = clock_type::now() - t0;
        say("echo: " + std::to_string(count) + " messages, " + std::to_string(bytes) +
            " bytes echoed and compared in " + seconds(took.count()) + ": ok");
    });
}

// ---------------------------------------------------------------------------------------------
// concurrent

int cmd_concurrent(const options& o) {
    const std::size_t count = o.count.value_or(2);
    return serve_and_run(o, o.conns, [&](std::uint16_t port) {
        std::vector<client_conn> conns(o.conns);
        std::vector<std::exception_ptr> errors(o.threads);
        const auto t0 = clock_type::now();
        {
            std::vector<std::thread> threads;
            for (std::size_t t = 0; t < o.threads; ++t) {
                threads.emplace_back([&, t] {
                    try {
                        for (std::size_t i = t; i < o.conns; i += o.threads) {
                            conns[i].c = connect_to(o.fam, o.addr, port,
                                                    o.r == role::client ? o.timeout_ms : 0);
                        }
                    } catch (...) {
                        errors[t] = std::current_exception();
                    }
                });
            }
            for (auto& th : threads) {
                th.join();
            }
        }
        for (const auto& e : errors) {
            if (e) {
                std::rethrow_exception(e);
            }
        }
        const std::chrono::duration<double> connect_time = clock_type::now() - t0;
        const std::string modes =
            o.fam == family::smc ? check_modes(conns, o.want()) : std::string("TCP");
        say("concurrent: " + std::to_string(o.conns) + " connections open at once after " +
            seconds(connect_time.count()) + " (" + std::to_string(o.threads) +
            " threads): " + modes);
        for (std::size_t i = 0; i < conns.size(); ++i) {
            conns[i].seed = i + 1;
            for (std::size_t m = 0; m < count; ++m) {
                conns[i].sizes.push_back(1 + (i * 7919 + m * 104729) % 40000);
            }
        }
        const auto t1 = clock_type::now();
        const std::uint64_t bytes = run_echo_clients(conns, o.timeout_ms);
        const std::chrono::duration<double> took = clock_type::now() - t1;
        say("concurrent: " + std::to_string(o.conns) + " x " + std::to_string(count) +
            " messages, " + std::to_string(bytes) + " bytes echoed and compared in " +
            seconds(took.count()) + ": ok");
    });
}

// ---------------------------------------------------------------------------------------------
// bulk: header "SMCBULK1" + total (u64 LE, 0 = unlimited), data, sender's hash (u64 LE);
// the receiver answers "BULK-OK!" or "BULK-BAD" + its hash.

constexpr std::string_view bulk_magic = "SMCBULK1";

[[nodiscard]] std::span<const std::byte> as_bytes(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

void bulk_send(const connection& c, const options& o) {
    std::array<std::byte, 16> header{};
    std::memcpy(header.data(), bulk_magic.data(), 8);
    put_u64(std::span(header).subspan<8, 8>(), o.bytes);
    // Chunks come from a pool of random bytes at shifting offsets, so consecutive chunks differ.
    std::vector<std::byte> pool(o.chunk + 4096);
    fill_pattern(pool, 42);
    stream_hash hash;
    std::uint64_t sent = 0;
    try {
        c.send_all(header, o.timeout_ms);
        say(std::string("bulk: streaming ") +
            (o.bytes ? std::to_string(o.bytes) + " bytes" : "until the connection breaks") +
            " on " + c.name());
        for (std::uint64_t i = 0; o.bytes == 0 || sent < o.bytes; ++i) {
            const std::size_t n =
                o.bytes == 0
                    ? o.chunk
                    : static_cast<std::size_t>(std::min<std::uint64_t>(o.chunk, o.bytes - sent));
            const auto chunk = std::span<const std::byte>(pool).subspan((i * 1031) % 4096, n);
            c.send_all(chunk, o.timeout_ms);
            hash.update(chunk);
            sent += n;
        }
    } catch (const sys_error& e) {
        throw sys_error(std::string(e.what()).substr(0, std::string(e.what()).rfind(':')) +
                            " after " + std::to_string(sent) + " bytes",
                        e.err());
    } catch (const timeout_error& e) {
        throw timeout_error(std::string(e.what()) + " after " + std::to_string(sent) + " bytes");
    }
    std::array<std::byte, 8> trailer{};
    put_u64(trailer, hash.digest());
    c.send_all(trailer, o.timeout_ms);
    std::array<std::byte, 16> verdict{};
    c.recv_exact(verdict, o.timeout_ms, "the receiver's verdict");
    const std::uint64_t theirs = get_u64(std::span<const std::byte>(verdict).subspan<8, 8>());
    if (std::memcmp(verdict.data(), "BULK-OK!", 8) != 0 || theirs != hash.digest()) {
        throw check_failure("bulk: " + c.name() + ": the receiver rejected the stream (hash " +
                            hex64(theirs) + ", sent " + hex64(hash.digest()) + ")");
    }
    say("bulk: sent " + std::to_string(sent) + " bytes, hash " + hex64(hash.digest()) +
        " confirmed by the receiver");
}

void bulk_receive(const connection& c, const options& o) {
    std::array<std::byte, 16> header{};
    c.recv_exact(header, o.timeout_ms, "the bulk header");
    if (std::memcmp(header.data(), bulk_magic.data(), 8) != 0) {
        throw check_failure("bulk: " + c.name() + ": bad header");
    }
    const std::uint64_t total = get_u64(std::span<const std::byte>(header).subspan<8, 8>());
    std::vector<std::byte> buf(std::max<std::size_t>(o.chunk, 64 * 1024));
    stream_hash hash;
    std::uint64_t got = 0;
    const auto t0 = clock_type::now();
    try {
        while (total == 0 || got < total) {
            const std::size_t want =
                total == 0
                    ? buf.size()
                    : static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), total - got));
            const std::size_t n = c.recv_some(std::span(buf).first(want), o.timeout_ms);
            if (n == 0) {
                throw eof_error(
                    c.name() + ": sender closed the connection after " + std::to_string(got) +
                    " of " + (total ? std::to_string(total) : std::string("unlimited")) + " bytes");
            }
            hash.update(std::span(buf).first(n));
            got += n;
        }
    } catch (const sys_error& e) {
        throw sys_error(std::string(e.what()).substr(0, std::string(e.what()).rfind(':')) +
                            " after " + std::to_string(got) + " bytes",
                        e.err());
    } catch (const timeout_error& e) {
        throw timeout_error(std::string(e.what()) + " after " + std::to_string(got) + " bytes");
    }
    const std::chrono::duration<double> took = clock_type::now() - t0;
    std::array<std::byte, 8> trailer{};
    c.recv_exact(trailer, o.timeout_ms, "the sender's hash");
    const std::uint64_t theirs = get_u64(trailer);
    const bool ok = theirs == hash.digest();
    std::array<std::byte, 16> verdict{};
    std::memcpy(verdict.data(), ok ? "BULK-OK!" : "BULK-BAD", 8);
    put_u64(std::span(verdict).subspan<8, 8>(), hash.digest());
    c.send_all(verdict, o.timeout_ms);
    if (!ok) {
        throw check_failure("bulk: " + c.name() + ": hash mismatch after " + std::to_string(got) +
                            " bytes: received " + hex64(hash.digest()) + ", sender says " +
                            hex64(theirs));
    }
    std::array<std::byte, 1> eof{};
    if (c.recv_some(eof, o.timeout_ms) != 0) {
        throw check_failure("bulk: " + c.name() + ": data after the end of the stream");
    }
    say("bulk: received " + std::to_string(got) + " bytes, hash " + hex64(hash.digest()) +
        " matches, " + mbps(got, took.count()) + " (" + seconds(took.count()) + ")");
}

int cmd_bulk(const options& o) {
    const auto client = [&](std::uint16_t port) {
        const connection c =
            connect_to(o.fam, o.addr, port, o.r == role::client ? o.timeout_ms : 0);
        const std::string mode = o.fam == family::smc ? check_mode(c, o.want()) : "TCP";
        say("bulk: " + c.name() + ": mode " + mode);
        bulk_send(c, o);
    };
    const auto server = [&](const listener& l) {
        const connection c = l.accept(o.timeout_ms);
        const std::string mode = o.fam == family::smc ? check_mode(c, o.want()) : "TCP";
        say("bulk: " + c.name() + ": mode " + mode);
        bulk_receive(c, o);
    };
    if (o.r == role::client) {
        client(o.port);
        return exit_ok;
    }
    const listener l(o.fam, o.addr, o.port);
    if (o.r == role::server) {
        say("bulk: server listening on " + l.name());
        server(l);
        return exit_ok;
    }
    server_thread st([&] { server(l); });
    try {
        client(l.port());
    } catch (...) {
        st.join_after_client_failed(o.command);
        throw;
    }
    st.join();
    return exit_ok;
}

// ---------------------------------------------------------------------------------------------
// garbage

int cmd_garbage(const options& o) {
    if (o.r != role::both) {
        throw usage_error("garbage runs both ends itself (no --role)");
    }
    if (o.fam != family::smc) {
        throw usage_error("garbage tests an AF_SMC listener (no --tcp)");
    }
    // The TUN peer reaches the listener on the TUN address, so listen on every address then.
    const listener l(family::smc, o.raw ? "0.0.0.0" : o.addr, o.port);
    echo_server srv(l, family::smc, mode_expectation("any"), false, o.timeout_ms);
    server_thread st([&] { srv.run(0); });
    struct stopper {
        echo_server& s;
        ~stopper() { s.stop(); }
    } stop_at_exit{srv};
    int failures = 0;
    const auto fail = [&](const std::string& what) {
        std::fprintf(stderr, "smc-sock-test garbage: FAIL: %s\n", what.c_str());
        ++failures;
    };

    // 1. Plain TCP clients: no SMC option in their SYN, so the listener falls back (0x03010000)
    // and their CLC-like bytes are ordinary data, echoed back unchanged.
    std::vector<std::pair<std::string, std::vector<std::byte>>> plain;
    {
        std::vector<std::byte> eye{std::byte{0xE2}, std::byte{0xD4}, std::byte{0xC3},
                                   std::byte{0xC4}};
        eye.resize(200);
        fill_pattern(std::span(eye).subspan(4), 11);
        plain.emplace_back("SMC-D eye-catcher + junk", std::move(eye));
        std::vector<std::byte> random(4096);
        fill_pattern(random, 12);
        plain.emplace_back("4 KiB random bytes", std::move(random));
        for (auto& cs : clc_cases(o.ueid)) {
            if (cs.name.find("well-formed") != std::string::npos) {
                plain.emplace_back("a whole CLC proposal", std::move(cs.bytes));
            }
        }
    }
    std::size_t plain_conns = 0;
    for (const auto& [name, bytes] : plain) {
        try {
            const connection c = connect_to(family::tcp, "127.0.0.1", l.port());
            ++plain_conns;
            c.send_all(bytes, o.timeout_ms);
            std::vector<std::byte> back(bytes.size());
            c.recv_exact(back, o.timeout_ms, "the echo");
            if (back != bytes) {
                fail("plain TCP, " + name + ": echo differs");
            } else {
                say("garbage: plain TCP, " + name + ": echoed unchanged");
            }
        } catch (const std::exception& e) {
            fail("plain TCP, " + name + ": " + e.what());
        }
    }
    for (const bool reset : {false, true}) { // connect and go away at once: FIN or RST
        try {
            connection c = connect_to(family::tcp, "127.0.0.1", l.port());
            ++plain_conns;
            if (reset) {
                const linger lg{1, 0};
                setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            }
            c.close();
            say(std::string("garbage: plain TCP, connect and ") +
                (reset ? "reset (RST)" : "close (FIN)") + " at once");
        } catch (const std::exception& e) {
            fail(std::string("plain TCP connect/close: ") + e.what());
        }
    }

    const auto proper_echo = [&](const std::string& when) {
        try {
            std::vector<client_conn> conns(1);
            conns[0].c = connect_to(family::smc, "127.0.0.1", l.port());
            conns[0].sizes = echo_sizes(14);
            conns[0].seed = 99;
            const std::string mode = check_mode(conns[0].c, o.want());
            run_echo_clients(conns, o.timeout_ms);
            say("garbage: AF_SMC echo " + when + ": mode " + mode + ", ok");
        } catch (const std::exception& e) {
            fail("AF_SMC echo " + when + ": " + e.what());
        }
    };

    // 2. Crafted CLC messages from a TCP peer whose SYN offers SMC.
    std::size_t raw_conns = 0;
    if (o.raw) {
        tun_peer tun;
        say("garbage: raw TCP peer " + tun_peer::peer_addr() + " on " + tun.ifname());
        for (const auto& cs : clc_cases(o.ueid)) {
            try {
                tun_peer::connection rc(tun, l.port(), 5000);
                ++raw_conns;
                if (!rc.reaction().smc_offered) {
                    fail(cs.name + ": the listener did not offer SMC in its SYN-ACK");
                }
                rc.send(cs.bytes);
                if (cs.fin) {
                    rc.send_fin();
                }
                if (cs.stall) {
                    proper_echo("while a handshake stalls");
                }
                const auto t0 = clock_type::now();
                const raw_reaction& r = rc.await(o.timeout_ms, cs.expect_echo ? 4 : 0);
                const std::chrono::duration<double> took = clock_type::now() - t0;
                const std::string what =
                    cs.name + ": " + r.str() + " after " + seconds(took.count());
                if (cs.expect_echo) {
                    const auto ping = as_bytes("PING");
                    if (!std::ranges::equal(r.data, ping)) {
                        fail(what + " (expected the fallback connection to echo PING)");
                        continue;
                    }
                } else if (!r.any()) {
                    fail(what + " (the listener left the connection hanging)");
                    continue;
                }
                say("garbage: " + what);
            } catch (const std::exception& e) {
                fail(cs.name + ": " + e.what());
            }
        }
    }

    // 3. The listener still serves AF_SMC in the expected mode.
    proper_echo("afterwards");
    srv.stop();
    st.join();

    const auto served = srv.served();
    std::size_t plain_fallbacks = 0;
    for (const auto& s : served) {
        if (s.mode == "TCP 0x03010000") {
            ++plain_fallbacks;
        }
    }
    say("garbage: the listener accepted " + std::to_string(served.size()) +
        " connection(s): " + tally(served));
    if (plain_fallbacks < plain_conns) {
        fail("only " + std::to_string(plain_fallbacks) + " of " + std::to_string(plain_conns) +
             " plain TCP connections fell back with 0x03010000 (peer without SMC)");
    }
    if (failures != 0) {
        throw check_failure(std::to_string(failures) + " garbage check(s) failed");
    }
    say("garbage: " + std::to_string(plain_conns) + " plain TCP and " + std::to_string(raw_conns) +
        " crafted connections handled, listener healthy: ok");
    return exit_ok;
}

} // namespace

int main(int argc, char* argv[]) {
    std::signal(SIGPIPE, SIG_IGN);
    std::string command = "smc-sock-test";
    try {
        const options o = parse_options(dibs::tools::arguments(argc, argv));
        if (o.command == "help") {
            std::fputs(usage_text.data(), stdout);
            return exit_ok;
        }
        command += " " + o.command;
        if (o.command == "echo") {
            return cmd_echo(o);
        }
        if (o.command == "bulk") {
            return cmd_bulk(o);
        }
        if (o.command == "concurrent") {
            return cmd_concurrent(o);
        }
        if (o.command == "garbage") {
            return cmd_garbage(o);
        }
        throw usage_error("unknown command '" + o.command + "' (try --help)");
    } catch (const usage_error& e) {
        std::fprintf(stderr, "%s: %s\n", command.c_str(), e.what());
        return exit_usage;
    } catch (const check_failure& e) {
        std::fprintf(stderr, "%s: FAIL: %s\n", command.c_str(), e.what());
        return exit_check;
    } catch (const timeout_error& e) {
        std::fprintf(stderr, "%s: timeout: %s\n", command.c_str(), e.what());
        return exit_timeout;
    } catch (const std::exception& e) { // sys_error, eof_error
        std::fprintf(stderr, "%s: connection error: %s\n", command.c_str(), e.what());
        return exit_conn;
    }
}
