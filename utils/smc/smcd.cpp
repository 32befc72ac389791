// SPDX-License-Identifier: GPL-2.0
#include "smcd.hpp"

#include "cli.hpp"
#include "dibsctl.hpp"
#include "smc_common.hpp"

#include <array>
#include <cerrno>
#include <exception>
#include <ostream>
#include <utility>

#include <linux/smc.h>

#ifndef SMC_TOOLS_VERSION
#define SMC_TOOLS_VERSION "0.1"
#endif

namespace dibs::smc::smcd {
namespace {

// ---- help ----------------------------------------------------------------------------------

constexpr std::string_view help = R"help(NAME
    smcd - show SMC-D devices, link groups and statistics; manage user EIDs

SYNOPSIS
    smcd [info]
    smcd device|devices
    smcd linkgroup|lgr
    smcd stats
    smcd ueid show
    smcd ueid add NAME
    smcd ueid del NAME
    smcd ueid flush
    smcd -h|--help
    smcd -V|--version

DESCRIPTION
    smcd talks to the kernel's smc module over its generic netlink family
    SMC_GEN_NETLINK, like smcd of IBM's smc-tools. In this project every dibs
    device (e.g. dibs_lo0) is an SMC-D device (module dibs_smcd), which the
    kernel names by the dibs device; smcd shows the dibs attributes of that
    device from /sys/class/dibs/NAME next to the SMC-D ones.

COMMANDS
    info       The default: system information (SMC version and release,
               whether ISM v2 (SMC-D v2) and SMC-R v2 are possible, the local
               host name, the system EID), the user EIDs, the SMC-D devices
               and the SMC-D link groups.
    device     One line per SMC-D device: Name (the PCI id the kernel
               reports: the dibs device), Use (link groups on it), Crit
               (whether it is in use), PCHID (0 outside s390), PNET-ID, and
               from dibs: GID, Fabric, DMBs, Max-DMBs ("-" where there is no
               dibs device of that name).
    linkgroup  One line per SMC-D link group: LG-ID, GID and Peer-GID (the
               SMC-D GIDs), VLAN, Conns (connections), CHID, PNET-ID, and
               for SMC version 2: Version, Peer-Host and EID (the negotiated
               EID).
    stats      The SMC-D counters of the current network namespace since
               the smc module was loaded: connections by role and SMC
               version, handshake errors, bytes and requests, payload and
               buffer sizes, buffer usage, special socket calls; then the
               TCP fallbacks with their reasons (decoded) and counts.
    ueid       The user EID table (at most 4 entries). SMC-D version 2
               needs one user EID on both peers outside s390 (the kernel
               otherwise declines with 0x03030008).
               show       Print each user EID on a line.
               add NAME   Add NAME: 1 to 32 characters A-Z, 0-9, '.', '-',
                          starting with a letter or digit. smcd converts
                          lowercase letters to uppercase and pads the name
                          with blanks to 32 characters, as the kernel
                          stores it.
               del NAME   Remove NAME.
               flush      Remove all user EIDs.

OPTIONS
    -h, --help       Show this help.
    -V, --version    Show the version.

