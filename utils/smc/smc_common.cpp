// SPDX-License-Identifier: GPL-2.0
#include "smc_common.hpp"

#include "error.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <iterator>
#include <ostream>

namespace dibs::smc {
namespace {

// SMC_CLC_DECL_* of Linux 6.1 (net/smc/smc_clc.h), ascending.
constexpr std::array reasons{
    fallback_reason{0x01010000, "MEM", "insufficient memory resources"},
    fallback_reason{0x02010000, "TIMEOUT_CL", "timeout waiting for QP confirm link"},
    fallback_reason{0x02020000, "TIMEOUT_AL", "timeout waiting for QP add link"},
    fallback_reason{0x03000000, "CNFERR", "configuration error"},
    fallback_reason{0x03010000, "PEERNOSMC", "peer did not indicate SMC"},
    fallback_reason{0x03020000, "IPSEC", "IPsec usage"},
    fallback_reason{0x03030000, "NOSMCDEV", "no SMC device found"},
    fallback_reason{0x03030001, "NOSMCDDEV", "no SMC-D device found"},
    fallback_reason{0x03030002, "NOSMCRDEV", "no SMC-R device found"},
    fallback_reason{0x03030003, "NOISM2SUPP", "hardware has no ISMv2 support"},
    fallback_reason{0x03030004, "NOV2EXT", "peer sent no CLC v2 extension"},
    fallback_reason{0x03030005, "NOV2DEXT", "peer sent no CLC SMC-Dv2 extension"},
    fallback_reason{0x03030006, "NOSEID", "peer sent no SEID"},
    fallback_reason{0x03030007, "NOSMCD2DEV", "no SMC-Dv2 device found"},
    fallback_reason{0x03030008, "NOUEID", "peer sent no UEID (no user EID configured)"},
    fallback_reason{0x03040000, "MODEUNSUPP", "SMC modes do not match (R or D)"},
    fallback_reason{0x03050000, "RMBE_EC", "peer has eyecatcher in RMBE"},
    fallback_reason{0x03060000, "OPTUNSUPP", "fastopen sockopt not supported"},
    fallback_reason{0x03070000, "DIFFPREFIX", "IP prefix / subnet mismatch"},
    fallback_reason{0x03080000, "GETVLANERR", "cannot get the VLAN id of the IP device"},
    fallback_reason{0x03090000, "ISMVLANERR", "cannot register the VLAN id on the ISM device"},
    fallback_reason{0x030a0000, "NOACTLINK", "no active SMC-R link in the link group"},
    fallback_reason{0x030b0000, "NOSRVLINK", "SMC-R link from the server not found"},
    fallback_reason{0x030c0000, "VERSMISMAT", "SMC version mismatch"},
    fallback_reason{0x030d0000, "MAX_DMB", "SMC-D DMB limit exceeded"},
    fallback_reason{0x030e0000, "NOROUTE", "SMC-Rv2 connection: no route to peer"},
    fallback_reason{0x030f0000, "NOINDIRECT", "SMC-Rv2 connection: indirect mismatch"},
    fallback_reason{0x04000000, "SYNCERR", "synchronization error"},
    fallback_reason{0x05000000, "PEERDECL", "peer declined during handshake"},
    fallback_reason{0x09990000, "INTERR", "internal error"},
    fallback_reason{0x09990001, "ERR_RTOK", "rtoken handling failed"},
    fallback_reason{0x09990002, "ERR_RDYLNK", "IB ready link failed"},
    fallback_reason{0x09990003, "ERR_REGBUF", "registering RDMA buffers failed"},
};

static_assert(std::is_sorted(reasons.begin(), reasons.end(),
                             [](const auto& a, const auto& b) { return a.code < b.code; }));

bool ueid_char_ok(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

char to_upper(char c) noexcept {
    return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

} // namespace

std::string smc_state_name(std::uint8_t state) {
    switch (state) {
    case 1:
        return "ACTIVE";
    case 2:
        return "INIT";
    case 7:
        return "CLOSED";
    case 10:
        return "LISTEN";
    case 20:
        return "PEERCLOSEWAIT1";
    case 21:
        return "PEERCLOSEWAIT2";
    case 22:
        return "APPCLOSEWAIT1";
    case 23:
        return "APPCLOSEWAIT2";
    case 24:
        return "APPFINCLOSEWAIT";
    case 25:
        return "PEERFINCLOSEWAIT";
    case 26:
        return "PEERABORTWAIT";
    case 27:
        return "PROCESSABORT";
    default:
        return hex0x(state, 2) + "?";
    }
}

std::string peer_os_name(unsigned os) {
    switch (os) {
    case 1:
        return "ZOS";
    case 2:
        return "LINUX";
    case 3:
        return "AIX";
    default:
        return "Unknown (" + hex0x(os, 1) + ")";
    }
}

std::span<const fallback_reason> fallback_reasons() noexcept {
    return reasons;
}

std::optional<fallback_reason> find_fallback_reason(std::uint32_t code) noexcept {
    const auto it = std::lower_bound(reasons.begin(), reasons.end(), code,
                                     [](const auto& r, std::uint32_t c) { return r.code < c; });
    if (it == reasons.end() || it->code != code) {
        return std::nullopt;
    }
    return *it;
}

std::string_view fallback_text(std::uint32_t code) noexcept {
    const auto reason = find_fallback_reason(code);
    return reason ? reason->text : "unknown reason";
}

std::string normalize_ueid(std::string_view name) {
    const auto invalid = [name](std::string_view why) {
        return tools::error::usage("invalid user EID " + tools::quote(name) + ": " +
                                   std::string{why} +
                                   " (1 to 32 characters A-Z, 0-9, '.' and '-', starting with a "
                                   "letter or digit; lowercase is converted to uppercase)");
    };
    if (name.empty()) {
        throw invalid("empty");
    }
    if (name.size() > eid_length) {
        throw invalid("longer than 32 characters");
    }
    std::string eid;
    eid.reserve(eid_length);
    std::transform(name.begin(), name.end(), std::back_inserter(eid), to_upper);
    if (!std::all_of(eid.begin(), eid.end(), ueid_char_ok)) {
        throw invalid("bad character");
    }
    if (eid.front() == '.' || eid.front() == '-') {
        throw invalid("must start with a letter or digit");
    }
    if (eid.find("..") != std::string::npos) {
        throw invalid("consecutive dots");
    }
    eid.resize(eid_length, ' ');
    return eid;
}

std::array<char, eid_length + 1> ueid_attribute(std::string_view name) {
    const std::string eid = normalize_ueid(name);
    std::array<char, eid_length + 1> attr{};
    std::copy(eid.begin(), eid.end(), attr.begin());
    return attr;
}

std::string trim_eid(std::string_view eid) {
    const auto end = eid.find_last_not_of(std::string_view{" \0", 2});
    return std::string{eid.substr(0, end == std::string_view::npos ? 0 : end + 1)};
}

std::string hex(std::uint64_t value, int width) {
    std::array<char, 32> buf{};
    const int n = std::snprintf(buf.data(), buf.size(), "%0*llx", width,
                                static_cast<unsigned long long>(value));
    return std::string(buf.data(), static_cast<std::size_t>(std::max(n, 0)));
}

std::string hex0x(std::uint64_t value, int width) {
    return "0x" + hex(value, width);
}

std::string or_dash(std::string_view text) {
    return text.empty() ? std::string{"-"} : std::string{text};
}

void print_columns(std::ostream& out, std::span<const std::vector<std::string>> rows) {
    std::vector<std::size_t> widths;
    for (const auto& row : rows) {
        widths.resize(std::max(widths.size(), row.size()));
        for (std::size_t i = 0; i < row.size(); ++i) {
            widths[i] = std::max(widths[i], row[i].size());
        }
    }
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) {
                line.append(widths[i] - row[i].size() + 2, ' ');
            }
        }
        out << line << '\n';
    }
}

} // namespace dibs::smc
