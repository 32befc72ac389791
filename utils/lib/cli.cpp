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

CLI::Option* add_switch(CLI::App& app, const std::string& names, bool& value,
                        const std::string& description) {
    return app.add_flag(names, value, description)
        ->disable_flag_override()
        ->multi_option_policy(CLI::MultiOptionPolicy::Throw);
}

namespace {

/// CLI11's message for app's own unexpected arguments, listed in the order given (CLI11 2.1
/// lists them reversed); what() for other errors.
std::string parse_error_text(const CLI::App& app, const CLI::ParseError& e) {
    const auto unexpected = app.remaining(false);
    if (dynamic_cast<const CLI::ExtrasError*>(&e) == nullptr || e.get_name() != app.get_name() ||
        unexpected.empty()) {
        return e.what();
    }
    std::string text = unexpected.size() == 1 ? "The following argument was not expected:"
                                              : "The following arguments were not expected:";
    for (const auto& arg : unexpected) {
        text.append(" ").append(arg);
    }
    return text;
}

} // namespace

void parse(CLI::App& app, std::span<const std::string_view> args, std::string_view context) {
    // CLI11 takes a vector in reverse order (it pops arguments off the back).
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    try {
        app.parse(reversed);
    } catch (const CLI::ParseError& e) {
        const std::string message = parse_error_text(app, e);
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
