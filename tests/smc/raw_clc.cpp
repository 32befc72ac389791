// SPDX-License-Identifier: GPL-2.0
//
// raw_clc.cpp - a TCP peer in user space on a TUN interface, and crafted CLC messages
// (see raw_clc.hpp).
#include "raw_clc.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>

#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <sys/ioctl.h>

namespace dibs::smc_test {

struct segment {
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint8_t flags = 0;
    bool smc_option = false;
    std::vector<std::byte> payload;
};

namespace {

constexpr std::uint8_t tcp_fin = 0x01;
constexpr std::uint8_t tcp_syn = 0x02;
constexpr std::uint8_t tcp_rst = 0x04;
constexpr std::uint8_t tcp_psh = 0x08;
constexpr std::uint8_t tcp_ack = 0x10;

// The SMC experimental TCP option (RFC 7609): kind 254, length 6, "SMCR" in EBCDIC.
constexpr std::array<std::uint8_t, 4> smc_magic{0xE2, 0xD4, 0xC3, 0xD9};
constexpr std::array<std::uint8_t, 4> smcr_eyecatcher{0xE2, 0xD4, 0xC3, 0xD9};
constexpr std::array<std::uint8_t, 4> smcd_eyecatcher{0xE2, 0xD4, 0xC3, 0xC4};

[[nodiscard]] in_addr ip(const std::string& text) {
    in_addr a{};
    inet_pton(AF_INET, text.c_str(), &a);
    return a;
}

// Internet checksum over a sequence of byte ranges.
class checksum {
public:
    void add(std::span<const std::byte> data) noexcept {
        for (const std::byte b : data) {
            const auto v = std::to_integer<std::uint32_t>(b);
            sum_ += odd_ ? v : v << 8;
            odd_ = !odd_;
        }
    }
    [[nodiscard]] std::uint16_t value() const noexcept {
        std::uint32_t s = sum_;
        while ((s >> 16) != 0) {
            s = (s & 0xffff) + (s >> 16);
        }
        return static_cast<std::uint16_t>(~s);
    }

private:
    std::uint32_t sum_ = 0;
    bool odd_ = false;
};

// Appends big-endian fields.
class builder {
public:
    builder& u8(unsigned v) {
        bytes_.push_back(static_cast<std::byte>(v));
        return *this;
    }
    builder& be16(unsigned v) { return u8(v >> 8).u8(v); }
    builder& be32(std::uint32_t v) { return be16(v >> 16).be16(v & 0xffff); }
    builder& be64(std::uint64_t v) {
        return be32(static_cast<std::uint32_t>(v >> 32)).be32(static_cast<std::uint32_t>(v));
    }
    builder& raw(std::span<const std::uint8_t> v) {
        for (const auto b : v) {
            u8(b);
        }
        return *this;
    }
    builder& zeros(std::size_t n) {
        bytes_.resize(bytes_.size() + n);
        return *this;
    }
    builder& text(std::string_view s, std::size_t width) { // space padded
        for (std::size_t i = 0; i < width; ++i) {
            u8(i < s.size() ? static_cast<unsigned char>(s[i]) : ' ');
        }
        return *this;
    }
    builder& junk(std::size_t n, std::uint64_t seed) {
        const std::size_t at = bytes_.size();
        bytes_.resize(at + n);
        fill_pattern(std::span(bytes_).subspan(at), seed);
        return *this;
    }
    void set_be16(std::size_t at, unsigned v) {
        bytes_.at(at) = static_cast<std::byte>(v >> 8);
        bytes_.at(at + 1) = static_cast<std::byte>(v);
    }
    void set_u8(std::size_t at, unsigned v) { bytes_.at(at) = static_cast<std::byte>(v); }
    [[nodiscard]] std::size_t size() const noexcept { return bytes_.size(); }
    [[nodiscard]] std::vector<std::byte> take() { return std::move(bytes_); }

private:
    std::vector<std::byte> bytes_;
};

// CLC header: eye-catcher, type, length, version/typev2/typev1.
constexpr unsigned clc_proposal = 1;
constexpr unsigned clc_decline = 4;
constexpr unsigned type_d = 1;
constexpr unsigned type_n = 2;

void clc_header(builder& b, std::span<const std::uint8_t, 4> eye, unsigned type, unsigned length,
                unsigned version, unsigned typev1, unsigned typev2) {
    b.raw(eye).u8(type).be16(length).u8(version << 4 | typev2 << 2 | typev1);
}

// Byte offsets in the v2 SMC-D proposal below (Linux's layout for typev1 N, one UEID, one GID).
constexpr std::size_t off_length = 5;
constexpr std::size_t off_v2_ext_offset = 40 + 10;
constexpr std::size_t off_eid_cnt = 80;
constexpr std::size_t off_ism_gid_cnt = 81;
constexpr std::size_t off_smcd_v2_ext_offset = 86;
constexpr std::size_t v2_proposal_len = 214;

// A well-formed SMC-D v2 proposal as Linux sends it (typev1 N), offering an ISM GID/CHID that
// no device here has: the listener parses all of it and declines.
[[nodiscard]] builder v2_proposal(const std::string& ueid) {
    builder b;
    clc_header(b, smcr_eyecatcher, clc_proposal, v2_proposal_len, 2, type_n, type_d);
    b.junk(8, 7).zeros(16 + 6); // local: id_for_peer, gid, mac
    b.be16(0);                  // iparea_offset (typev1 N: no prefix area)
    // smc_clc_msg_smcd: native ISM gid/chid, v2_ext_offset, reserved
    b.be64(0x0123456789abcd00ULL).be16(0xfffe).be16(40 - 12).zeros(28);
    // smc_clc_v2_extension: eid_cnt, ism_gid_cnt, reserved1, flag, reserved2, smcd_v2_ext_offset,
    // roce gid, reserved, user EIDs
    b.u8(1).u8(1).u8(0).u8(0x10).zeros(2).be16(40 - 8 + 32).zeros(32).text(ueid, 32);
    // smc_clc_smcd_v2_extension: system_eid, reserved, gid/chid list
    b.zeros(32 + 16).be64(0x0f0e0d0c0b0a0900ULL).be16(0xfffe);
    b.raw(smcr_eyecatcher); // trailer
    return b;
}

} // namespace

// ---------------------------------------------------------------------------------------------

std::optional<std::uint32_t> raw_reaction::decline_reason() const {
    if (data.size() < 20 || data[4] != std::byte{clc_decline}) {
        return std::nullopt;
    }
    const auto eye = std::span(data).first(4);
    const auto same = [&](std::span<const std::uint8_t, 4> e) {
        return std::equal(eye.begin(), eye.end(), e.begin(), [](std::byte a, std::uint8_t b) {
            return std::to_integer<std::uint8_t>(a) == b;
        });
    };
    if (!same(smcr_eyecatcher) && !same(smcd_eyecatcher)) {
        return std::nullopt;
    }
    std::uint32_t reason = 0;
    for (std::size_t i = 16; i < 20; ++i) {
        reason = reason << 8 | std::to_integer<std::uint32_t>(data[i]);
    }
    return reason;
}

std::string raw_reaction::str() const {
    std::string s = smc_offered ? "SMC offered" : "SMC not offered";
    if (const auto reason = decline_reason()) {
        std::array<char, 48> buf{};
        std::snprintf(buf.data(), buf.size(), ", CLC decline 0x%08x", *reason);
        s += buf.data();
    } else if (!data.empty()) {
        s += ", " + std::to_string(data.size()) + " bytes of data";
    }
    if (closed) {
        s += ", closed (FIN)";
    }
    if (reset) {
        s += ", reset (RST)";
    }
    if (!any()) {
        s += ", no reaction";
    }
    return s;
}

// ---------------------------------------------------------------------------------------------

tun_peer::tun_peer() {
    tun_ = unique_fd(open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK));
    if (!tun_) {
        throw_sys("open /dev/net/tun (is the tun module available?)");
    }
    ifreq ifr{};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::strncpy(ifr.ifr_name, "smct%d", IFNAMSIZ - 1);
    if (ioctl(tun_.get(), TUNSETIFF, &ifr) < 0) {
        throw_sys("ioctl(TUNSETIFF)");
    }
    ifname_ = ifr.ifr_name;

