// SPDX-License-Identifier: GPL-2.0
#include "error.hpp"

#include <cstddef>
#include <system_error>
#include <utility>

namespace dibs::tools {

error::error(const std::string& message, std::string resource, int errnum, int status)
    : std::runtime_error(message)
    , resource_(std::move(resource))
    , errnum_(errnum)
    , status_(status) {}

error error::usage(const std::string& message, std::string command) {
    return error(message, std::move(command), 0, exit_usage);
}

error error::system(std::string_view context, std::string_view verb,
                    const std::filesystem::path& path, int errnum, std::string_view hint) {
    std::string msg;
    if (!context.empty()) {
        msg.append(context).append(": ");
    }
    msg.append("cannot ").append(verb).append(" ").append(path.string()).append(": ");
    msg.append(errno_text(errnum));
    if (!hint.empty()) {
        msg.append("; ").append(hint);
    }
    return error(msg, path.string(), errnum);
}

std::string errno_text(int errnum) {
    return std::generic_category().message(errnum) + " (errno " + std::to_string(errnum) + ")";
}

std::string quote(std::string_view text) {
    constexpr std::size_t max_shown = 64;
    constexpr std::string_view hex = "0123456789abcdef";
    std::string out = "'";
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (i == max_shown) {
            out += "...";
            break;
        }
        const auto uc = static_cast<unsigned char>(text[i]);
        if (uc < 0x20 || uc >= 0x7f || text[i] == '\'' || text[i] == '\\') {
            out += "\\x";
            out += hex[uc >> 4U];
            out += hex[uc & 0xfU];
        } else {
            out += text[i];
        }
    }
    out += '\'';
    return out;
}

} // namespace dibs::tools
