// SPDX-License-Identifier: GPL-2.0
#include "smc_run.hpp"

#include "cli.hpp"
#include "smc_common.hpp"

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <exception>
#include <limits>
#include <ostream>
#include <system_error>
#include <tuple>

#include <unistd.h>

#ifndef SMC_TOOLS_VERSION
#define SMC_TOOLS_VERSION "0.1"
#endif

namespace dibs::smc::run {
namespace {

constexpr std::string_view help = R"help(NAME
    smc_run - run a TCP program over SMC (AF_SMC) without changing it

SYNOPSIS
    smc_run [-d] [-r SIZE] [-t SIZE] [--] COMMAND [ARG...]
    smc_run -h|--help
    smc_run -v|--version

DESCRIPTION
    smc_run runs COMMAND with the preload library libsmc-preload.so, which
    turns the program's TCP sockets into SMC sockets, like smc_run of IBM's
    smc-tools: every socket(AF_INET or AF_INET6, SOCK_STREAM, 0 or
    IPPROTO_TCP) call, with or without SOCK_NONBLOCK and SOCK_CLOEXEC, creates
    an AF_SMC socket instead (protocol SMCPROTO_SMC for IPv4, SMCPROTO_SMC6
    for IPv6). AF_SMC sockets take the same addresses and TCP socket options.
    The kernel then negotiates SMC (SMC-D over a dibs device such as dibs_lo0,
    or SMC-R) with the peer during the TCP handshake, and falls back to TCP
    on the same connection when the peer or the host cannot do SMC (smcss
    shows the reason).

    If the kernel refuses AF_SMC (e.g. EAFNOSUPPORT: no smc module), the
    library creates the socket the program asked for, so the program always
    runs; -d reports it. Other sockets (UDP, UNIX, ...) are not touched.

    smc_run looks for the library next to its own executable, unless
    SMC_RUN_PRELOAD names it, puts it first in LD_PRELOAD and executes
    COMMAND (searched in PATH). Statically linked and set-user-ID programs
    ignore LD_PRELOAD and keep using TCP.

OPTIONS
    -d, --debug       Log each converted socket (process id, the original
                      family, the new file descriptor) and each fallback to
                      standard error.
    -r, --rcvbuf SIZE Set SO_RCVBUF of each converted socket to SIZE bytes
                      (suffix K or M for KiB, MiB); the kernel caps it at
                      net.core.rmem_max and derives the SMC receive buffer
                      (RMB/DMB) size from it.
    -t, --sndbuf SIZE Set SO_SNDBUF likewise (net.core.wmem_max).
    -h, --help        Show this help.
    -v, --version     Show the version (also -V).

ENVIRONMENT
    SMC_RUN_PRELOAD   Path of libsmc-preload.so to use.
    LD_PRELOAD        Kept, after the library.
    smc_run passes its settings to the library in SMC_DEBUG (1 with -d,
    else 0), SMC_RCVBUF and SMC_SNDBUF (bytes), which the library reads;
    setting them yourself with LD_PRELOAD=libsmc-preload.so works as well.

EXIT STATUS
    The exit status of COMMAND, or:
    1     The preload library is missing.
    2     Usage error: unknown option, bad SIZE, no COMMAND.
    126   COMMAND cannot be executed.
    127   COMMAND not found.

EXAMPLES
    smc_run iperf3 -s
        A server whose connections use SMC where the clients can.
    smc_run -d curl http://10.0.0.2/
        Show which sockets became AF_SMC.
    smc_run -r 1M -t 1M ./client
        Ask for 1 MiB buffers.

SEE ALSO
    smcss(8), smcd(8), smc_chk(8), ld.so(8)
)help";

bool is_separator(char c) noexcept {
    return c == ':' || c == ' ' || c == '\t';
}

} // namespace

std::optional<std::uint32_t> parse_size(std::string_view text) noexcept {
    std::uint64_t factor = 1;
    if (!text.empty()) {
        switch (text.back()) {
        case 'k':
        case 'K':
            factor = 1024;
            text.remove_suffix(1);
            break;
        case 'm':
        case 'M':
            factor = 1024 * 1024;
            text.remove_suffix(1);
            break;
        default:
            break;
        }
    }
    std::uint64_t value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc{} || ptr != end || value == 0) {
        return std::nullopt;
    }
    constexpr std::uint64_t max = std::numeric_limits<std::int32_t>::max();
    if (value > max / factor) {
        return std::nullopt;
    }
    return static_cast<std::uint32_t>(value * factor);
}