    ueid add, del and flush need CAP_NET_ADMIN (run them as root); the other
    commands work for every user.

ENVIRONMENT
    DIBS_SYSFS_ROOT  The sysfs mount point to read the dibs attributes from
                     instead of /sys.

EXIT STATUS
    0   Success.
    1   Operational error: the smc module is not loaded, permission denied,
        the kernel refused (e.g. a user EID that exists already).
    2   Usage error: unknown command or option, an invalid user EID.

EXAMPLES
    smcd
        Everything at a glance.
    smcd device
        Name      Use  Crit  PCHID  PNET-ID  GID                                   Fabric  DMBs  Max-DMBs
        dibs_lo0  2    yes   0000   -        f0b14619-8d7d-40d3-a75e-759bb71d9bc7  0xffff  2     5000
    smcd ueid add DIBS-RDMA-SMCD
        Allow SMC-D version 2 (on both hosts).
    smcd stats
        Did connections use SMC-D, and why did others fall back to TCP?

SEE ALSO
    smcss(8), smc_run(8), dibsctl(8)
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

// ---- formatting ----------------------------------------------------------------------------

std::string yes_no(bool value) {
    return value ? "yes" : "no";
}

std::string dec(std::uint64_t value) {
    return std::to_string(value);
}

// ---- commands ------------------------------------------------------------------------------

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

void no_operands(std::string_view command, const parsed_options& opts) {
    if (!opts.operands.empty()) {
        throw error::usage(std::string{command} + ": unexpected argument " +
                               tools::quote(opts.operands.front()),
                           std::string{command});
    }
}

int cmd_info(smc_netlink& nl, context& ctx) {
    const auto sys =
        nl.dump<sys_info>(SMC_NETLINK_GET_SYS_INFO, "system information", parse_sys_info);
    if (!sys.empty()) {
        print_sys_info(ctx.out, sys.front());
    }
    std::string ueids;
    for (const auto& eid : get_ueids(nl)) {
        ueids += (ueids.empty() ? "" : ", ") + eid;
    }
    ctx.out << "User EIDs         " << or_dash(ueids) << "\n\nSMC-D devices\n";
    print_devices(ctx.out, get_devices(nl), ctx.sysfs);
    ctx.out << "\nSMC-D link groups\n";
    print_linkgroups(ctx.out, get_linkgroups(nl));
    return exit_ok;
}

int cmd_stats(smc_netlink& nl, context& ctx) {
    const auto st = nl.dump<stats>(SMC_NETLINK_GET_STATS, "statistics", parse_stats);
    fallback_stats fb;
    nl.dump_raw(SMC_NETLINK_GET_FBACK_STATS, "fallback statistics",
                [&fb](const nl::attribute_set& reply) { add_fallback_reply(reply, fb); });
    print_stats(ctx.out, st.empty() ? stats{} : st.front(), fb);
    return exit_ok;
}

int cmd_ueid(std::span<const std::string_view> args, context& ctx) {
    const std::string_view sub = args.empty() ? std::string_view{"show"} : args.front();
    const auto rest = args.empty() ? args : args.subspan(1);
    const auto want = [&](std::size_t n, std::string_view synopsis) {
        if (rest.size() != n) {
            throw error::usage(
                "ueid " + std::string{sub} + ": usage: smcd ueid " + std::string{synopsis}, "ueid");
        }
    };
    if (sub == "show") {
        want(0, "show");
        smc_netlink nl;
        for (const auto& eid : get_ueids(nl)) {
            ctx.out << eid << '\n';
        }
        return exit_ok;
    }
    if (sub == "add" || sub == "del") {
        want(1, std::string{sub} + " NAME");
        const auto attr = ueid_attribute(rest.front()); // validates before any kernel access
        const std::string name = trim_eid({attr.data(), eid_length});
        smc_netlink nl;
        try {
            nl.execute(sub == "add" ? SMC_NETLINK_ADD_UEID : SMC_NETLINK_REMOVE_UEID,
                       "ueid " + std::string{sub} + " " + name, attr);
        } catch (const error& e) {
            if (sub == "del" && e.errnum() == EAGAIN) {
                return exit_ok; // removed the last one (the kernel re-enables the SEID)
            }
            if (sub == "add" && e.errnum() == EEXIST) {
                throw error("ueid add: user EID " + name + " exists already", name, EEXIST);
            }
            if (sub == "add" && e.errnum() == ERANGE) {
                throw error("ueid add " + name + ": the user EID table is full (at most " +
                                std::to_string(SMC_MAX_UEID) + " entries)",
                            name, ERANGE);
            }
            if (sub == "del" && e.errnum() == ENOENT) {
                throw error("ueid del: no user EID " + name, name, ENOENT);
            }
            throw;
        }
        return exit_ok;
    }
    if (sub == "flush") {
        want(0, "flush");
        smc_netlink nl;
        nl.execute(SMC_NETLINK_FLUSH_UEID, "ueid flush");
        return exit_ok;
    }
    throw error::usage("ueid: unknown subcommand " + tools::quote(sub) + " (show, add, del, flush)",
                       "ueid");
}

int dispatch(std::span<const std::string_view> args, context& ctx) {
    constexpr std::array defs{option_def{'h', "help"}, option_def{'V', "version"}};
    const auto opts = parse_options("", args, defs, true);
    if (opts.has("help")) {
        ctx.out << help;
        return exit_ok;
    }
    if (opts.has("version")) {
        ctx.out << "smcd (dibs-rdma) " << SMC_TOOLS_VERSION << '\n';
        return exit_ok;
    }
    const auto operands = std::span{opts.operands};
    const std::string_view command = operands.empty() ? "info" : operands.front();
    const auto rest = operands.empty() ? operands : operands.subspan(1);
    const auto sub_opts = [&](std::string_view name) {
        const auto o = parse_options(name, rest, defs);
        no_operands(name, o);
        return o;
    };

    if (command == "help") {
        ctx.out << help;
        return exit_ok;
    }
    if (command == "ueid") {
        if (!rest.empty() && (rest.front() == "-h" || rest.front() == "--help")) {
            ctx.out << help;
            return exit_ok;
        }
        return cmd_ueid(rest, ctx);
    }
    if (command != "info" && command != "device" && command != "devices" &&
        command != "linkgroup" && command != "lgr" && command != "stats") {
        throw error::usage("unknown command " + tools::quote(command));
    }
    if (sub_opts(command).has("help")) {
        ctx.out << help;
        return exit_ok;
    }
    smc_netlink nl;
    if (command == "info") {
        return cmd_info(nl, ctx);
    }
    if (command == "stats") {
        return cmd_stats(nl, ctx);
    }
    if (command == "linkgroup" || command == "lgr") {
        print_linkgroups(ctx.out, get_linkgroups(nl));
        return exit_ok;
    }
    print_devices(ctx.out, get_devices(nl), ctx.sysfs);
    return exit_ok;
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

std::optional<std::string> parse_ueid(const nl::attribute_set& reply) {
    const auto eid = reply.string(SMC_NLA_EID_TABLE_ENTRY);
    if (!eid) {
        return std::nullopt;
    }
    return trim_eid(*eid);
}

// ---- formatting ----------------------------------------------------------------------------

void print_sys_info(std::ostream& out, const sys_info& info) {
    out << "SMC version       " << info.version << '.' << info.release << '\n'
        << "ISM v2 capable    " << yes_no(info.ism_v2) << '\n'
        << "SMC-R v2 capable  " << yes_no(info.smcr_v2) << '\n'
        << "Local host        " << or_dash(info.local_host) << '\n'
        << "SEID              " << or_dash(info.seid) << '\n';
}

void print_devices(std::ostream& out, std::span<const device> devices,
                   const tools::sysfs_layout& sysfs) {
    std::vector<std::vector<std::string>> rows{
        {"Name", "Use", "Crit", "PCHID", "PNET-ID", "GID", "Fabric", "DMBs", "Max-DMBs"}};
    for (const auto& d : devices) {
        std::vector<std::string> row{or_dash(d.pci_id), dec(d.use_count), yes_no(d.critical),
                                     hex(d.pci_chid, 4), or_dash(d.pnetid)};
        std::optional<tools::device_info> dibs;
        if (!d.pci_id.empty() && d.pci_id.find('/') == std::string::npos &&
            tools::device_exists(sysfs, d.pci_id)) {
            std::vector<error> problems; // an unreadable attribute is shown as "-"
            dibs = tools::read_device(sysfs, d.pci_id, "device", problems);
        }
        const auto opt = [&](auto member, auto format) -> std::string {
            if (dibs && (*dibs).*member) {
                return format(*((*dibs).*member));
            }
            return "-";
        };
        row.push_back(opt(&tools::device_info::gid, tools::format_gid));
        row.push_back(opt(&tools::device_info::fabric_id, tools::format_fabric_id));
        row.push_back(opt(&tools::device_info::dmbs, dec));
        row.push_back(opt(&tools::device_info::max_dmbs, dec));
        rows.push_back(std::move(row));
    }
    if (devices.empty()) {
        out << "no SMC-D devices\n";
        return;
    }
    print_columns(out, rows);
}

void print_linkgroups(std::ostream& out, std::span<const linkgroup> groups) {
    if (groups.empty()) {
        out << "no SMC-D link groups\n";
        return;
    }
    std::vector<std::vector<std::string>> rows{{"LG-ID", "GID", "Peer-GID", "VLAN", "Conns", "CHID",
                                                "PNET-ID", "Version", "Peer-Host", "EID"}};
    for (const auto& g : groups) {
        rows.push_back({hex(g.id, 8), hex(g.gid, 16), hex(g.peer_gid, 16), dec(g.vlan_id),
                        dec(g.conns), hex(g.chid, 4), or_dash(g.pnetid),
                        g.v2 ? dec(g.v2->version) : "1", g.v2 ? or_dash(g.v2->peer_host) : "-",
                        g.v2 ? or_dash(g.v2->negotiated_eid) : "-"});
    }
    print_columns(out, rows);
}

void print_stats(std::ostream& out, const stats& st, const fallback_stats& fb) {
    const tech_stats& d = st.smcd;
    std::vector<std::vector<std::string>> counters{
        {"connections", dec(d.connections()),
         "client v1 " + dec(d.client_v1) + ", client v2 " + dec(d.client_v2) + ", server v1 " +
             dec(d.server_v1) + ", server v2 " + dec(d.server_v2)},
        {"rx_bytes", dec(d.rx_bytes)},
        {"tx_bytes", dec(d.tx_bytes)},
        {"rx_requests", dec(d.rx_count)},
        {"tx_requests", dec(d.tx_count)},
        {"sendpage", dec(d.sendpage)},
        {"splice", dec(d.splice)},
        {"cork", dec(d.cork)},
        {"nodelay", dec(d.nodelay)},
        {"urgent_data", dec(d.urgent)},
    };
    out << "SMC-D\n";
    print_columns(out, counters);

    std::vector<std::vector<std::string>> sizes{{"Size"}};
    for (const auto name : size_bucket_names) {
        sizes.front().emplace_back(name);
    }
    const auto size_row = [&](std::string label, const size_buckets& b) {
        std::vector<std::string> row{std::move(label)};
        for (const auto v : b) {
            row.push_back(dec(v));
        }
        sizes.push_back(std::move(row));
    };
    size_row("rx_payload", d.rx_payload);
    size_row("tx_payload", d.tx_payload);
    size_row("rx_rmb", d.rx_rmb_size);
    size_row("tx_buffer", d.tx_rmb_size);
    out << '\n';
    print_columns(out, sizes);

    std::vector<std::vector<std::string>> buffers{
        {"Buffers", "alloc", "reuse", "downgrade", "full", "full_peer", "small", "small_peer"}};
    const auto buffer_row = [&](std::string label, const buffer_stats& b) {
        buffers.push_back({std::move(label), dec(b.alloc), dec(b.reuse), dec(b.downgrade),
                           dec(b.full), dec(b.full_peer), dec(b.small), dec(b.small_peer)});
    };
    buffer_row("rx_rmb", d.rx_rmb);
    buffer_row("tx_buffer", d.tx_rmb);
    out << '\n';
    print_columns(out, buffers);

    out << "\nSMC-D and SMC-R\n";
    std::vector<std::vector<std::string>> totals{
        {"handshake_errors", dec(st.client_handshake_errors + st.server_handshake_errors),
         "client " + dec(st.client_handshake_errors) + ", server " +
             dec(st.server_handshake_errors)},
        {"fallbacks", dec(fb.client_total + fb.server_total),
         "client " + dec(fb.client_total) + ", server " + dec(fb.server_total)},
    };
    print_columns(out, totals);
    if (fb.entries.empty()) {
        return;
    }
    std::vector<std::vector<std::string>> reasons{{"Side", "Reason", "Count", "Text"}};
    for (const auto& e : fb.entries) {
        reasons.push_back({e.server ? "server" : "client", hex0x(e.code, 8), dec(e.count),
                           std::string{fallback_text(e.code)}});
    }
    out << '\n';
    print_columns(out, reasons);
}

// ---- commands ------------------------------------------------------------------------------

int run(std::span<const std::string_view> args, context& ctx) {
    return report_errors("smcd", ctx.out, ctx.err, [&] { return dispatch(args, ctx); });
}

std::string_view help_text() noexcept {
    return help;
}

} // namespace dibs::smc::smcd
