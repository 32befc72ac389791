// SPDX-License-Identifier: GPL-2.0
//
// The dibs devices in sysfs: whether the modules are loaded, which devices exist, their
// attributes, and what the loopback control files new_device and del_device take.
#ifndef DIBS_TOOLS_DIBSCTL_DEVICES_HPP
#define DIBS_TOOLS_DIBSCTL_DEVICES_HPP

#include "attributes.hpp"
#include "error.hpp"
#include "sysfs.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dibs::tools {

/// One slot of a cross-VM device's region, a line "<slot> <gid> self|peer" of the device's
/// <device>/device/peers (dibs_ivshmem): the device itself or a live peer.
struct peer_info {
    std::uint32_t slot = 0;
    dibs_gid gid{};
    bool self = false;
};

/// "<slot> <gid> self|peer" lines as peer_info; nullopt if any line is malformed.
[[nodiscard]] std::optional<std::vector<peer_info>> parse_peers(std::string_view text);

/// The attributes of one dibs device; an attribute that could not be read or parsed is nullopt.
struct device_info {
    std::string name;
    std::optional<dibs_gid> gid;
    std::optional<std::uint16_t> fabric_id;
    std::optional<std::uint32_t> dmbs;
    std::optional<std::uint32_t> max_dmbs;
    /// the region's live slots, for devices that have peers (the cross-VM device); else nullopt
    std::optional<std::vector<peer_info>> peers;
    [[nodiscard]] bool loopback() const noexcept { return loopback_index(name).has_value(); }
};

/// Throws error "the dibs module is not loaded (...)" unless <root>/class/dibs exists.
void require_dibs_loaded(const sysfs_layout& sysfs);
/// Throws error "the dibs_loopback module is not loaded (...)" unless <root>/kernel/dibs_loopback
/// exists.
void require_loopback_loaded(const sysfs_layout& sysfs);

/// The names in <root>/class/dibs in natural order; throws error if dibs is not loaded.
[[nodiscard]] std::vector<std::string> list_device_names(const sysfs_layout& sysfs);

/// True if name is a device in <root>/class/dibs (a plain name, no path).
[[nodiscard]] bool device_exists(const sysfs_layout& sysfs, std::string_view name);

/// Reads the attributes of device name. Each attribute that cannot be read or parsed is left
/// nullopt and its error appended to problems (context prefixes the messages).
[[nodiscard]] device_info read_device(const sysfs_layout& sysfs, std::string_view name,
                                      std::string_view context, std::vector<error>& problems);

/// What add-loopback writes to new_device: "N\n", or "N 0xFFFF\n" with a fabric id.
[[nodiscard]] std::string new_device_request(std::uint32_t index,
                                             std::optional<std::uint16_t> fabric_id);
/// What del writes to del_device: "NAME\n".
[[nodiscard]] std::string del_device_request(std::string_view name);

} // namespace dibs::tools

#endif // DIBS_TOOLS_DIBSCTL_DEVICES_HPP
