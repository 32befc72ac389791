// SPDX-License-Identifier: GPL-2.0
#include "smcd.hpp"

#include "cli.hpp"
#include "dibsctl.hpp"
#include "smc_common.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <ostream>
#include <sstream>
#include <utility>

#include <linux/smc.h>
#include <nlohmann/json.hpp>

#ifndef SMC_TOOLS_VERSION
#define SMC_TOOLS_VERSION "0.1"
#endif

namespace dibs::smc::smcd {
namespace {

// ---- help ----------------------------------------------------------------------------------

constexpr std::string_view help_page = R"help(NAME
    smcd - show SMC-D devices, link groups and statistics; manage EIDs

SYNOPSIS
    smcd [OPTIONS] [info [show]]
    smcd [OPTIONS] device [show] [all]
    smcd [OPTIONS] linkgroup [show] [all | LG-ID]
    smcd [OPTIONS] stats [show | reset | json]
    smcd ueid [show] | add NAME | del NAME | flush
    smcd seid [show] | enable | disable
    smcd help | -h | --help
    smcd -v | --version

DESCRIPTION
    smcd talks to the kernel's smc module over its generic netlink family
    SMC_GEN_NETLINK, with the command line of smcd of IBM's smc-tools 1.8.
    Objects and keywords can be abbreviated to any prefix, as there
    (smcd dev, smcd l, smcd stats r); "devices" and "lgr" work too. In this
    project every dibs device (e.g. dibs_lo0) is an SMC-D device (module
    dibs_smcd), which the kernel names by the dibs device; smcd shows the
    dibs attributes of that device from /sys/class/dibs/NAME after the
    columns of smc-tools.

OBJECTS
    info       The default. The kernel's capabilities as smc-tools prints
               them (SMC version, host name, SMC-D and SMC-R features, the
               system EID, ISM (SMC-D) and RoCE (SMC-R) device support),
               then the user EIDs, the SMC-D devices and link groups.
    device     One line per SMC-D device: FID, Type (ISM for IBM's ISM,
               DIBS for a dibs device, DIBS-LO for a dibs loopback device
               that reaches only itself, else the PCI device id), PCI-ID
               (the dibs device's name), PCHID (0 outside s390), InUse
               (whether a link group uses it), #LGs (link groups), PNET-ID
               ("-" if none, "*" in front if set by the user), and from
               dibs: GID, Fabric, DMBs, Max-DMBs ("-" where there is no dibs
               device of that name). "all" is accepted (smcd lists every
               device anyway).
    linkgroup  One line per SMC-D link group: LG-ID, VLAN, #Conns, PNET-ID,
               then GID and Peer-GID (SMC-D GIDs), CHID, Version, Peer-Host
               and EID (negotiated, SMC version 2). LG-ID (hex) shows that
               link group only. With -d one block per link group.
    stats      The SMC-D counters of the current network namespace since
               the last "smcd stats reset" (without one, or with -a: since
               the smc module was loaded): connections, handshake errors,
               TCP fallbacks, data, buffer usage and sizes, special socket
               calls. -d adds the details, among them the fallback reasons
               of server and client with their counts and meaning.
               show   The default.
               reset  Show the counters, then start counting from zero:
                      the kernel cannot reset them, so smcd keeps the
                      values it reset to in a file (see FILES).
               json   The counters (absolute, or since the reset) as JSON.
    ueid       The user EID table (at most 4 entries). SMC-D version 2
               needs one user EID on both peers outside s390 (the kernel
               otherwise declines with 0x03030008).
               show       Print each user EID on a line (the default).
               add NAME   Add NAME: 1 to 32 characters A-Z, 0-9, '.', '-',
                          starting with a letter or digit, no "..". smcd
                          converts lowercase letters to uppercase and pads
                          the name with blanks to 32 characters, as the
                          kernel stores it.
               del NAME   Remove NAME.
               flush      Remove all user EIDs.
    seid       The system EID and whether it is enabled.
               show       "SEID [enabled]" or "SEID [disabled]", n/a if the
                          kernel has none (the default).
               enable, disable
                          Switch it on or off. Linux 6.1 supports both on
                          s390 only and refuses them elsewhere; smcd then
                          reports the kernel's errno (EOPNOTSUPP).

OPTIONS
    As in smc-tools, options come before the object and long ones may be
    written with one dash and abbreviated (-det, -abs, -vers).
    -d, --details    More details (device and stats; -dd is the same).
    -a, --absolute   stats: the counters since the smc module was loaded,
                     ignoring "stats reset".
    -h, --help       Show this help.
    -v, --version    Show the version (also -V).

    ueid add, del, flush and seid enable, disable need CAP_NET_ADMIN (run
    them as root); the other commands work for every user.

ENVIRONMENT
    DIBS_SYSFS_ROOT  The sysfs mount point to read the dibs attributes from
                     instead of /sys.
    SMCD_STATS_FILE  The file "stats reset" writes (see FILES).

FILES
    /tmp/.dibs-smcd-stats.uUID
        The counters at the last "smcd stats reset" of user UID (JSON).

EXIT STATUS
    0   Success.
    1   Operational error: the smc module is not loaded, permission denied,
        the kernel refused (e.g. a user EID that exists already).
    2   Usage error: unknown object, keyword or option, an extra argument,
        an invalid user EID or LG-ID.

EXAMPLES
    smcd
        Everything at a glance.
    smcd dev
        FID   Type     PCI-ID    PCHID  InUse  #LGs  PNET-ID  GID ...
        0000  DIBS-LO  dibs_lo0  0000   Yes    1     -        f0b14619-... ...
    smcd ueid add DIBS-RDMA-SMCD
        Allow SMC-D version 2 (on both hosts).
    smcd -d stats
        Did connections use SMC-D, and why did others fall back to TCP?
    smcd stats reset
        Count from zero.

SEE ALSO
    smcss(8), smc_run(8), smc_chk(8), dibsctl(8)
)help";

// ---- parsing -------------------------------------------------------------------------------

template <typename T>
T uint_or(const nl::attribute_set& attrs, std::uint16_t type, T fallback = 0) {
    return static_cast<T>(attrs.uint(type).value_or(fallback));
}

size_buckets parse_buckets(const nl::attribute_set& tech, std::uint16_t type) {
    size_buckets buckets{};
    if (const auto nest = tech.nested(type)) {
        for (std::size_t i = 0; i < buckets.size(); ++i) {
            buckets.at(i) = uint_or<std::uint64_t>(
                *nest, static_cast<std::uint16_t>(SMC_NLA_STATS_PLOAD_8K + i));
        }
    }
    return buckets;
}

buffer_stats parse_buffer_stats(const nl::attribute_set& tech, std::uint16_t type) {
    buffer_stats b;
    if (const auto nest = tech.nested(type)) {
        b.alloc = uint_or<std::uint64_t>(*nest, SMC_NLA_STATS_RMB_ALLOC_CNT);
        b.reuse = uint_or<std::uint64_t>(*nest, SMC_NLA_STATS_RMB_REUSE_CNT);
        b.downgrade = uint_or<std::uint64_t>(*nest, SMC_NLA_STATS_RMB_DGRADE_CNT);
        b.full = uint_or<std::uint64_t>(*nest, SMC_NLA_STATS_RMB_FULL_CNT);
        b.full_peer = uint_or<std::uint64_t>(*nest, SMC_NLA_STATS_RMB_FULL_PEER_CNT);
        b.small = uint_or<std::uint64_t>(*nest, SMC_NLA_STATS_RMB_SIZE_SM_CNT);
        b.small_peer = uint_or<std::uint64_t>(*nest, SMC_NLA_STATS_RMB_SIZE_SM_PEER_CNT);
    }
    return b;
}

tech_stats parse_tech(const nl::attribute_set& t) {
    tech_stats s;
    s.client_v1 = uint_or<std::uint64_t>(t, SMC_NLA_STATS_T_CLNT_V1_SUCC);
    s.client_v2 = uint_or<std::uint64_t>(t, SMC_NLA_STATS_T_CLNT_V2_SUCC);
    s.server_v1 = uint_or<std::uint64_t>(t, SMC_NLA_STATS_T_SRV_V1_SUCC);
    s.server_v2 = uint_or<std::uint64_t>(t, SMC_NLA_STATS_T_SRV_V2_SUCC);
    s.rx_bytes = uint_or<std::uint64_t>(t, SMC_NLA_STATS_T_RX_BYTES);
    s.tx_bytes = uint_or<std::uint64_t>(t, SMC_NLA_STATS_T_TX_BYTES);
    s.rx_count = uint_or<std::uint64_t>(t, SMC_NLA_STATS_T_RX_CNT);
    s.tx_count = uint_or<std::uint64_t>(t, SMC_NLA_STATS_T_TX_CNT);
    s.sendpage = uint_or<std::uint64_t>(t, SMC_NLA_STATS_T_SENDPAGE_CNT);
    s.splice = uint_or<std::uint64_t>(t, SMC_NLA_STATS_T_SPLICE_CNT);
    s.cork = uint_or<std::uint64_t>(t, SMC_NLA_STATS_T_CORK_CNT);
    s.nodelay = uint_or<std::uint64_t>(t, SMC_NLA_STATS_T_NDLY_CNT);
    s.urgent = uint_or<std::uint64_t>(t, SMC_NLA_STATS_T_URG_DATA_CNT);
    s.rx_payload = parse_buckets(t, SMC_NLA_STATS_T_RXPLOAD_SIZE);
    s.tx_payload = parse_buckets(t, SMC_NLA_STATS_T_TXPLOAD_SIZE);
    s.rx_rmb_size = parse_buckets(t, SMC_NLA_STATS_T_RX_RMB_SIZE);
    s.tx_rmb_size = parse_buckets(t, SMC_NLA_STATS_T_TX_RMB_SIZE);
    s.rx_rmb = parse_buffer_stats(t, SMC_NLA_STATS_T_RX_RMB_STATS);
    s.tx_rmb = parse_buffer_stats(t, SMC_NLA_STATS_T_TX_RMB_STATS);
    return s;
}

// ---- formatting helpers --------------------------------------------------------------------

std::string yes_no(bool value) {
    return value ? "Yes" : "No";
}

std::string dec(std::uint64_t value) {
    return std::to_string(value);
}

/// printf into a string
template <typename... Args>
std::string format(const char* fmt, Args... args) {
    std::array<char, 256> buf{};
    const int n = std::snprintf(buf.data(), buf.size(), fmt, args...);
    return std::string(buf.data(), static_cast<std::size_t>(std::clamp(n, 0, 255)));
}

/// 12345678 as smc-tools abbreviates it in 6 characters: "12.34M"
std::string abbreviated(std::uint64_t value) {
    constexpr std::array units{' ', 'K', 'M', 'G', 'T', 'P', 'E'};
    auto v = static_cast<double>(value);
    std::size_t unit = 0;
    while (v >= 1000.0 && unit + 1 < units.size()) {
        v /= 1000.0;
        ++unit;
    }
    if (unit == 0) {
        return dec(value);
    }
    return format("%.*f%c", v >= 100.0 ? 0 : (v >= 10.0 ? 1 : 2), v, units.at(unit));
}

double percent(std::uint64_t part, std::uint64_t whole) {
    return whole == 0 ? 0.0 : static_cast<double>(part) * 100.0 / static_cast<double>(whole);
}

// ---- command lines -------------------------------------------------------------------------

/// Whether word is an abbreviation of keyword, as smc-tools' contains() decides it.
bool abbreviates(std::string_view word, std::string_view keyword) noexcept {
    return !word.empty() && keyword.starts_with(word);
}

/// smc-tools' spellings of the global options ("-det", "--abs", "-version") in their canonical
/// CLI11 form; single letters and bundles ("-d", "-ad", "-dd") are CLI11's already.
std::vector<std::string> canonical_options(std::span<const std::string_view> args) {
    constexpr std::array<std::string_view, 5> long_names{"absolute", "version", "details",
                                                         "ddetails", "help"};
    std::vector<std::string> out;
    bool options_done = false;
    for (const auto arg : args) {
        if (options_done || arg.size() < 2 || arg.front() != '-' || arg == "--") {
            options_done = options_done || arg.empty() || arg.front() != '-' || arg == "--";
            out.emplace_back(arg);
            continue;
        }
        std::string_view name = arg.substr(arg[1] == '-' ? 2 : 1);
        const bool bundle = arg[1] != '-' && name.size() <= 2;
        const auto it = std::find_if(long_names.begin(), long_names.end(),
                                     [name](auto n) { return abbreviates(name, n); });
        if (bundle || it == long_names.end() || name.find('=') != std::string_view::npos) {
            out.emplace_back(arg);
        } else if (*it == "ddetails") {
            out.emplace_back("-dd");
        } else {
            out.emplace_back("--" + std::string{*it});
        }
    }
    return out;
}

/// The words after an object ("show", "all", "add NAME"), taken keyword by keyword.
class words {
public:
    words(std::string_view object, std::vector<std::string> list)
        : object_(object)
        , list_(std::move(list)) {}

