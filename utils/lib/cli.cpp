// SPDX-License-Identifier: GPL-2.0
#include "cli.hpp"

#include <cstddef>

namespace dibs::tools {

std::unique_ptr<CLI::App> make_app(std::string_view name) {
    auto app = std::make_unique<CLI::App>(std::string{}, std::string{name});
    app->set_help_flag();
    app->allow_extras(false);
    return app;
}

void parse(CLI::App& app, std::span<const std::string_view> args, std::string_view context) {
    // CLI11 takes a vector in reverse order (it pops arguments off the back).
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    try {
        app.parse(reversed);
    } catch (const CLI::ParseError& e) {
        const std::string message = e.what();
        throw error::usage(context.empty() ? message : std::string{context} + ": " + message,
                           std::string{context});
    }
}

std::vector<std::string_view> arguments(int argc, char** argv) {
    const std::span<char*> all(argv, static_cast<std::size_t>(argc));
    std::vector<std::string_view> args;
    for (const char* arg : all.subspan(argc > 0 ? 1 : 0)) {
        args.emplace_back(arg);
    }
    return args;
}

} // namespace dibs::tools