    const unique_fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!s) {
        throw_sys("socket(AF_INET, SOCK_DGRAM)");
    }
    const auto set_addr = [&](unsigned long request, const std::string& addr, const char* what) {
        ifreq r{};
        std::strncpy(r.ifr_name, ifname_.c_str(), IFNAMSIZ - 1);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr = ip(addr);
        std::memcpy(&r.ifr_addr, &sa, sizeof(sa));
        if (ioctl(s.get(), request, &r) < 0) {
            throw_sys(std::string(what) + " " + ifname_);
        }
    };
    set_addr(SIOCSIFADDR, local_addr(), "ioctl(SIOCSIFADDR)");
    set_addr(SIOCSIFNETMASK, "255.255.255.252", "ioctl(SIOCSIFNETMASK)");
    ifreq r{};
    std::strncpy(r.ifr_name, ifname_.c_str(), IFNAMSIZ - 1);
    if (ioctl(s.get(), SIOCGIFFLAGS, &r) < 0) {
        throw_sys("ioctl(SIOCGIFFLAGS) " + ifname_);
    }
    r.ifr_flags = static_cast<short>(r.ifr_flags | IFF_UP | IFF_RUNNING);
    if (ioctl(s.get(), SIOCSIFFLAGS, &r) < 0) {
        throw_sys("ioctl(SIOCSIFFLAGS) " + ifname_);
    }
}

