// SPDX-License-Identifier: GPL-2.0
#include "output.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

namespace dibs::tools {
namespace {

constexpr std::size_t columns = 5;

/// The cells of one device in the column order of the table: DEVICE GID FABRIC DMBS MAX_DMBS.
std::array<std::string, columns> device_cells(const device_info& dev) {
    const auto text = [](const auto& value, auto format) {
        return value ? format(*value) : std::string{"-"};
    };
    const auto number = [](auto v) { return std::to_string(v); };
    return {dev.name, text(dev.gid, format_gid), text(dev.fabric_id, format_fabric_id),
            text(dev.dmbs, number), text(dev.max_dmbs, number)};
}

/// value as JSON, or null if unknown.
template <typename T, typename Convert>
nlohmann::ordered_json json_or_null(const std::optional<T>& value, Convert convert) {
    return value ? nlohmann::ordered_json(convert(*value)) : nlohmann::ordered_json(nullptr);
}

void print(std::ostream& out, const nlohmann::ordered_json& json) {
    // Device names come from the kernel and need not be UTF-8: print U+FFFD rather than fail.
    out << json.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
}

} // namespace

void print_table(std::ostream& out, std::span<const device_info> devices) {
    if (devices.empty()) {
        out << "no dibs devices\n";
        return;
    }
    std::vector<std::array<std::string, columns>> rows;
    rows.push_back({"DEVICE", "GID", "FABRIC", "DMBS", "MAX_DMBS"});
    for (const auto& dev : devices) {
        rows.push_back(device_cells(dev));
    }
    std::array<std::size_t, columns> widths{};
    for (const auto& row : rows) {
        for (std::size_t c = 0; c < columns; ++c) {
            widths.at(c) = std::max(widths.at(c), row.at(c).size());
        }
    }
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t c = 0; c < columns; ++c) {
            line += row.at(c);
            if (c + 1 < columns) {
                line.append(widths.at(c) - row.at(c).size() + 2, ' ');
            }
        }
        out << line << '\n';
    }
}

void print_device(std::ostream& out, const device_info& device) {
    const auto cells = device_cells(device);
    out << "device     " << cells[0] << '\n'
        << "loopback   " << (device.loopback() ? "yes" : "no") << '\n'
        << "gid        " << cells[1] << '\n'
        << "fabric_id  " << cells[2] << '\n'
        << "dmbs       " << cells[3] << '\n'
        << "max_dmbs   " << cells[4] << '\n';
    if (device.peers) {
        for (const peer_info& p : *device.peers) {
            out << (p.self ? "slot       " : "peer       ") << p.slot << ' ' << format_gid(p.gid)
                << '\n';
        }
    }
}

nlohmann::ordered_json device_json(const device_info& device) {
    const auto same = [](auto v) { return v; };
    nlohmann::ordered_json json = {
        {"device", device.name},
        {"gid", json_or_null(device.gid, format_gid)},
        {"fabric_id", json_or_null(device.fabric_id, same)},
        {"dmbs", json_or_null(device.dmbs, same)},
        {"max_dmbs", json_or_null(device.max_dmbs, same)},
        {"loopback", device.loopback()},
    };
    if (device.peers) {
        auto peers = nlohmann::ordered_json::array();
        for (const peer_info& p : *device.peers) {
            peers.push_back({{"slot", p.slot}, {"gid", format_gid(p.gid)}, {"self", p.self}});
        }
        json["peers"] = std::move(peers);
    }
    return json;
}

void print_json(std::ostream& out, std::span<const device_info> devices) {
    auto array = nlohmann::ordered_json::array();
    for (const auto& dev : devices) {
        array.push_back(device_json(dev));
    }
    print(out, array);
}

void print_device_json(std::ostream& out, const device_info& device) {
    print(out, device_json(device));
}

} // namespace dibs::tools
