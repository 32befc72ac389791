// SPDX-License-Identifier: GPL-2.0
#include "smcss.hpp"

#include "cli.hpp"
#include "netlink.hpp"
#include "smc_common.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <ostream>
#include <vector>

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

#ifndef SMC_TOOLS_VERSION
#define SMC_TOOLS_VERSION "0.1"
#endif

namespace dibs::smc::smcss {
namespace {

constexpr std::string_view help_page = R"help(NAME
    smcss - list SMC sockets

SYNOPSIS
    smcss [-a|--all] [-d|--debug] [-W|--wide]
    smcss -l|--listening [-W|--wide]
    smcss -D|--smcd [-a] [-d] [-W]
    smcss -R|--smcr [-a] [-d] [-W]
    smcss -h|--help
    smcss -v|--version

DESCRIPTION
    smcss lists the AF_SMC sockets of the current network namespace, like smcss
    of IBM's smc-tools, from the kernel's smc_diag interface (module smc_diag,
    loaded on demand). Without options it lists the connected sockets: all
    but listening and INIT ones. The columns:

    State          ACTIVE, INIT, CLOSED, LISTEN, PEERCLOSEWAIT1/2,
                   APPCLOSEWAIT1/2, APPFINCLOSEWAIT, PEERFINCLOSEWAIT,
                   PEERABORTWAIT, PROCESSABORT.
    UID, Inode     Owner and inode of the socket.
    Local Address  Address:port of the socket's TCP connection, e.g.
    Peer Address   127.0.0.1:5000 or ::1:5000. smc_diag does not say whether
                   a socket is IPv4 or IPv6: an all-zero address shows as
                   0.0.0.0. A listening socket shows the local address only,
                   an INIT socket no address, a CLOSED one no mode. Longer
                   addresses than 23 characters are cut ("..") unless -W.
    Intf           The bound interface index (hex), 0000 if none.
    Mode           SMCD (SMC-D, e.g. over a dibs device), SMCR (SMC-R), or
                   "TCP 0xRRRRRRRR" for a socket that fell back to TCP, with
                   the reason (the CLC decline code) in hex, and the peer's
                   diagnosis if it declined: "TCP 0xRRRRRRRR/0xPPPPPPPP".
                   Their meaning follows in parentheses, e.g.
                   "TCP 0x03030000 (no SMC device found)" on a client without
                   SMC device and "TCP 0x05000000/0x03030000 (peer declined
                   during handshake; peer: no SMC device found)" on its
                   server.

