// SPDX-License-Identifier: GPL-2.0
//
// What dibsctl prints about devices: the table of `list`, the attribute lines of `show`, and
// JSON (nlohmann-json) for both.
#ifndef DIBS_TOOLS_DIBSCTL_OUTPUT_HPP
#define DIBS_TOOLS_DIBSCTL_OUTPUT_HPP

#include "devices.hpp"

#include <iosfwd>
#include <span>

#include <nlohmann/json.hpp>

namespace dibs::tools {

/// The device table of `dibsctl list`; "no dibs devices" for an empty list.
void print_table(std::ostream& out, std::span<const device_info> devices);
/// The attribute lines of `dibsctl show`; "-" for an unknown attribute.
void print_device(std::ostream& out, const device_info& device);

/// The JSON object of one device, keys in the order device, gid, fabric_id (a number), dmbs,
/// max_dmbs, loopback; an unknown attribute is null.
[[nodiscard]] nlohmann::ordered_json device_json(const device_info& device);
/// A JSON array of device objects (device_json()), indented, and a newline.
void print_json(std::ostream& out, std::span<const device_info> devices);
/// One device object (device_json()), indented, and a newline.
void print_device_json(std::ostream& out, const device_info& device);

} // namespace dibs::tools

#endif // DIBS_TOOLS_DIBSCTL_OUTPUT_HPP