void tun_peer::write_segment(std::uint16_t sport, std::uint16_t dport, std::uint32_t seq,
                             std::uint32_t ack, std::uint8_t flags,
                             std::span<const std::byte> options,
                             std::span<const std::byte> payload) {
    const std::size_t tcp_len = 20 + options.size() + payload.size();
    const std::size_t total = 20 + tcp_len;
    builder ipb;
    ipb.u8(0x45).u8(0).be16(static_cast<unsigned>(total)).be16(ip_id_++).be16(0x4000);
    ipb.u8(64).u8(IPPROTO_TCP).be16(0);
    const in_addr src = ip(peer_addr());
    const in_addr dst = ip(local_addr());
    ipb.be32(ntohl(src.s_addr)).be32(ntohl(dst.s_addr));
    std::vector<std::byte> ip_hdr = ipb.take();
    checksum ipsum;
    ipsum.add(ip_hdr);
    ip_hdr[10] = static_cast<std::byte>(ipsum.value() >> 8);
    ip_hdr[11] = static_cast<std::byte>(ipsum.value());

    builder tb;
    tb.be16(sport).be16(dport).be32(seq).be32(ack);
    tb.u8(static_cast<unsigned>((20 + options.size()) / 4) << 4).u8(flags).be16(65535);
    tb.be16(0).be16(0); // checksum, urgent pointer
    std::vector<std::byte> tcp = tb.take();
    tcp.insert(tcp.end(), options.begin(), options.end());
    tcp.insert(tcp.end(), payload.begin(), payload.end());
    checksum tsum; // pseudo header: src, dst, zero, protocol, TCP length
    tsum.add(std::span(ip_hdr).subspan(12, 8));
    builder pseudo;
    pseudo.u8(0).u8(IPPROTO_TCP).be16(static_cast<unsigned>(tcp_len));
    const auto pseudo_bytes = pseudo.take();
    tsum.add(pseudo_bytes);
    tsum.add(tcp);
    tcp[16] = static_cast<std::byte>(tsum.value() >> 8);
    tcp[17] = static_cast<std::byte>(tsum.value());

    std::vector<std::byte> packet = std::move(ip_hdr);
    packet.insert(packet.end(), tcp.begin(), tcp.end());
    if (::write(tun_.get(), packet.data(), packet.size()) != static_cast<ssize_t>(packet.size())) {
        throw_sys("write to " + ifname_);
    }
}