    /// Takes the next word if it abbreviates keyword.
    bool take(std::string_view keyword) {
        if (pos_ < list_.size() && abbreviates(list_[pos_], keyword)) {
            ++pos_;
            return true;
        }
        return false;
    }
    [[nodiscard]] std::optional<std::string> next() {
        return pos_ < list_.size() ? std::optional{list_[pos_++]} : std::nullopt;
    }
    [[nodiscard]] std::size_t left() const noexcept { return list_.size() - pos_; }
    /// Throws error::usage unless every word was taken.
    void done() const {
        if (pos_ < list_.size()) {
            throw error::usage(std::string{object_} + ": unexpected argument " +
                                   tools::quote(list_[pos_]),
                               std::string{object_});
        }
    }
    [[nodiscard]] std::string_view object() const noexcept { return object_; }

private:
    std::string_view object_;
    std::vector<std::string> list_;
    std::size_t pos_ = 0;
};

/// One command line after parsing: the global options and the object's words.
struct invocation {
    int details = 0;
    bool absolute = false;
    words args;
};

// ---- the kernel ----------------------------------------------------------------------------

/// The SMC_GEN_NETLINK family with errors that say what to do.
class smc_netlink {
public:
    smc_netlink() : family_(SMC_GENL_FAMILY_NAME, smc_module_hint) {}

