// SPDX-License-Identifier: GPL-2.0
#include "cli.hpp"

#include "dibsctl.hpp"

#include <algorithm>
#include <cstddef>

namespace dibs::smc {
namespace {

error usage_error(std::string_view context, const std::string& problem) {
    return error::usage(context.empty() ? problem : std::string{context} + ": " + problem,
                        std::string{context});
}

std::string option_name(const option_def& def) {
    return def.long_name.empty() ? std::string{'-', def.short_name}
                                 : "--" + std::string{def.long_name};
}

const option_def* find_long(std::span<const option_def> defs, std::string_view name) {
    const auto it = std::find_if(defs.begin(), defs.end(),
                                 [name](const option_def& d) { return d.long_name == name; });
    return it == defs.end() ? nullptr : &*it;
}

const option_def* find_short(std::span<const option_def> defs, char name) {
    const auto it = std::find_if(defs.begin(), defs.end(),
                                 [name](const option_def& d) { return d.short_name == name; });
    return it == defs.end() ? nullptr : &*it;
}

} // namespace

bool parsed_options::has(std::string_view name) const noexcept {
    return get(name).has_value();
}

std::optional<std::string_view> parsed_options::get(std::string_view name) const noexcept {
    for (const auto& [key, value] : values) {
        if (key == name) {
            return value;
        }
    }
    return std::nullopt;
}

parsed_options parse_options(std::string_view context, std::span<const std::string_view> args,
                             std::span<const option_def> defs, bool stop_at_operand) {
    parsed_options result;
    const auto add = [&](const option_def& def, std::string_view value) {
        const std::string_view key =
            def.long_name.empty() ? std::string_view{&def.short_name, 1} : def.long_name;
        if (result.has(key)) {
            throw usage_error(context, "option " + option_name(def) + " given more than once");
        }
        result.values.emplace_back(key, value);
    };

    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view arg = args[i];
        const auto next_value = [&](const option_def& def) {
            if (i + 1 >= args.size()) {
                throw usage_error(context, "option " + option_name(def) + " needs a value");
            }
            return args[++i];
        };
        if (arg == "--") {
            result.operands.insert(result.operands.end(), args.begin() + static_cast<long>(i) + 1,
                                   args.end());
            break;
        }
        if (arg.size() < 2 || arg[0] != '-') {
            if (stop_at_operand) {
                result.operands.insert(result.operands.end(), args.begin() + static_cast<long>(i),
                                       args.end());
                break;
            }
            result.operands.push_back(arg);
            continue;
        }
        if (arg.starts_with("--")) {
            const std::string_view body = arg.substr(2);
            const auto eq = body.find('=');
            const option_def* def = find_long(defs, body.substr(0, eq));
            if (def == nullptr) {
                throw usage_error(context, "unknown option " + tools::quote(arg));
            }
            if (!def->takes_value && eq != std::string_view::npos) {
                throw usage_error(context, "option " + option_name(*def) + " takes no value");
            }
            add(*def, !def->takes_value              ? std::string_view{}
                      : eq != std::string_view::npos ? body.substr(eq + 1)
                                                     : next_value(*def));
            continue;
        }
        // One or more bundled short options; a value-taking one consumes the rest.
        for (std::size_t pos = 1; pos < arg.size(); ++pos) {
            const option_def* def = find_short(defs, arg[pos]);
            if (def == nullptr) {
                throw usage_error(context,
                                  "unknown option " + tools::quote(std::string{'-', arg[pos]}));
            }
            if (def->takes_value) {
                add(*def, pos + 1 < arg.size() ? arg.substr(pos + 1) : next_value(*def));
                break;
            }
            add(*def, {});
        }
    }
    return result;
}

std::vector<std::string_view> arguments(int argc, char** argv) {
    const std::span<char*> all(argv, static_cast<std::size_t>(argc));
    std::vector<std::string_view> args;
    for (const char* arg : all.subspan(argc > 0 ? 1 : 0)) {
        args.emplace_back(arg);
    }
    return args;
}

} // namespace dibs::smc
