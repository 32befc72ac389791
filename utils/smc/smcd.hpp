// SPDX-License-Identifier: GPL-2.0
//
// smcd as a library: the replies of the SMC_GEN_NETLINK family parsed into plain structs, their
// text formatting, and the command dispatcher (which takes the arguments and the output streams,
// so that everything except the kernel round trip runs in the unit tests).
#ifndef DIBS_SMC_SMCD_HPP
#define DIBS_SMC_SMCD_HPP

#include "netlink.hpp"
#include "sysfs.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dibs::smc::smcd {

// ---- replies -------------------------------------------------------------------------------

/// SMC_NETLINK_GET_SYS_INFO
struct sys_info {
    unsigned version = 0;
    unsigned release = 0;
    bool ism_v2 = false;
    bool smcr_v2 = false;
    std::string local_host;
    std::string seid; ///< only while ISM v2 capable
};

/// SMC_NETLINK_DUMP_SEID
struct seid_info {
    std::string seid;
    bool enabled = false;
};

/// SMC_NETLINK_GET_DEV_SMCD: one SMC-D device.
struct device {
    std::string pci_id; ///< dibs_smcd reports the dibs device name here
    std::uint32_t use_count = 0;
    bool critical = false;
    std::uint32_t pci_fid = 0;
    std::uint16_t pci_chid = 0;
    std::uint16_t pci_vendor = 0;
    std::uint16_t pci_device = 0;
    std::string pnetid;
    bool pnetid_by_user = false;
};

/// SMC_NETLINK_GET_LGR_SMCD: one SMC-D link group.
struct linkgroup {
    std::uint32_t id = 0;
    std::uint64_t gid = 0;
    std::uint64_t peer_gid = 0;
    std::uint8_t vlan_id = 0;
    std::uint32_t conns = 0;
    std::uint32_t chid = 0;
    std::string pnetid;
    /// SMC_NLA_LGR_D_V2_COMMON, for a link group of SMC version 2
    struct v2_info {
        unsigned version = 0;
        unsigned peer_release = 0;
        unsigned peer_os = 0;
        std::string negotiated_eid;
        std::string peer_host;
    };
    std::optional<v2_info> v2;
};

/// Buckets of SMC_NLA_STATS_PLOAD_8K ... _G_1024K.
using size_buckets = std::array<std::uint64_t, 9>;
inline constexpr std::array<std::string_view, 9> size_bucket_names{
    "8K", "16K", "32K", "64K", "128K", "256K", "512K", "1024K", ">1024K"};

/// SMC_NLA_STATS_T_*_RMB_STATS
struct buffer_stats {
    std::uint64_t alloc = 0;
    std::uint64_t reuse = 0;
    std::uint64_t downgrade = 0;
    std::uint64_t full = 0;
    std::uint64_t full_peer = 0;
    std::uint64_t small = 0;
    std::uint64_t small_peer = 0;
};

/// SMC_NLA_STATS_SMCD_TECH (or _SMCR_TECH)
struct tech_stats {
    std::uint64_t client_v1 = 0;
    std::uint64_t client_v2 = 0;
    std::uint64_t server_v1 = 0;
    std::uint64_t server_v2 = 0;
    std::uint64_t rx_bytes = 0;
    std::uint64_t tx_bytes = 0;
    std::uint64_t rx_count = 0;
    std::uint64_t tx_count = 0;
    std::uint64_t sendpage = 0;
    std::uint64_t splice = 0;
    std::uint64_t cork = 0;
    std::uint64_t nodelay = 0;
    std::uint64_t urgent = 0;
    size_buckets rx_payload{};
    size_buckets tx_payload{};
    size_buckets rx_rmb_size{};
    size_buckets tx_rmb_size{};
    buffer_stats rx_rmb;
    buffer_stats tx_rmb;

    [[nodiscard]] std::uint64_t connections() const noexcept {
        return client_v1 + client_v2 + server_v1 + server_v2;
    }
};

/// SMC_NETLINK_GET_STATS
struct stats {
    tech_stats smcd;
    std::uint64_t client_handshake_errors = 0; ///< SMC-D and SMC-R together
    std::uint64_t server_handshake_errors = 0;
};

/// SMC_NETLINK_GET_FBACK_STATS: the reasons, each with a count, of one side.
struct fallback_entry {
    bool server = false;
    std::uint32_t code = 0;
    std::uint64_t count = 0;
};
struct fallback_stats {
    std::uint64_t server_total = 0; ///< fallbacks of all reasons, SMC-D and SMC-R
    std::uint64_t client_total = 0;
    std::vector<fallback_entry> entries;
};