    template <typename T, typename Parse>
    std::vector<T> dump(std::uint8_t cmd, std::string_view what, Parse parse) {
        std::vector<T> items;
        family_.dump(cmd, what, [&](const nl::attribute_set& reply) {
            if (auto item = parse(reply)) {
                items.push_back(std::move(*item));
            }
        });
        return items;
    }

    void dump_raw(std::uint8_t cmd, std::string_view what,
                  const std::function<void(const nl::attribute_set&)>& on_reply) {
        family_.dump(cmd, what, on_reply);
    }

    /// A privileged command; EPERM is explained.
    void execute(std::uint8_t cmd, std::string_view what, std::span<const char> eid = {}) {
        auto req = family_.make_request(cmd);
        if (!eid.empty()) {
            req.add_attribute(SMC_NLA_EID_TABLE_ENTRY, std::as_bytes(eid));
        }
        try {
            family_.transact(req, what);
        } catch (const error& e) {
            if (e.errnum() == EPERM || e.errnum() == EACCES) {
                throw error(std::string{e.what()} + " - this needs CAP_NET_ADMIN (run as root)",
                            e.resource(), e.errnum());
            }
            throw;
        }
    }

private:
    nl::genl_family family_;
};

std::vector<std::string> get_ueids(smc_netlink& nl) {
    return nl.dump<std::string>(SMC_NETLINK_DUMP_UEID, "ueid show", parse_ueid);
}

std::vector<device> get_devices(smc_netlink& nl) {
    return nl.dump<device>(SMC_NETLINK_GET_DEV_SMCD, "SMC-D devices", parse_device);
}

std::vector<linkgroup> get_linkgroups(smc_netlink& nl) {
    return nl.dump<linkgroup>(SMC_NETLINK_GET_LGR_SMCD, "SMC-D link groups", parse_linkgroup);
}

stats_snapshot get_stats(smc_netlink& nl) {
    stats_snapshot snap;
    const auto st = nl.dump<stats>(SMC_NETLINK_GET_STATS, "statistics", parse_stats);
    if (!st.empty()) {
        snap.counters = st.front();
    }
    nl.dump_raw(
        SMC_NETLINK_GET_FBACK_STATS, "fallback statistics",
        [&snap](const nl::attribute_set& reply) { add_fallback_reply(reply, snap.fallbacks); });
    return snap;
}

// ---- the objects ---------------------------------------------------------------------------

int cmd_info(invocation& inv, context& ctx) {
    inv.args.take("show");
    inv.args.done();
    smc_netlink nl;
    const auto info = nl.dump<sys_info>(SMC_NETLINK_GET_SYS_INFO, "system info", parse_sys_info);
    const auto devices = get_devices(nl);
    std::size_t roce = 0;
    nl.dump_raw(SMC_NETLINK_GET_DEV_SMCR, "SMC-R devices",
                [&roce](const nl::attribute_set& r) { roce += r.has(SMC_GEN_DEV_SMCR) ? 1 : 0; });
    print_sys_info(ctx.out, info.empty() ? sys_info{} : info.front(), devices.size(), roce);
    std::string ueids;
    for (const auto& eid : get_ueids(nl)) {
        ueids += (ueids.empty() ? "" : ", ") + eid;
    }
    ctx.out << "User EIDs:        " << or_dash(ueids) << "\n\nSMC-D devices\n";
    print_devices(ctx.out, devices, ctx.sysfs);
    ctx.out << "\nSMC-D link groups\n";
    print_linkgroups(ctx.out, get_linkgroups(nl));
    return exit_ok;
}

int cmd_device(invocation& inv, context& ctx) {
    inv.args.take("show");
    inv.args.take("all");
    inv.args.done();
    smc_netlink nl;
    print_devices(ctx.out, get_devices(nl), ctx.sysfs);
    return exit_ok;
}

int cmd_linkgroup(invocation& inv, context& ctx) {
    inv.args.take("show");
    std::optional<std::uint32_t> only;
    if (!inv.args.take("all")) {
        if (const auto id = inv.args.next()) {
            std::uint32_t value = 0;
            const auto* end = id->data() + id->size();
            const auto [ptr, ec] = std::from_chars(id->data(), end, value, 16);
            if (ec != std::errc{} || ptr != end) {
                throw error::usage("linkgroup: invalid LG-ID " + tools::quote(*id) +
                                       " (hex, as smcd linkgroup shows it)",
                                   "linkgroup");
            }
            only = value;
        }
    }
    inv.args.done();
    smc_netlink nl;
    auto groups = get_linkgroups(nl);
    if (only) {
        std::erase_if(groups, [&](const linkgroup& g) { return g.id != *only; });
    }
    print_linkgroups(ctx.out, groups, inv.details > 0);
    return exit_ok;
}

stats_snapshot read_stats_file(const std::filesystem::path& file, bool& present) {
    std::ifstream in(file);
    present = static_cast<bool>(in);
    if (!present) {
        return {};
    }
    std::stringstream text;
    text << in.rdbuf();
    try {
        return from_json(text.str());
    } catch (const error& e) {
        throw error("stats: " + file.string() + ": " + e.what() + " (remove it)", file.string());
    }
}

void write_stats_file(const std::filesystem::path& file, const stats_snapshot& snap) {
    const std::filesystem::path tmp = file.string() + ".new";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << to_json(snap) << '\n';
        if (!out.flush()) {
            throw error::system("stats reset", "write", tmp, errno);
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, file, ec);
    if (ec) {
        throw error::system("stats reset", "rename to " + file.string(), tmp, ec.value());
    }
}

int cmd_stats(invocation& inv, context& ctx) {
    const bool reset = !inv.args.take("show") && inv.args.take("reset");
    const bool json = !reset && inv.args.take("json");
    inv.args.done();
    smc_netlink nl;
    const auto now = get_stats(nl);
    auto shown = now;
    if (!inv.absolute) {
        bool present = false;
        const auto base = read_stats_file(ctx.stats_file, present);
        if (present) {
            shown = since(now, base).value_or(now); // a stale file: the module was reloaded
        }
    }
    if (json) {
        ctx.out << to_json(shown) << '\n';
    } else {
        print_stats(ctx.out, shown, inv.details > 0);
    }
    if (reset) {
        write_stats_file(ctx.stats_file, now);
    }
    return exit_ok;
}

int cmd_ueid(invocation& inv, context& ctx) {
    const auto usage = [&](std::string_view sub, std::string_view synopsis) {
        return error::usage(
            "ueid " + std::string{sub} + ": usage: smcd ueid " + std::string{synopsis}, "ueid");
    };
    if (inv.args.left() == 0 || inv.args.take("show")) {
        inv.args.done();
        smc_netlink nl;
        for (const auto& eid : get_ueids(nl)) {
            ctx.out << eid << '\n';
        }
        return exit_ok;
    }
    const bool add = inv.args.take("add");
    if (add || inv.args.take("del")) {
        const std::string sub = add ? "add" : "del";
        const auto name_arg = inv.args.next();
        if (!name_arg || inv.args.left() != 0) {
            throw usage(sub, sub + " NAME");
        }
        const auto attr = ueid_attribute(*name_arg); // validates before any kernel access
        const std::string name = trim_eid({attr.data(), eid_length});
        smc_netlink nl;
        try {
            nl.execute(add ? SMC_NETLINK_ADD_UEID : SMC_NETLINK_REMOVE_UEID,
                       "ueid " + sub + " " + name, attr);
        } catch (const error& e) {
            if (!add && e.errnum() == EAGAIN) {
                return exit_ok; // removed the last one (the kernel re-enables the SEID)
            }
            if (add && e.errnum() == EEXIST) {
                throw error("ueid add: user EID " + name + " exists already", name, EEXIST);
            }
            if (add && e.errnum() == ERANGE) {
                throw error("ueid add " + name + ": the user EID table is full (at most " +
                                std::to_string(SMC_MAX_UEID) + " entries)",
                            name, ERANGE);
            }
            if (!add && e.errnum() == ENOENT) {
                throw error("ueid del: no user EID " + name, name, ENOENT);
            }
            throw;
        }
        return exit_ok;
    }
    if (inv.args.take("flush")) {
        inv.args.done();
        smc_netlink nl;
        nl.execute(SMC_NETLINK_FLUSH_UEID, "ueid flush");
        return exit_ok;
    }
    const auto what = inv.args.next().value_or("");
    throw error::usage(
        "ueid: unknown subcommand " + tools::quote(what) + " (show, add, del, flush)", "ueid");
}

int cmd_seid(invocation& inv, context& ctx) {
    const bool show = inv.args.left() == 0 || inv.args.take("show");
    const bool enable = !show && inv.args.take("enable");
    if (!show && !enable && !inv.args.take("disable")) {
        const auto what = inv.args.next().value_or("");
        throw error::usage(
            "seid: unknown subcommand " + tools::quote(what) + " (show, enable, disable)", "seid");
    }
    inv.args.done();
    smc_netlink nl;
    if (show) {
        const auto seids = nl.dump<seid_info>(SMC_NETLINK_DUMP_SEID, "seid show", parse_seid);
        print_seid(ctx.out, seids.empty() ? std::nullopt : std::optional{seids.front()});
        return exit_ok;
    }
    const std::string what = enable ? "seid enable" : "seid disable";
    try {
        nl.execute(enable ? SMC_NETLINK_ENABLE_SEID : SMC_NETLINK_DISABLE_SEID, what);
    } catch (const error& e) {
        if (e.errnum() == EOPNOTSUPP) {
            throw error(std::string{e.what()} +
                            " - the kernel switches the system EID on s390 only",
                        e.resource(), e.errnum());
        }
        if (!enable && e.errnum() == ENOENT) {
            throw error(std::string{e.what()} +
                            " - the system EID cannot be disabled without a user EID",
                        e.resource(), e.errnum());
        }
        throw;
    }
    return exit_ok;
}

int cmd_help(invocation& /*inv*/, context& ctx) {
    ctx.out << help_page;
    return exit_ok;
}

/// The objects in smc-tools' order (smc.c: cmds[]): an abbreviation means the first match.
struct object {
    std::string_view name;
    int (*run)(invocation&, context&);
};
constexpr std::array objects{
    object{"device", cmd_device}, object{"linkgroup", cmd_linkgroup}, object{"info", cmd_info},
    object{"stats", cmd_stats},   object{"ueid", cmd_ueid},           object{"seid", cmd_seid},
    object{"help", cmd_help},
};
/// Other names of this tool's earlier versions.
constexpr std::array<std::pair<std::string_view, std::string_view>, 2> aliases{{
    {"devices", "device"},
    {"lgr", "linkgroup"},
}};

const object* find_object(std::string_view word) {
    for (const auto& [alias, name] : aliases) {
        if (word == alias) {
            word = name;
        }
    }
    const auto it = std::find_if(objects.begin(), objects.end(),
                                 [word](const object& o) { return abbreviates(word, o.name); });
    return it == objects.end() ? nullptr : &*it;
}

int dispatch(std::span<const std::string_view> args, context& ctx) {
    auto cl = parse_command_line(args);
    if (cl.help) {
        ctx.out << help_page;
        return exit_ok;
    }
    if (cl.version) {
        ctx.out << "smcd (dibs-rdma) " << SMC_TOOLS_VERSION << '\n';
        return exit_ok;
    }
    const object* obj = find_object(cl.object);
    invocation inv{cl.details, cl.absolute, words(obj->name, std::move(cl.words))};
    return obj->run(inv, ctx);
}

} // namespace

// ---- parsing -------------------------------------------------------------------------------

std::optional<sys_info> parse_sys_info(const nl::attribute_set& reply) {
    const auto a = reply.nested(SMC_GEN_SYS_INFO);
    if (!a) {
        return std::nullopt;
    }
    sys_info info;
    info.version = uint_or<unsigned>(*a, SMC_NLA_SYS_VER);
    info.release = uint_or<unsigned>(*a, SMC_NLA_SYS_REL);
    info.ism_v2 = uint_or<unsigned>(*a, SMC_NLA_SYS_IS_ISM_V2) != 0;
    info.smcr_v2 = uint_or<unsigned>(*a, SMC_NLA_SYS_IS_SMCR_V2) != 0;
    info.local_host = trim_eid(a->string(SMC_NLA_SYS_LOCAL_HOST).value_or(""));
    info.seid = trim_eid(a->string(SMC_NLA_SYS_SEID).value_or(""));
    return info;
}

std::optional<device> parse_device(const nl::attribute_set& reply) {
    const auto a = reply.nested(SMC_GEN_DEV_SMCD);
    if (!a) {
        return std::nullopt;
    }
    device d;
    d.pci_id = a->string(SMC_NLA_DEV_PCI_ID).value_or("");
    d.use_count = uint_or<std::uint32_t>(*a, SMC_NLA_DEV_USE_CNT);
    d.critical = uint_or<unsigned>(*a, SMC_NLA_DEV_IS_CRIT) != 0;
    d.pci_fid = uint_or<std::uint32_t>(*a, SMC_NLA_DEV_PCI_FID);
    d.pci_chid = uint_or<std::uint16_t>(*a, SMC_NLA_DEV_PCI_CHID);
    d.pci_vendor = uint_or<std::uint16_t>(*a, SMC_NLA_DEV_PCI_VENDOR);
    d.pci_device = uint_or<std::uint16_t>(*a, SMC_NLA_DEV_PCI_DEVICE);
    if (const auto port = a->nested(SMC_NLA_DEV_PORT)) {
        d.pnetid = trim_eid(port->string(SMC_NLA_DEV_PORT_PNETID).value_or(""));
        d.pnetid_by_user = uint_or<unsigned>(*port, SMC_NLA_DEV_PORT_PNET_USR) != 0;
    }
    return d;
}

std::optional<linkgroup> parse_linkgroup(const nl::attribute_set& reply) {
    const auto a = reply.nested(SMC_GEN_LGR_SMCD);
    if (!a) {
        return std::nullopt;
    }
    linkgroup g;
    g.id = uint_or<std::uint32_t>(*a, SMC_NLA_LGR_D_ID);
    g.gid = uint_or<std::uint64_t>(*a, SMC_NLA_LGR_D_GID);
    g.peer_gid = uint_or<std::uint64_t>(*a, SMC_NLA_LGR_D_PEER_GID);
    g.vlan_id = uint_or<std::uint8_t>(*a, SMC_NLA_LGR_D_VLAN_ID);
    g.conns = uint_or<std::uint32_t>(*a, SMC_NLA_LGR_D_CONNS_NUM);
    g.chid = uint_or<std::uint32_t>(*a, SMC_NLA_LGR_D_CHID); // u32 on 6.1, u16 in the uapi
    g.pnetid = trim_eid(a->string(SMC_NLA_LGR_D_PNETID).value_or(""));
    if (const auto v2 = a->nested(SMC_NLA_LGR_D_V2_COMMON)) {
        g.v2 = linkgroup::v2_info{
            uint_or<unsigned>(*v2, SMC_NLA_LGR_V2_VER),
            uint_or<unsigned>(*v2, SMC_NLA_LGR_V2_REL),
            uint_or<unsigned>(*v2, SMC_NLA_LGR_V2_OS),
            trim_eid(v2->string(SMC_NLA_LGR_V2_NEG_EID).value_or("")),
            trim_eid(v2->string(SMC_NLA_LGR_V2_PEER_HOST).value_or("")),
        };
    }
    return g;
}

std::optional<stats> parse_stats(const nl::attribute_set& reply) {
    const auto a = reply.nested(SMC_GEN_STATS);
    if (!a) {
        return std::nullopt;
    }
    stats s;
    if (const auto tech = a->nested(SMC_NLA_STATS_SMCD_TECH)) {
        s.smcd = parse_tech(*tech);
    }
    s.client_handshake_errors = uint_or<std::uint64_t>(*a, SMC_NLA_STATS_CLNT_HS_ERR_CNT);
    s.server_handshake_errors = uint_or<std::uint64_t>(*a, SMC_NLA_STATS_SRV_HS_ERR_CNT);
    return s;
}

void add_fallback_reply(const nl::attribute_set& reply, fallback_stats& fb) {
    const auto a = reply.nested(SMC_GEN_FBACK_STATS);
    if (!a) {
        return;
    }
    // The totals come with the first reason only.
    if (const auto srv = a->uint(SMC_NLA_FBACK_STATS_SRV_CNT)) {
        fb.server_total = *srv;
    }
    if (const auto clnt = a->uint(SMC_NLA_FBACK_STATS_CLNT_CNT)) {
        fb.client_total = *clnt;
    }
    if (const auto code = a->uint(SMC_NLA_FBACK_STATS_RSN_CODE)) {
        fb.entries.push_back({uint_or<unsigned>(*a, SMC_NLA_FBACK_STATS_TYPE) != 0,
                              static_cast<std::uint32_t>(*code),
                              uint_or<std::uint64_t>(*a, SMC_NLA_FBACK_STATS_RSN_CNT)});
    }
}

std::optional<seid_info> parse_seid(const nl::attribute_set& reply) {
    const auto seid = reply.string(SMC_NLA_SEID_ENTRY);
    if (!seid) {
        return std::nullopt;
    }
    return seid_info{trim_eid(*seid), uint_or<unsigned>(reply, SMC_NLA_SEID_ENABLED) != 0};
}

std::optional<std::string> parse_ueid(const nl::attribute_set& reply) {
    const auto eid = reply.string(SMC_NLA_EID_TABLE_ENTRY);
    if (!eid) {
        return std::nullopt;
    }
    return trim_eid(*eid);
}

// ---- command lines -------------------------------------------------------------------------

command_line parse_command_line(std::span<const std::string_view> args) {
    command_line cl;
    const auto canonical = canonical_options(args);
    const std::vector<std::string_view> views(canonical.begin(), canonical.end());
    const auto app = tools::make_app("smcd");
    app->prefix_command();
    app->add_flag("-d,--details", cl.details);
    app->add_flag("-a,--absolute", cl.absolute);
    app->add_flag("-h,--help", cl.help);
    app->add_flag("-v,-V,--version", cl.version);
    tools::parse(*app, views);
    if (cl.help || cl.version) {
        return cl;
    }
    auto rest = app->remaining();
    if (!rest.empty() && rest.front() == "--") {
        rest.erase(rest.begin());
    }
    if (!rest.empty() && rest.front().starts_with("-")) {
        throw error::usage("unknown option " + tools::quote(rest.front()));
    }
    const std::string word = rest.empty() ? "info" : rest.front();
    const object* obj = find_object(word);
    if (obj == nullptr) {
        throw error::usage("unknown command " + tools::quote(word));
    }
    cl.object = obj->name;
    // The object's own words; -h, -d and -a are accepted after the object as well.
    const std::vector<std::string_view> tail(rest.begin() + (rest.empty() ? 0 : 1), rest.end());
    bool help = false;
    int details = 0;
    bool absolute = false;
    const auto sub = tools::make_app("smcd " + cl.object);
    sub->add_flag("-h,--help", help);
    sub->add_flag("-d,--details", details);
    sub->add_flag("-a,--absolute", absolute);
    sub->add_option("words", cl.words);
    tools::parse(*sub, tail, cl.object);
    cl.help = cl.help || help;
    cl.details += details;
    cl.absolute = cl.absolute || absolute;
    if (!cl.words.empty() && abbreviates(cl.words.front(), "help")) {
        cl.help = true;
    }
    return cl;
}

// ---- statistics since "smcd stats reset" -----------------------------------------------------

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(buffer_stats, alloc, reuse, downgrade, full, full_peer, small,
                                   small_peer)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(tech_stats, client_v1, client_v2, server_v1, server_v2, rx_bytes,
                                   tx_bytes, rx_count, tx_count, sendpage, splice, cork, nodelay,
                                   urgent, rx_payload, tx_payload, rx_rmb_size, tx_rmb_size, rx_rmb,
                                   tx_rmb)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(stats, smcd, client_handshake_errors, server_handshake_errors)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(fallback_entry, server, code, count)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(fallback_stats, server_total, client_total, entries)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(stats_snapshot, counters, fallbacks)

namespace {

/// now - base for every number in the counters (same shape); false if one of base is larger.
bool subtract(nlohmann::json& now, const nlohmann::json& base) {
    if (now.is_number_unsigned() && base.is_number_unsigned()) {
        const auto n = now.get<std::uint64_t>();
        const auto b = base.get<std::uint64_t>();
        now = n - b;
        return b <= n;
    }
    bool ok = true;
    if (now.is_object() && base.is_object()) {
        for (auto& [key, value] : now.items()) {
            if (base.contains(key)) {
                ok = subtract(value, base.at(key)) && ok;
            }
        }
    } else if (now.is_array() && base.is_array() && now.size() == base.size()) {
        for (std::size_t i = 0; i < now.size(); ++i) {
            ok = subtract(now[i], base[i]) && ok;
        }
    }
    return ok;
}

} // namespace

std::string to_json(const stats_snapshot& snap) {
    return nlohmann::json(snap).dump();
}

stats_snapshot from_json(std::string_view text) {
    try {
        return nlohmann::json::parse(text).get<stats_snapshot>();
    } catch (const nlohmann::json::exception& e) {
        throw error(std::string{"not a statistics snapshot: "} + e.what());
    }
}

std::optional<stats_snapshot> since(const stats_snapshot& now, const stats_snapshot& base) {
    nlohmann::json counters = now.counters;
    if (!subtract(counters, nlohmann::json(base.counters))) {
        return std::nullopt;
    }
    stats_snapshot result{counters.get<stats>(), now.fallbacks};
    auto& fb = result.fallbacks;
    if (base.fallbacks.server_total > fb.server_total ||
        base.fallbacks.client_total > fb.client_total) {
        return std::nullopt;
    }
    fb.server_total -= base.fallbacks.server_total;
    fb.client_total -= base.fallbacks.client_total;
    for (const auto& old : base.fallbacks.entries) {
        const auto it = std::find_if(fb.entries.begin(), fb.entries.end(), [&](const auto& e) {
            return e.server == old.server && e.code == old.code;
        });
        if (it == fb.entries.end() || it->count < old.count) {
            return std::nullopt;
        }
        it->count -= old.count;
    }
    std::erase_if(fb.entries, [](const auto& e) { return e.count == 0; });
    return result;
}

// ---- formatting ----------------------------------------------------------------------------

void print_sys_info(std::ostream& out, const sys_info& info, std::size_t ism_devices,
                    std::size_t roce_devices) {
    const auto line = [&out](std::string_view key, std::string_view value) {
        out << format("%-18s", (std::string{key} + ":").c_str()) << or_dash(value) << '\n';
    };
    out << "Kernel Capabilities\n";
    line("SMC Version", info.version == 0 ? "n/a" : dec(info.version) + "." + dec(info.release));
    line("SMC Hostname", info.local_host.empty() ? "n/a" : info.local_host);
    line("SMC-D Features", info.version >= 2 ? "v1 v2" : "v1");
    line("SMC-R Features", info.smcr_v2 ? "v1 v2" : "v1");
    out << "\nHardware Capabilities\n";
    line("SEID", info.seid.empty() ? "n/a" : info.seid);
    line("ISM", ism_devices == 0 ? "n/a" : (info.ism_v2 ? "v1 v2" : "v1"));
    line("RoCE", roce_devices == 0 ? "n/a" : (info.smcr_v2 ? "v1 v2" : "v1"));
}

std::string device_type(std::uint16_t vendor, std::uint16_t device_id) {
    if (vendor == pci_vendor_ibm && device_id == pci_device_ism) {
        return "ISM";
    }
    if (vendor == pci_vendor_dibs && device_id == pci_device_dibs) {
        return "DIBS";
    }
    if (vendor == pci_vendor_dibs && device_id == pci_device_dibs_loopback) {
        return "DIBS-LO";
    }
    return hex0x(device_id, 4);
}

void print_devices(std::ostream& out, std::span<const device> devices,
                   const tools::sysfs_layout& sysfs) {
    if (devices.empty()) {
        out << "no SMC-D devices\n";
        return;
    }
    std::vector<std::vector<std::string>> rows{{"FID", "Type", "PCI-ID", "PCHID", "InUse", "#LGs",
                                                "PNET-ID", "GID", "Fabric", "DMBs", "Max-DMBs"}};
    for (const auto& d : devices) {
        std::vector<std::string> row{hex(d.pci_fid, 4),
                                     device_type(d.pci_vendor, d.pci_device),
                                     or_dash(d.pci_id),
                                     hex(d.pci_chid, 4),
                                     yes_no(d.critical),
                                     dec(d.use_count),
                                     d.pnetid.empty() ? "-"
                                                      : (d.pnetid_by_user ? "*" : "") + d.pnetid};
        std::optional<tools::device_info> dibs;
        if (!d.pci_id.empty() && d.pci_id.find('/') == std::string::npos &&
            tools::device_exists(sysfs, d.pci_id)) {
            std::vector<error> problems; // an unreadable attribute is shown as "-"
            dibs = tools::read_device(sysfs, d.pci_id, "device", problems);
        }
        const auto opt = [&](auto member, auto fmt) -> std::string {
            if (dibs && (*dibs).*member) {
                return fmt(*((*dibs).*member));
            }
            return "-";
        };
        row.push_back(opt(&tools::device_info::gid, tools::format_gid));
        row.push_back(opt(&tools::device_info::fabric_id, tools::format_fabric_id));
        row.push_back(opt(&tools::device_info::dmbs, dec));
        row.push_back(opt(&tools::device_info::max_dmbs, dec));
        rows.push_back(std::move(row));
    }
    print_columns(out, rows);
}

void print_linkgroups(std::ostream& out, std::span<const linkgroup> groups, bool details) {
    if (groups.empty()) {
        out << "no SMC-D link groups\n";
        return;
    }
    if (details) {
        bool first = true;
        for (const auto& g : groups) {
            out << (first ? "" : "\n") << "LG-ID    : " << hex(g.id, 8) << '\n'
                << "VLAN     : " << format("%x", g.vlan_id) << '\n'
                << "PNET-ID  : " << g.pnetid << '\n'
                << "Version  : " << (g.v2 ? g.v2->version : 1) << '\n';
            if (g.v2) {
                out << "Peer-Rel : " << g.v2->peer_release << '\n'
                    << "Peer-Host: " << g.v2->peer_host << '\n'
                    << "Peer-OS  : " << peer_os_name(g.v2->peer_os) << '\n'
                    << "EID      : " << g.v2->negotiated_eid << '\n';
            }
            out << "#Conns   : " << g.conns << '\n'
                << "GID      : " << hex(g.gid, 16) << '\n'
                << "Peer-GID : " << hex(g.peer_gid, 16) << '\n'
                << "CHID     : " << hex(g.chid, 4) << '\n';
            first = false;
        }
        return;
    }
    std::vector<std::vector<std::string>> rows{{"LG-ID", "VLAN", "#Conns", "PNET-ID", "GID",
                                                "Peer-GID", "CHID", "Version", "Peer-Host", "EID"}};
    for (const auto& g : groups) {
        rows.push_back({hex(g.id, 8), format("%#x", g.vlan_id), dec(g.conns), or_dash(g.pnetid),
                        hex(g.gid, 16), hex(g.peer_gid, 16), hex(g.chid, 4),
                        g.v2 ? dec(g.v2->version) : "1", g.v2 ? or_dash(g.v2->peer_host) : "-",
                        g.v2 ? or_dash(g.v2->negotiated_eid) : "-"});
    }
    print_columns(out, rows);
}

namespace {

/// "  Key (padded to 27)  %12llu[ extra]"
std::string stat_line(std::string_view key, std::uint64_t value, std::string_view extra = {}) {
    return format("  %-26s %12llu", std::string{key}.c_str(),
                  static_cast<unsigned long long>(value)) +
           std::string{extra} + "\n";
}

/// The 8 size columns of smc-tools (the two largest buckets together as ">512KB").
std::string size_row(std::string_view label, const size_buckets& b) {
    std::string row = format("  %-5s", std::string{label}.c_str());
    for (std::size_t i = 0; i < 7; ++i) {
        row += format("  %6s", abbreviated(b.at(i)).c_str());
    }
    return row + format("  %6s", abbreviated(b.at(7) + b.at(8)).c_str()) + "\n";
}

constexpr std::string_view size_header =
    "            8KB    16KB    32KB    64KB   128KB   256KB   512KB  >512KB\n";

void print_fallback_reasons(std::ostream& out, const fallback_stats& fb, bool server) {
    std::vector<fallback_entry> list;
    std::copy_if(fb.entries.begin(), fb.entries.end(), std::back_inserter(list),
                 [server](const auto& e) { return e.server == server && e.count > 0; });
    std::stable_sort(list.begin(), list.end(),
                     [](const auto& a, const auto& b) { return a.count > b.count; });
    if (list.empty()) {
        return;
    }
    out << (server ? "    Server\n" : "    Client\n");
    for (const auto& e : list) {
        const auto reason = find_fallback_reason(e.code);
        const std::string name = reason ? std::string{reason->name} : hex0x(e.code, 8);
        out << format("     %-12s            %12llu", name.c_str(),
                      static_cast<unsigned long long>(e.count))
            << "  " << hex0x(e.code, 8) << " (" << fallback_text(e.code) << ")\n";
    }
}

} // namespace

void print_stats(std::ostream& out, const stats_snapshot& snap, bool details) {
    const tech_stats& t = snap.counters.smcd;
    const auto& fb = snap.fallbacks;
    const std::uint64_t conns = t.connections();
    const std::uint64_t hs_client = snap.counters.client_handshake_errors;
    const std::uint64_t hs_server = snap.counters.server_handshake_errors;
    const std::uint64_t fallbacks = fb.client_total + fb.server_total;
    const auto both = [&](std::uint64_t c, std::uint64_t s) {
        return details ? " (client " + dec(c) + ", server " + dec(s) + ")" : std::string{};
    };
    out << "SMC-D Connections Summary\n"
        << stat_line("Total connections handled", conns + hs_client + hs_server + fallbacks)
        << stat_line("SMC connections", conns,
                     both(t.client_v1 + t.client_v2, t.server_v1 + t.server_v2));
    if (details) {
        out << stat_line("  v1", t.client_v1 + t.server_v1)
            << stat_line("  v2", t.client_v2 + t.server_v2);
    }
    out << stat_line("Handshake errors", hs_client + hs_server, both(hs_client, hs_server))
        << format("  %-26s %14.1f\n", "Avg requests per SMC conn",
                  conns == 0
                      ? 0.0
                      : static_cast<double>(t.rx_count + t.tx_count) / static_cast<double>(conns))
        << stat_line("TCP fallback", fallbacks, both(fb.client_total, fb.server_total));
    if (details) {
        print_fallback_reasons(out, fb, true);
        print_fallback_reasons(out, fb, false);
    }

    const auto pct = [](std::uint64_t part, std::uint64_t whole) {
        return format(" (%.2f%%)", percent(part, whole));
    };
    out << "\nRX Stats\n"
        << format("  %-24s %14llu (%s)\n", "Data transmitted (Bytes)",
                  static_cast<unsigned long long>(t.rx_bytes), abbreviated(t.rx_bytes).c_str())
        << stat_line("Total requests", t.rx_count)
        << stat_line("Buffer full", t.rx_rmb.full, pct(t.rx_rmb.full, t.rx_count));
    if (details) {
        out << stat_line("Buffer downgrades", t.rx_rmb.downgrade)
            << stat_line("Buffer reuses", t.rx_rmb.reuse);
    }
    out << size_header << size_row("Bufs", t.rx_rmb_size) << size_row("Reqs", t.rx_payload);

    out << "\nTX Stats\n"
        << format("  %-24s %14llu (%s)\n", "Data transmitted (Bytes)",
                  static_cast<unsigned long long>(t.tx_bytes), abbreviated(t.tx_bytes).c_str())
        << stat_line("Total requests", t.tx_count)
        << stat_line("Buffer full", t.tx_rmb.full, pct(t.tx_rmb.full, t.tx_count))
        << stat_line("Buffer full (remote)", t.tx_rmb.full_peer,
                     pct(t.tx_rmb.full_peer, t.tx_count))
        << stat_line("Buffer too small", t.tx_rmb.small, pct(t.tx_rmb.small, t.tx_count))
        << stat_line("Buffer too small (remote)", t.tx_rmb.small_peer,
                     pct(t.tx_rmb.small_peer, t.tx_count));
    if (details) {
        out << stat_line("Buffer downgrades", t.tx_rmb.downgrade)
            << stat_line("Buffer reuses", t.tx_rmb.reuse);
    }
    out << size_header << size_row("Bufs", t.tx_rmb_size) << size_row("Reqs", t.tx_payload);

    out << "\nExtras\n"
        << stat_line("Special socket calls", t.cork + t.nodelay + t.sendpage + t.splice + t.urgent);
    if (details) {
        out << stat_line("  cork", t.cork) << stat_line("  nodelay", t.nodelay)
            << stat_line("  sendpage", t.sendpage) << stat_line("  splice", t.splice)
            << stat_line("  urgent data", t.urgent);
    }
}

void print_seid(std::ostream& out, const std::optional<seid_info>& seid) {
    if (!seid || seid->seid.empty()) {
        out << "n/a\n";
        return;
    }
    out << seid->seid << (seid->enabled ? " [enabled]" : " [disabled]") << '\n';
}

// ---- commands ------------------------------------------------------------------------------

int run(std::span<const std::string_view> args, context& ctx) {
    return report_errors("smcd", ctx.out, ctx.err, [&] { return dispatch(args, ctx); });
}

std::string_view help_text() noexcept {
    return help_page;
}

std::filesystem::path default_stats_file(unsigned uid) {
    return "/tmp/.dibs-smcd-stats.u" + std::to_string(uid);
}

} // namespace dibs::smc::smcd