settings parse_args(std::span<const std::string_view> args) {
    settings s;
    std::optional<std::string> rcvbuf;
    std::optional<std::string> sndbuf;
    const auto app = tools::make_app("smc_run");
    app->prefix_command(); // the options end at COMMAND
    app->add_flag("-h,--help", s.help);
    app->add_flag("-v,-V,--version", s.version);
    app->add_flag("-d,--debug", s.debug);
    app->add_option("-r,--rcvbuf", rcvbuf);
    app->add_option("-t,--sndbuf", sndbuf);
    tools::parse(*app, args);
    for (const auto& [name, text, size] :
         {std::tuple{"rcvbuf", &rcvbuf, &s.rcvbuf}, std::tuple{"sndbuf", &sndbuf, &s.sndbuf}}) {
        if (*text) {
            *size = parse_size(**text);
            if (!*size) {
                throw error::usage(std::string{"--"} + name + ": invalid size " +
                                   tools::quote(**text) +
                                   " (bytes, or with K or M; at most 2147483647)");
            }
        }
    }
    // The command is what CLI11 left; args keeps the strings it refers to.
    std::size_t first = args.size() - app->remaining().size();
    if (first < args.size() && args[first] == "--") {
        ++first;
    } else if (first < args.size() && args[first].starts_with("-")) {
        throw error::usage("unknown option " + tools::quote(args[first]));
    }
    s.command.assign(args.begin() + static_cast<std::ptrdiff_t>(first), args.end());
    if (s.command.empty() && !s.help && !s.version) {
        throw error::usage("missing COMMAND");
    }
    return s;
}

std::filesystem::path preload_path(const std::filesystem::path& exe, const char* override) {
    if (override != nullptr && *override != '\0') {
        return override;
    }
    return exe.parent_path() / preload_name;
}

std::string prepend_preload(std::string_view existing, std::string_view lib) {
    std::string result{lib};
    std::size_t pos = 0;
    while (pos < existing.size()) {
        if (is_separator(existing[pos])) {
            ++pos;
            continue;
        }
        std::size_t end = pos;
        while (end < existing.size() && !is_separator(existing[end])) {
            ++end;
        }
        const auto entry = existing.substr(pos, end - pos);
        if (entry != lib) {
            result.append(":").append(entry);
        }
        pos = end;
    }
    return result;
}

std::vector<std::pair<std::string, std::string>>
environment(const settings& s, std::string_view lib, const char* ld_preload) {
    std::vector<std::pair<std::string, std::string>> env{
        {"LD_PRELOAD", prepend_preload(ld_preload != nullptr ? ld_preload : "", lib)},
        {std::string{debug_env}, s.debug ? "1" : "0"},
    };
    if (s.rcvbuf) {
        env.emplace_back(rcvbuf_env, std::to_string(*s.rcvbuf));
    }
    if (s.sndbuf) {
        env.emplace_back(sndbuf_env, std::to_string(*s.sndbuf));
    }
    return env;
}

int run(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
    return report_errors("smc_run", out, err, [&] {
        const auto s = parse_args(args);
        if (s.help) {
            out << help;
            return exit_ok;
        }
        if (s.version) {
            out << "smc_run (dibs-rdma) " << SMC_TOOLS_VERSION << '\n';
            return exit_ok;
        }
        std::error_code ec;
        const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
        // NOLINTNEXTLINE(*-mt-unsafe): single-threaded here
        const char* override = std::getenv(preload_env.data());
        if (ec && (override == nullptr || *override == '\0')) {
            throw error("cannot find my own executable (/proc/self/exe): " + ec.message() +
                        "; set " + std::string{preload_env});
        }
        const auto lib = std::filesystem::absolute(preload_path(exe, override));
        if (!std::filesystem::is_regular_file(lib, ec)) {
            throw error("preload library " + lib.string() + " not found (set " +
                        std::string{preload_env} + " to its path)");
        }
        // NOLINTNEXTLINE(*-mt-unsafe)
        for (const auto& [name, value] : environment(s, lib.string(), std::getenv("LD_PRELOAD"))) {
            if (::setenv(name.c_str(), value.c_str(), 1) != 0) { // NOLINT(*-mt-unsafe)
                throw error("cannot set " + name + ": " + tools::errno_text(errno));
            }
        }
        std::vector<std::string> strings(s.command.begin(), s.command.end());
        std::vector<char*> argv;
        for (auto& a : strings) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        out.flush();
        ::execvp(argv.front(), argv.data());
        const int e = errno;
        err << "smc_run: cannot execute " << tools::quote(s.command.front()) << ": "
            << tools::errno_text(e) << '\n';
        return e == ENOENT ? exit_not_found : exit_cannot_execute;
    });
}

std::string_view help_text() noexcept {
    return help;
}

} // namespace dibs::smc::run