/// The parsers take the attributes of one reply (the top level, with the family's nest in it).
/// A reply without the nest gives nullopt; a malformed attribute throws error.
[[nodiscard]] std::optional<sys_info> parse_sys_info(const nl::attribute_set& reply);
[[nodiscard]] std::optional<device> parse_device(const nl::attribute_set& reply);
[[nodiscard]] std::optional<linkgroup> parse_linkgroup(const nl::attribute_set& reply);
[[nodiscard]] std::optional<stats> parse_stats(const nl::attribute_set& reply);
/// Adds one fallback reply to fb.
void add_fallback_reply(const nl::attribute_set& reply, fallback_stats& fb);
[[nodiscard]] std::optional<seid_info> parse_seid(const nl::attribute_set& reply);
/// The user EID of a SMC_NETLINK_DUMP_UEID reply, without padding.
[[nodiscard]] std::optional<std::string> parse_ueid(const nl::attribute_set& reply);

// ---- statistics since "smcd stats reset" -----------------------------------------------------

/// What "smcd stats" shows: the counters and the fallbacks.
struct stats_snapshot {
    stats counters;
    fallback_stats fallbacks;
};

/// The snapshot as JSON (the "stats json" output and the reset file).
[[nodiscard]] std::string to_json(const stats_snapshot& snap);
/// A snapshot from to_json(); throws error if text is not one.
[[nodiscard]] stats_snapshot from_json(std::string_view text);
/// now minus base, counter by counter (as smc-tools shows statistics since its last reset);
/// nullopt if a counter of base is above now's (the smc module was reloaded since).
[[nodiscard]] std::optional<stats_snapshot> since(const stats_snapshot& now,
                                                  const stats_snapshot& base);

// ---- formatting ----------------------------------------------------------------------------

/// The kernel's capabilities as smc-tools' "smcd info" prints them; ism_devices and
/// roce_devices are the numbers of SMC-D and SMC-R devices.
void print_sys_info(std::ostream& out, const sys_info& info, std::size_t ism_devices,
                    std::size_t roce_devices);
/// The type column of "smcd device": "ISM", "DIBS", "DIBS-LO" or the PCI device id in hex.
[[nodiscard]] std::string device_type(std::uint16_t vendor, std::uint16_t device_id);
/// The device table: smc-tools' columns (FID, Type, PCI-ID, PCHID, InUse, #LGs, PNET-ID), then
/// the dibs attributes from sysfs (the dibs device named by the PCI id), "-" where there is no
/// such dibs device.
void print_devices(std::ostream& out, std::span<const device> devices,
                   const tools::sysfs_layout& sysfs);
/// smc-tools' columns (LG-ID, VLAN, #Conns, PNET-ID), then GIDs, CHID and the v2 information;
/// details: one block of "Key      : value" lines per link group, as smc-tools' -d.
void print_linkgroups(std::ostream& out, std::span<const linkgroup> groups, bool details = false);
/// smc-tools' layout of "smcd stats" (details: "smcd -d stats"), fallback reasons decoded.
void print_stats(std::ostream& out, const stats_snapshot& snap, bool details = false);
void print_seid(std::ostream& out, const std::optional<seid_info>& seid);

// ---- commands ------------------------------------------------------------------------------

struct context : tools::tool_streams {
    using tool_streams::tool_streams;

    tools::sysfs_layout sysfs;
    /// Where "stats reset" keeps the counters it reset to.
    std::filesystem::path stats_file;
};

/// The environment variable that names the stats reset file.
inline constexpr std::string_view stats_file_env = "SMCD_STATS_FILE";
/// The default stats reset file of user uid: /tmp/.dibs-smcd-stats.u<uid>.
[[nodiscard]] std::filesystem::path default_stats_file(unsigned uid);

/// A command line of smcd, before any kernel access.
struct command_line {
    bool help = false;              ///< -h, --help, help, OBJECT help
    bool version = false;           ///< -v, -V, --version
    std::string object;             ///< the object's full name: "device", "linkgroup", "info", ...
    int details = 0;                ///< -d, --details (-dd: 2)
    bool absolute = false;          ///< -a, --absolute
    std::vector<std::string> words; ///< after the object: "show", "all", "add NAME", ...
};

/// Parses the options (smc-tools' spellings: -d, -det, --details, -ad, ...) and finds the object
/// by its abbreviation, in smc-tools' order. Throws error::usage for an unknown option or object.
[[nodiscard]] command_line parse_command_line(std::span<const std::string_view> args);

/// Runs one command line (without argv[0]); reports errors as "smcd: <message>" on ctx.err and
/// returns the exit status.
[[nodiscard]] int run(std::span<const std::string_view> args, context& ctx);

[[nodiscard]] std::string_view help_text() noexcept;

} // namespace dibs::smc::smcd

#endif // DIBS_SMC_SMCD_HPP