bool tun_peer::read_segment(std::uint16_t sport, std::uint16_t dport, segment& out,
                            int timeout_ms) {
    using clock = std::chrono::steady_clock;
    const auto until = clock::now() + std::chrono::milliseconds(timeout_ms);
    std::vector<std::uint8_t> buf(65536);
    const in_addr me = ip(peer_addr());
    for (;;) {
        const ssize_t n = ::read(tun_.get(), buf.data(), buf.size());
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                throw_sys("read from " + ifname_);
            }
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now()).count();
            if (left <= 0) {
                return false;
            }
            pollfd p{tun_.get(), POLLIN, 0};
            if (poll(&p, 1, static_cast<int>(left)) < 0 && errno != EINTR) {
                throw_sys("poll on " + ifname_);
            }
            continue;
        }
        const auto len = static_cast<std::size_t>(n);
        // IPv4 carrying TCP to our address (the interface also sends IPv6 noise)
        if (len < 40 || (buf[0] >> 4) != 4 || buf[9] != IPPROTO_TCP) {
            continue;
        }
        const std::size_t ihl = (buf[0] & 0x0fU) * 4U;
        const std::size_t total = std::min<std::size_t>(len, buf[2] << 8U | buf[3]);
        std::uint32_t dst = 0;
        std::memcpy(&dst, &buf[16], 4);
        if (dst != me.s_addr || total < ihl + 20) {
            continue;
        }
        const std::uint8_t* t = &buf[ihl];
        const unsigned src_port = t[0] << 8U | t[1];
        const unsigned dst_port = t[2] << 8U | t[3];
        if (src_port != dport || dst_port != sport) {
            continue;
        }
        const std::size_t doff = (t[12] >> 4U) * 4U;
        if (doff < 20 || ihl + doff > total) {
            continue;
        }
        out = segment{};
        out.seq = static_cast<std::uint32_t>(t[4]) << 24 | t[5] << 16 | t[6] << 8 | t[7];
        out.ack = static_cast<std::uint32_t>(t[8]) << 24 | t[9] << 16 | t[10] << 8 | t[11];
        out.flags = t[13];
        for (std::size_t i = 20; i < doff;) { // options
            const std::uint8_t kind = t[i];
            if (kind == 0) {
                break;
            }
            if (kind == 1) {
                ++i;
                continue;
            }
            if (i + 1 >= doff || t[i + 1] < 2 || i + t[i + 1] > doff) {
                break;
            }
            if (kind == 254 && t[i + 1] == 6 &&
                std::memcmp(&t[i + 2], smc_magic.data(), smc_magic.size()) == 0) {
                out.smc_option = true;
            }
            i += t[i + 1];
        }
        const auto* p = reinterpret_cast<const std::byte*>(t + doff);
        out.payload.assign(p, p + (total - ihl - doff));
        return true;
    }
}

tun_peer::connection::connection(tun_peer& tun, std::uint16_t port, int timeout_ms)
    : tun_(tun)
    , dport_(port) {
    std::random_device rd;
    sport_ = static_cast<std::uint16_t>(33000 + rd() % 27000);
    const std::uint32_t isn = rd();
    snd_nxt_ = isn;
    // MSS 1460, the SMC option, two NOPs to a 4-byte boundary
    builder opt;
    opt.u8(2).u8(4).be16(1460).u8(254).u8(6).raw(smc_magic).u8(1).u8(1);
    const auto options = opt.take();
    tun_.write_segment(sport_, dport_, isn, 0, tcp_syn, options, {});
    segment s;
    for (;;) {
        if (!tun_.read_segment(sport_, dport_, s, timeout_ms)) {
            throw timeout_error("raw TCP peer " + peer_addr() + ":" + std::to_string(sport_) +
                                ": no SYN-ACK from " + local_addr() + ":" + std::to_string(port));
        }
        if ((s.flags & tcp_rst) != 0) {
            throw sys_error("raw TCP peer: connect to " + local_addr() + ":" + std::to_string(port),
                            ECONNREFUSED);
        }
        if ((s.flags & (tcp_syn | tcp_ack)) == (tcp_syn | tcp_ack) && s.ack == isn + 1) {
            break;
        }
    }
    seen_.smc_offered = s.smc_option;
    snd_nxt_ = isn + 1;
    rcv_nxt_ = s.seq + 1;
    tun_.write_segment(sport_, dport_, snd_nxt_, rcv_nxt_, tcp_ack, {}, {});
}