    -d adds the connection details of SMC sockets: Shutd (shutdown: R
    receive, W send), Token, Sndbuf, Rcvbuf (RMBE), Peerbuf (peer's RMBE),
    in hex, and the cursors (wrap:count) and flags of the CDC protocol.
    -D adds: GID and Token (local SMC-D GID, DMB token), Peer-GID,
    Peer-Token, Linkid (link group id), and at the end of the line the
    dibs-rdma extras RMBE (own DMB element size, bytes) and Peer-RMBE
    (peer's). The columns up to Linkid are those of smc-tools' smcss.
    -R adds: Role, IB-device, Port, Linkid, GID, Peer-GID.

OPTIONS
    The options of smcss of IBM's smc-tools; short ones can be bundled (-aD).
    -a, --all        Also list listening and INIT sockets.
    -l, --listening  List only listening sockets.
    -d, --debug      Show connection details (also -e, --extended).
    -D, --smcd       List only SMC-D sockets, with SMC-D details.
    -R, --smcr       List only SMC-R sockets, with SMC-R details.
    -W, --wide       Do not cut long addresses (otherwise 23 characters).
    -h, --help       Show this help.
    -v, --version    Show the version (also -V).

EXIT STATUS
    0   Success.
    1   Operational error: the smc or smc_diag module is missing, a netlink
        error.
    2   Usage error: unknown option, an argument, an unsupported
        combination (-D with -R; -l with -a, -d, -D or -R).

EXAMPLES
    smcss
        The connected SMC sockets, e.g.
        State          UID   Inode   Local Address           Peer Address            Intf Mode
        ACTIVE         00000 0027466 127.0.0.1:41572         127.0.0.1:5000          0000 SMCD
    smcss -a
        All SMC sockets, listening ones included.
    smcss -D
        SMC-D sockets with GIDs, DMB tokens and sizes.

SEE ALSO
    smcd(8), smc_run(8), smc_chk(8), ss(8)
)help";

constexpr std::size_t addr_width = 23;

std::string cursor(const smc_diag_cursor& c) {
    return hex(c.wrap, 4) + ":" + hex(c.count, 8);
}

template <typename T>
std::optional<T> attr_struct(const nl::attribute_set& attrs, std::uint16_t type) {
    if (const auto p = attrs.get(type)) {
        return nl::read_struct<T>(*p);
    }
    return std::nullopt;
}

std::string padded(std::string text, std::size_t width) {
    text.resize(std::max(text.size(), width), ' ');
    return text;
}

std::string c_string(std::span<const std::uint8_t> bytes) {
    std::string text(bytes.begin(), bytes.end());
    text.resize(std::min(text.size(), text.find('\0')));
    return text;
}

std::string fallback_description(const smc_diag_fallback& fb) {
    std::string text{fallback_text(fb.reason)};
    if (fb.peer_diagnosis != 0) {
        text += "; peer: " + std::string{fallback_text(fb.peer_diagnosis)};
    }
    return text;
}

} // namespace

command_line parse_args(std::span<const std::string_view> args) {
    command_line cl;
    options& opts = cl.opts;
    bool& help = cl.help;
    bool& version = cl.version;
    const auto app = tools::make_app("smcss");
    app->add_flag("-h,--help", help);
    app->add_flag("-v,-V,--version", version);
    app->add_flag("-a,--all", opts.all);
    app->add_flag("-l,--listening", opts.listening);
    app->add_flag("-d,--debug,-e,--extended", opts.extended);
    app->add_flag("-D,--smcd", opts.smcd);
    app->add_flag("-R,--smcr", opts.smcr);
    app->add_flag("-W,--wide", opts.wide);
    tools::parse(*app, args);
    if (help || version) {
        return cl;
    }
    // smc-tools' rules and messages
    if (opts.smcd && opts.smcr) {
        throw error::usage("--smcd together with --smcr is not supported");
    }
    const std::array<std::pair<bool, std::string_view>, 4> not_with_listening{{
        {opts.extended, "--debug"},
        {opts.all, "--all"},
        {opts.smcr, "--smcr"},
        {opts.smcd, "--smcd"},
    }};
    for (const auto& [given, name] : not_with_listening) {
        if (opts.listening && given) {
            throw error::usage("--listening together with " + std::string{name} +
                               " is not supported");
        }
    }
    return cl;
}

namespace {

int dispatch(std::span<const std::string_view> args, context& ctx) {
    const auto cl = parse_args(args);
    const options& opts = cl.opts;
    if (cl.help) {
        ctx.out << help_text();
        return exit_ok;
    }
    if (cl.version) {
        ctx.out << "smcss (dibs-rdma) " << SMC_TOOLS_VERSION << '\n';
        return exit_ok;
    }
    const auto sockets = list_sockets(diag_ext(opts));
    print_header(ctx.out, opts);
    for (const auto& s : sockets) {
        if (selected(s, opts)) {
            print_socket(ctx.out, s, opts);
        }
    }
    return exit_ok;
}

} // namespace

std::vector<socket_info> list_sockets(std::uint8_t ext) {
    nl::socket sock(NETLINK_SOCK_DIAG, "sock_diag");
    nl::request req(SOCK_DIAG_BY_FAMILY, NLM_F_DUMP);
    smc_diag_req diag{};
    diag.diag_family = af_smc;
    diag.diag_ext = ext;
    req.append_struct(diag);

    std::vector<socket_info> sockets;
    try {
        sock.transact(req, "smc_diag", [&](const nl::message& msg) {
            if (msg.type == SOCK_DIAG_BY_FAMILY) {
                sockets.push_back(parse_socket(msg.payload));
            }
        });
    } catch (const error& e) {
        if (e.errnum() == ENOENT) {
            throw error(std::string{e.what()} +
                            " - are the smc and smc_diag modules loaded? (modprobe smc_diag)",
                        e.resource(), e.errnum());
        }
        throw;
    }
    return sockets;
}

std::optional<socket_info> find_socket(std::uint64_t inode, std::uint8_t ext) {
    for (auto& s : list_sockets(ext)) {
        if (s.inode == inode) {
            return std::move(s);
        }
    }
    return std::nullopt;
}

socket_info parse_socket(std::span<const std::byte> payload) {
    if (payload.size() < sizeof(smc_diag_msg)) {
        throw error("smc_diag: reply of " + std::to_string(payload.size()) +
                    " bytes, shorter than struct smc_diag_msg");
    }
    const auto msg = nl::read_struct<smc_diag_msg>(payload);
    socket_info s;
    s.state = msg.diag_state;
    s.mode = msg.diag_mode;
    s.sport = ntohs(msg.id.idiag_sport);
    s.dport = ntohs(msg.id.idiag_dport);
    s.ifindex = msg.id.idiag_if;
    s.uid = msg.diag_uid;
    s.inode = msg.diag_inode;
    std::memcpy(s.src.data(), msg.id.idiag_src, s.src.size());
    std::memcpy(s.dst.data(), msg.id.idiag_dst, s.dst.size());
    const auto beyond_v4 = [](const auto& a) {
        return std::any_of(a.begin() + 4, a.end(), [](std::uint8_t b) { return b != 0; });
    };
    s.ipv6 = beyond_v4(s.src) || beyond_v4(s.dst);

    const nl::attribute_set attrs(payload.subspan(NLMSG_ALIGN(sizeof(smc_diag_msg))));
    if (const auto shut = attrs.uint(SMC_DIAG_SHUTDOWN)) {
        s.shutdown = static_cast<std::uint8_t>(*shut);
    }
    s.fallback = attr_struct<smc_diag_fallback>(attrs, SMC_DIAG_FALLBACK);
    s.conn = attr_struct<smc_diag_conninfo>(attrs, SMC_DIAG_CONNINFO);
    s.lgr = attr_struct<smc_diag_lgrinfo>(attrs, SMC_DIAG_LGRINFO);
    s.dmb = attr_struct<smcd_diag_dmbinfo>(attrs, SMC_DIAG_DMBINFO);
    return s;
}

std::string format_address(bool ipv6, std::span<const std::uint8_t, 16> addr, std::uint16_t port,
                           bool wide) {
    std::array<char, INET6_ADDRSTRLEN> buf{};
    if (inet_ntop(ipv6 ? AF_INET6 : AF_INET, addr.data(), buf.data(),
                  static_cast<socklen_t>(buf.size())) == nullptr) {
        return "?";
    }
    // As smc-tools: "ADDR:PORT", a long ADDR cut to "ADD..:PORT" of addr_width characters.
    std::string host{buf.data()};
    const std::string port_text = std::to_string(port);
    if (!wide && host.size() + 1 + port_text.size() > addr_width) {
        host.resize(addr_width - 1 - port_text.size() - 2);
        host += "..";
    }
    return host + ":" + port_text;
}

std::string mode_text(const socket_info& sock) {
    switch (sock.mode) {
    case SMC_DIAG_MODE_SMCD:
        return "SMCD";
    case SMC_DIAG_MODE_SMCR:
        return "SMCR";
    case SMC_DIAG_MODE_FALLBACK_TCP: {
        const auto fb = sock.fallback.value_or(smc_diag_fallback{});
        std::string text = "TCP " + hex0x(fb.reason, 8);
        if (fb.peer_diagnosis != 0) {
            text += "/" + hex0x(fb.peer_diagnosis, 8);
        }
        return text;
    }
    default:
        return hex0x(sock.mode, 2) + "?";
    }
}

bool selected(const socket_info& sock, const options& opts) noexcept {
    if (opts.listening) {
        return sock.state == smc_state_listen;
    }
    if (!opts.all && (sock.state == smc_state_listen || sock.state == smc_state_init)) {
        return false;
    }
    if (opts.smcd && sock.mode != SMC_DIAG_MODE_SMCD) {
        return false;
    }
    return !opts.smcr || sock.mode == SMC_DIAG_MODE_SMCR;
}

std::uint8_t diag_ext(const options& opts) noexcept {
    unsigned ext = 0;
    if (opts.extended || opts.smcd) {
        ext |= 1U << (SMC_DIAG_CONNINFO - 1);
    }
    if (opts.smcr) {
        ext |= 1U << (SMC_DIAG_LGRINFO - 1);
    }
    if (opts.smcd) {
        ext |= 1U << (SMC_DIAG_DMBINFO - 1);
    }
    return static_cast<std::uint8_t>(ext);
}

void print_header(std::ostream& out, const options& opts) {
    // smc-tools' headers; the dibs extras of -D (RMBE, Peer-RMBE) at the end
    std::string line = "State          UID   Inode   Local Address           Peer Address      "
                       "      Intf Mode";
    if (opts.extended) {
        line += " Shutd Token    Sndbuf   Rcvbuf   Peerbuf  rxprod-Cursor rxcons-Cursor rxFlags "
                "txprod-Cursor txcons-Cursor txFlags txprep-Cursor txsent-Cursor txfin-Cursor";
    }
    if (opts.smcr) {
        line += " Role IB-device       Port Linkid GID                                      "
                "Peer-GID";
    }
    if (opts.smcd) {
        line += " GID              Token            Peer-GID         Peer-Token       Linkid   "
                "RMBE     Peer-RMBE";
    }
    out << line << '\n';
}

void print_socket(std::ostream& out, const socket_info& s, const options& opts) {
    std::array<char, 48> head{};
    std::snprintf(head.data(), head.size(), "%-14s %05u %07llu", smc_state_name(s.state).c_str(),
                  s.uid, static_cast<unsigned long long>(s.inode));
    std::string line{head.data()};
    const auto finish = [&] {
        line.erase(line.find_last_not_of(' ') + 1);
        out << line << '\n';
    };
    if (s.state == smc_state_init) {
        return finish();
    }
    line += ' ' + padded(format_address(s.ipv6, s.src, s.sport, opts.wide), addr_width);
    if (s.state == smc_state_listen) {
        return finish();
    }
    line += ' ' + padded(format_address(s.ipv6, s.dst, s.dport, opts.wide), addr_width);
    line += ' ' + hex(s.ifindex, 4);
    if (s.state == smc_state_closed) {
        return finish();
    }
    line += ' ' + padded(mode_text(s), 4) + ' ';
    if (s.mode == SMC_DIAG_MODE_FALLBACK_TCP) {
        // the decoded reason is a dibs-rdma extra at the end of the line
        line += "(" + fallback_description(s.fallback.value_or(smc_diag_fallback{})) + ")";
        return finish();
    }
    if (opts.extended) {
        if (s.shutdown) {
            const unsigned shut = *s.shutdown;
            line += std::string{" "} + ((shut & 1U) != 0 ? 'R' : '<') + '-' +
                    ((shut & 2U) != 0 ? 'W' : '>') + "  ";
        }
        if (s.conn) {
            const auto& c = *s.conn;
            const auto flags = [](unsigned prod, unsigned conn_state) {
                return hex(prod, 2) + ":" + hex(conn_state, 2) + "   ";
            };
            line += hex(c.token, 8) + ' ' + hex(c.sndbuf_size, 8) + ' ' + hex(c.rmbe_size, 8) +
                    ' ' + hex(c.peer_rmbe_size, 8) + ' ' + cursor(c.rx_prod) + ' ' +
                    cursor(c.rx_cons) + ' ' + flags(c.rx_prod_flags, c.rx_conn_state_flags) +
                    cursor(c.tx_prod) + ' ' + cursor(c.tx_cons) + ' ' +
                    flags(c.tx_prod_flags, c.tx_conn_state_flags) + cursor(c.tx_prep) + ' ' +
                    cursor(c.tx_sent) + ' ' + cursor(c.tx_fin) + ' ';
        }
    }
    if (opts.smcr && s.lgr) {
        const auto& l = *s.lgr;
        const auto& link = l.lnk[0];
        line += padded(l.role != 0 ? "SERV" : "CLNT", 4) + ' ' + padded(c_string(link.ibname), 15) +
                ' ' + padded(hex(link.ibport, 2), 4) + ' ' + padded(hex(link.link_id, 2), 6) + ' ' +
                padded(c_string(link.gid), 40) + ' ' + c_string(link.peer_gid);
    }
    if (opts.smcd && s.dmb) {
        const auto& d = *s.dmb;
        line += hex(d.my_gid, 16) + ' ' + hex(d.token, 16) + ' ' + hex(d.peer_gid, 16) + ' ' +
                hex(d.peer_token, 16) + ' ' + hex(d.linkid, 8) + ' ' +
                padded(s.conn ? std::to_string(s.conn->rmbe_size) : "-", 8) + ' ' +
                (s.conn ? std::to_string(s.conn->peer_rmbe_size) : "-");
    }
    finish();
}

int run(std::span<const std::string_view> args, context& ctx) {
    return report_errors("smcss", ctx.out, ctx.err, [&] { return dispatch(args, ctx); });
}

std::string_view help_text() noexcept {
    return help_page;
}

} // namespace dibs::smc::smcss
