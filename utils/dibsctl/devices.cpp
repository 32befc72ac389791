// SPDX-License-Identifier: GPL-2.0
#include "devices.hpp"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>
#include <utility>

namespace dibs::tools {

namespace {

/// Throws error unless dir, which module creates, exists.
void require_module(const std::filesystem::path& dir, std::string_view module) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
        throw error("the " + std::string{module} + " module is not loaded (" + dir.string() +
                        " missing; try: modprobe " + std::string{module} + ")",
                    dir.string(), ENOENT);
    }
}

} // namespace

void require_dibs_loaded(const sysfs_layout& sysfs) {
    require_module(sysfs.class_dir(), "dibs");
}

void require_loopback_loaded(const sysfs_layout& sysfs) {
    require_module(sysfs.loopback_dir(), "dibs_loopback");
}

std::vector<std::string> list_device_names(const sysfs_layout& sysfs) {
    require_dibs_loaded(sysfs);
    const auto dir = sysfs.class_dir();
    std::error_code ec;
    std::filesystem::directory_iterator it(dir, ec);
    std::vector<std::string> names;
    for (; !ec && it != std::filesystem::directory_iterator{}; it.increment(ec)) {
        auto name = it->path().filename().string();
        if (!name.starts_with('.')) {
            names.push_back(std::move(name));
        }
    }
    if (ec) {
        throw error::system("", "read directory", dir, ec.value());
    }
    std::sort(names.begin(), names.end(),
              [](const std::string& a, const std::string& b) { return natural_less(a, b); });
    return names;
}

bool device_exists(const sysfs_layout& sysfs, std::string_view name) {
    if (!valid_device_name(name)) {
        return false;
    }
    std::error_code ec;
    return std::filesystem::is_directory(sysfs.device_dir(name), ec);
}

std::optional<std::vector<peer_info>> parse_peers(std::string_view text) {
    std::vector<peer_info> peers;
    while (!text.empty()) {
        // read_attribute() drops the last line's newline
        const auto eol = std::min(text.find('\n'), text.size());
        const std::string_view line = text.substr(0, eol);
        text.remove_prefix(std::min(eol + 1, text.size()));
        const auto sp1 = line.find(' ');
        const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
        if (sp2 == std::string_view::npos) {
            return std::nullopt;
        }
        const auto slot = parse_decimal(line.substr(0, sp1));
        const auto gid = parse_gid(line.substr(sp1 + 1, sp2 - sp1 - 1));
        const std::string_view role = line.substr(sp2 + 1);
        if (!slot || !gid || (role != "self" && role != "peer")) {
            return std::nullopt;
        }
        peers.push_back({*slot, *gid, role == "self"});
    }
    return peers;
}

device_info read_device(const sysfs_layout& sysfs, std::string_view name, std::string_view context,
                        std::vector<error>& problems) {
    device_info dev;
    dev.name = name;
    if (!valid_device_name(name)) {
        problems.emplace_back("no such dibs device " + quote(name), std::string{name}, ENODEV);
        return dev;
    }
    const auto dir = sysfs.device_dir(name);

    // Reads attribute attr and parses it; records what went wrong in problems.
    const auto read_attr = [&](std::string_view attr, auto parse,
                               std::string_view expected) -> decltype(parse(std::string_view{})) {
        const auto path = dir / attr;
        std::string text;
        try {
            text = read_attribute(path, context);
        } catch (const error& e) {
            problems.push_back(e);
            return std::nullopt;
        }
        auto value = parse(std::string_view{text});
        if (!value) {
            std::string msg;
            if (!context.empty()) {
                msg.append(context).append(": ");
            }
            msg.append(name).append(": malformed ").append(attr).append(" ");
            msg.append(quote(text)).append(" in ").append(path.string());
            msg.append(" (expected ").append(expected).append(")");
            problems.emplace_back(msg, path.string(), 0);
        }
        return value;
    };
    dev.gid = read_attr("gid", parse_gid, "a uuid like 01234567-89ab-cdef-0123-456789abcdef");
    dev.fabric_id = read_attr("fabric_id", parse_fabric_id, "a fabric id 0x0000..0xffff");
    const auto counter = [](std::string_view text) { return parse_decimal(text); };
    dev.dmbs = read_attr("dmbs", counter, "a decimal number");
    dev.max_dmbs = read_attr("max_dmbs", counter, "a decimal number");
    std::error_code ec;
    if (std::filesystem::exists(dir / "device/peers", ec)) {
        dev.peers = read_attr("device/peers", parse_peers, "lines '<slot> <gid> self|peer'");
    }
    return dev;
}

std::string new_device_request(std::uint32_t index, std::optional<std::uint16_t> fabric_id) {
    std::string request = std::to_string(index);
    if (fabric_id) {
        request += ' ';
        request += format_fabric_id(*fabric_id);
    }
    request += '\n';
    return request;
}

std::string del_device_request(std::string_view name) {
    return std::string{name} + '\n';
}

} // namespace dibs::tools