tun_peer::connection::~connection() {
    if (seen_.reset) {
        return;
    }
    try {
        tun_.write_segment(sport_, dport_, snd_nxt_, rcv_nxt_, tcp_rst | tcp_ack, {}, {});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "smc-sock-test: raw TCP peer: cannot send RST: %s\n", e.what());
    }
}

void tun_peer::connection::send(std::span<const std::byte> payload) {
    while (!payload.empty()) {
        const auto part = payload.first(std::min<std::size_t>(payload.size(), 1400));
        tun_.write_segment(sport_, dport_, snd_nxt_, rcv_nxt_, tcp_psh | tcp_ack, {}, part);
        snd_nxt_ += static_cast<std::uint32_t>(part.size());
        payload = payload.subspan(part.size());
    }
}

void tun_peer::connection::send_fin() {
    tun_.write_segment(sport_, dport_, snd_nxt_, rcv_nxt_, tcp_fin | tcp_ack, {}, {});
    ++snd_nxt_;
}

void tun_peer::connection::handle(const segment& s) {
    if ((s.flags & tcp_rst) != 0) {
        seen_.reset = true;
        return;
    }
    bool ack = false;
    if (!s.payload.empty() && s.seq == rcv_nxt_) {
        seen_.data.insert(seen_.data.end(), s.payload.begin(), s.payload.end());
        rcv_nxt_ += static_cast<std::uint32_t>(s.payload.size());
        ack = true;
    }
    if ((s.flags & tcp_fin) != 0 && s.seq + s.payload.size() == rcv_nxt_) {
        seen_.closed = true;
        ++rcv_nxt_;
        ack = true;
    }
    if (ack) {
        tun_.write_segment(sport_, dport_, snd_nxt_, rcv_nxt_, tcp_ack, {}, {});
    }
}

const raw_reaction& tun_peer::connection::await(int timeout_ms, std::size_t until_bytes) {
    using clock = std::chrono::steady_clock;
    const auto until = clock::now() + std::chrono::milliseconds(timeout_ms);
    // Done when the listener resets or closes, when the expected bytes are in, or (with no
    // byte count) when a whole CLC message has arrived.
    const auto done = [&] {
        if (seen_.reset || seen_.closed) {
            return true;
        }
        if (until_bytes != 0) {
            return seen_.data.size() >= until_bytes;
        }
        if (seen_.data.size() < 8) {
            return false;
        }
        const auto clc_len = std::to_integer<std::size_t>(seen_.data[5]) << 8 |
                             std::to_integer<std::size_t>(seen_.data[6]);
        return seen_.data.size() >= clc_len;
    };
    while (!done()) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now()).count();
        segment s;
        if (left <= 0 || !tun_.read_segment(sport_, dport_, s, static_cast<int>(left))) {
            break;
        }
        handle(s);
    }
    return seen_;
}

// ---------------------------------------------------------------------------------------------

std::vector<clc_case> clc_cases(const std::string& ueid) {
    std::vector<clc_case> cases;
    const auto add = [&](std::string name, builder b, bool fin = false) {
        cases.push_back({std::move(name), b.take(), fin, false, false});
    };

    builder random;
    random.junk(200, 1);
    add("random bytes", std::move(random));

    builder eye; // the SMC-D eye-catcher, then junk
    eye.raw(smcd_eyecatcher).junk(120, 2);
    add("SMC-D eye-catcher + junk", std::move(eye));

    builder wrong_type; // a CONFIRM where a PROPOSAL belongs
    clc_header(wrong_type, smcd_eyecatcher, 3, 64, 2, type_d, type_n);
    wrong_type.junk(56, 3);
    add("CLC confirm instead of proposal", std::move(wrong_type));

    builder truncated; // announces 512 bytes, sends 20, then FIN
    clc_header(truncated, smcd_eyecatcher, clc_proposal, 512, 2, type_n, type_d);
    truncated.junk(12, 4);
    add("truncated proposal + FIN", std::move(truncated), true);

    builder huge; // length 0xffff, more than the listener's buffer
    clc_header(huge, smcd_eyecatcher, clc_proposal, 0xffff, 2, type_n, type_d);
    huge.junk(1600, 5);
    add("proposal length 0xffff + FIN", std::move(huge), true);

    builder v1_iparea; // v1 SMC-D proposal whose IP area lies outside the message
    clc_header(v1_iparea, smcd_eyecatcher, clc_proposal, 40 + 40 + 8 + 4, 1, type_d, 0);
    v1_iparea.junk(8, 6).zeros(22).be16(0xffff).zeros(40).be32(0x7f000000).u8(8).zeros(3);
    v1_iparea.raw(smcd_eyecatcher);
    add("v1 proposal, iparea_offset 0xffff", std::move(v1_iparea));

    builder v1_prefixes; // v1 proposal claiming 200 IPv6 prefixes
    clc_header(v1_prefixes, smcd_eyecatcher, clc_proposal, 40 + 40 + 8 + 4, 1, type_d, 0);
    v1_prefixes.junk(8, 8).zeros(22).be16(40).zeros(40).be32(0x7f000000).u8(8).zeros(2).u8(200);
    v1_prefixes.raw(smcd_eyecatcher);
    add("v1 proposal, 200 IPv6 prefixes", std::move(v1_prefixes));

    {
        builder b = v2_proposal(ueid);
        b.set_u8(off_eid_cnt, 255);
        add("v2 proposal, 255 user EIDs", std::move(b));
    }
    {
        builder b = v2_proposal(ueid);
        b.set_u8(off_ism_gid_cnt, 255);
        add("v2 proposal, 255 ISM GIDs", std::move(b));
    }
    {
        builder b = v2_proposal(ueid);
        b.set_be16(off_v2_ext_offset, 0xffff);
        add("v2 proposal, v2 extension offset 0xffff", std::move(b));
    }
    {
        builder b = v2_proposal(ueid); // passes the length check; the server must not use it
        b.set_be16(off_smcd_v2_ext_offset, 0xffff);
        add("v2 proposal, SMC-D v2 extension offset 0xffff", std::move(b));
    }
    {
        builder b = v2_proposal(ueid);
        b.set_be16(off_length, v2_proposal_len + 4);
        b.junk(4, 9);
        add("v2 proposal, length 4 too long", std::move(b));
    }
    {
        builder b = v2_proposal(ueid);
        b.set_u8(v2_proposal_len - 1, 0);
        add("v2 proposal, broken trailer", std::move(b));
    }
    add("v2 proposal, well-formed, unknown ISM GID", v2_proposal(ueid));

    { // header only: the listener waits for the rest, then gives up by itself
        builder b = v2_proposal(ueid);
        std::vector<std::byte> all = b.take();
        all.resize(8);
        cases.push_back(
            {"proposal header only (listener times out)", std::move(all), false, true, false});
    }
    { // a DECLINE first: the connection falls back and carries "PING" as data
        builder b;
        clc_header(b, smcr_eyecatcher, clc_decline, 28, 1, 0, 2 /* first contact */);
        b.junk(8, 10).be32(0x03030000).u8(0x10).zeros(3).raw(smcr_eyecatcher);
        b.u8('P').u8('I').u8('N').u8('G');
        cases.push_back({"decline instead of proposal, then data", b.take(), false, false, true});
    }
    return cases;
}

} // namespace dibs::smc_test
