// SPDX-License-Identifier: GPL-2.0
#include "commands.hpp"

#include "cli.hpp"
#include "devices.hpp"
#include "error.hpp"
#include "help_texts.hpp"
#include "output.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#ifndef DIBSCTL_VERSION
#define DIBSCTL_VERSION "0.1"
#endif

namespace dibs::tools {
namespace {

void report(std::ostream& err, const error& e) {
    err << "dibsctl: " << e.what() << '\n';
}

/// Flushes the output, then reports problems; exit_failure if there are any.
int report_problems(context& ctx, std::span<const error> problems) {
    ctx.out.flush();
    for (const auto& p : problems) {
        report(ctx.err, p);
    }
    return problems.empty() ? exit_ok : exit_failure;
}

class command_line;

/// One entry of the command table.
struct command {
    std::string_view name;
    int (*handler)(command_line& line, std::span<const std::string_view> args);
    std::string_view help;
    bool json; ///< takes -j/--json, also before the command
};

/// The command line of one command: a CLI11 app named after the command, with its -h/--help,
/// and whether -j/--json came before the command.
class command_line {
public:
    command_line(const command& cmd, context& ctx, bool json_before)
        : cmd_(cmd)
        , ctx_(ctx)
        , app_(make_app(cmd.name))
        , json_before_(json_before) {
        add_switch(*app_, "-h,--help", help_);
    }

    [[nodiscard]] CLI::App& app() noexcept { return *app_; }
    [[nodiscard]] context& ctx() noexcept { return ctx_; }

    /// Adds -j/--json; json() is then true if it is given before or after the command.
    void add_json() { add_switch(*app_, "-j,--json", json_after_); }
    [[nodiscard]] bool json() const noexcept { return json_before_ || json_after_; }

    /// Adds the operands (positional arguments), named name in errors; see operands().
    void add_operands(const std::string& name) { app_->add_option(name, operands_); }
    [[nodiscard]] const std::vector<std::string>& operands() const noexcept { return operands_; }
    /// The operands when they are device names: at least one.
    [[nodiscard]] const std::vector<std::string>& devices() const {
        if (operands_.empty()) {
            throw usage("missing device name");
        }
        return operands_;
    }

    /// Parses args into app(); with -h/--help prints the command's help and returns true.
    [[nodiscard]] bool help_requested(std::span<const std::string_view> args) {
        parse(*app_, args, cmd_.name);
        if (help_) {
            ctx_.out << cmd_.help;
        }
        return help_;
    }

    /// A usage error of this command: "<command>: <message>".
    [[nodiscard]] error usage(const std::string& message) const {
        return error::usage(std::string{cmd_.name} + ": " + message, std::string{cmd_.name});
    }

private:
    const command& cmd_;
    context& ctx_;
    std::unique_ptr<CLI::App> app_;
    std::vector<std::string> operands_;
    bool help_ = false;
    bool json_before_;
    bool json_after_ = false;
};

// ---- list, show ----------------------------------------------------------------------------

int cmd_list(command_line& line, std::span<const std::string_view> args) {
    line.add_json();
    if (line.help_requested(args)) {
        return exit_ok;
    }
    context& ctx = line.ctx();
    std::vector<device_info> devices;
    std::vector<error> problems;
    for (const auto& name : list_device_names(ctx.sysfs)) {
        std::vector<error> dev_problems;
        auto dev = read_device(ctx.sysfs, name, "list", dev_problems);
        if (!dev_problems.empty() && !device_exists(ctx.sysfs, name)) {
            continue; // removed while we were reading it
        }
        devices.push_back(std::move(dev));
        problems.insert(problems.end(), dev_problems.begin(), dev_problems.end());
    }
    if (line.json()) {
        print_json(ctx.out, devices);
    } else {
        print_table(ctx.out, devices);
    }
    return report_problems(ctx, problems);
}

int cmd_show(command_line& line, std::span<const std::string_view> args) {
    line.add_json();
    line.add_operands("DEVICE");
    if (line.help_requested(args)) {
        return exit_ok;
    }
    const auto& names = line.devices();
    if (names.size() > 1) {
        throw line.usage("unexpected argument " + quote(names[1]) + " (one device at a time)");
    }
    context& ctx = line.ctx();
    const std::string& name = names.front();

    require_dibs_loaded(ctx.sysfs);
    if (!device_exists(ctx.sysfs, name)) {
        throw error("no such dibs device " + quote(name), name, ENODEV);
    }
    std::vector<error> problems;
    const auto dev = read_device(ctx.sysfs, name, "show", problems);
    if (line.json()) {
        print_device_json(ctx.out, dev);
    } else {
        print_device(ctx.out, dev);
    }
    return report_problems(ctx, problems);
}

// ---- add-loopback, del ---------------------------------------------------------------------

/// Refuses early, with the same message the kernel's EACCES would give, unless running as root.
void check_root(const context& ctx, std::string_view command, const std::filesystem::path& file) {
    if (ctx.check_root && ctx.euid != 0) {
        throw error::system(command, "write", file, EACCES,
                            "are you root? (effective uid " + std::to_string(ctx.euid) + ")");
    }
}

std::string without_newline(std::string_view request) {
    if (request.ends_with('\n')) {
        request.remove_suffix(1);
    }
    return std::string{request};
}

/// The error for a failed write of request to new_device; auto_index: dibsctl chose the index.
error new_device_error(const sysfs_layout& sysfs, int errnum, std::uint32_t index,
                       std::string_view request, bool auto_index) {
    std::string hint;
    switch (errnum) {
    case EACCES:
    case EPERM:
        hint = "are you root?";
        break;
    case EEXIST:
        hint = loopback_name(index) + " already exists";
        break;
    case EINVAL:
        // The driver has a maximum index; past it, a chosen index is "invalid", not ENOSPC.
        hint = "the kernel rejected " + quote(without_newline(request)) +
               (auto_index ? " (are all loopback indexes in use?)"
                           : " (is the index beyond the driver's limit?)");
        break;
    case ENOSPC:
        hint = "too many loopback devices";
        break;
    default:
        break;
    }
    return error::system("add-loopback", "write", sysfs.new_device(), errnum, hint);
}

struct add_loopback_options {
    std::optional<std::uint32_t> first_id;
    std::optional<std::uint16_t> fabric;
    std::uint32_t count = 1;
};

/// The values of add-loopback's options as given.
struct add_loopback_arguments {
    std::optional<std::string> id;
    std::optional<std::string> fabric;
    std::optional<std::string> count;
};

add_loopback_options check_add_loopback_options(const command_line& line,
                                                const add_loopback_arguments& args) {
    add_loopback_options o;
    if (const auto& v = args.id) {
        o.first_id = parse_decimal(*v, max_loopback_index);
        if (!o.first_id) {
            throw line.usage("invalid --id " + quote(*v) + " (expected a decimal number 0.." +
                             std::to_string(max_loopback_index) + ")");
        }
    }
    if (const auto& v = args.fabric) {
        o.fabric = parse_fabric_id(*v);
        if (!o.fabric) {
            throw line.usage("invalid --fabric " + quote(*v) +
                             " (expected a fabric id 0..65535, decimal or 0x0..0xffff)");
        }
    }
    if (const auto& v = args.count) {
        const auto parsed = parse_decimal(*v, max_loopback_count);
        if (!parsed || *parsed == 0) {
            throw line.usage("invalid --count " + quote(*v) + " (expected 1.." +
                             std::to_string(max_loopback_count) + ")");
        }
        o.count = *parsed;
    }
    if (o.first_id && std::uint64_t{*o.first_id} + o.count - 1 > max_loopback_index) {
        throw line.usage("--id " + std::to_string(*o.first_id) + " with --count " +
                         std::to_string(o.count) + " goes beyond " +
                         loopback_name(max_loopback_index));
    }
    return o;
}

/// The loopback indexes in use (ascending), and which one is free.
class loopback_indexes {
public:
    explicit loopback_indexes(const sysfs_layout& sysfs) {
        for (const auto& name : list_device_names(sysfs)) {
            if (const auto index = loopback_index(name)) {
                taken_.insert(*index);
            }
        }
    }

    [[nodiscard]] bool taken(std::uint32_t index) const { return taken_.contains(index); }
    void take(std::uint32_t index) { taken_.insert(index); }

    [[nodiscard]] std::uint32_t lowest_free() const {
        std::uint64_t n = 0;
        for (const auto t : taken_) {
            if (t != n) {
                break;
            }
            ++n;
        }
        if (n > max_loopback_index) {
            throw error("add-loopback: no free loopback index", "", ENOSPC);
        }
        return static_cast<std::uint32_t>(n);
    }

private:
    std::set<std::uint32_t> taken_;
};

/// Creates one device: dibs_lo<index>, or with auto_index the lowest free one (retrying when
/// another process takes it first). Returns the index created.
std::uint32_t create_loopback(context& ctx, loopback_indexes& indexes, std::uint32_t index,
                              bool auto_index, std::optional<std::uint16_t> fabric) {
    constexpr int max_attempts = 64;
    const auto new_device = ctx.sysfs.new_device();
    for (int attempt = 1;; ++attempt) {
        const auto request = new_device_request(index, fabric);
        const int rc = ctx.write(new_device, request);
        if (rc == 0) {
            indexes.take(index);
            return index;
        }
        if (rc != EEXIST || !auto_index || attempt >= max_attempts) {
            throw new_device_error(ctx.sysfs, rc, index, request, auto_index);
        }
        indexes.take(index);
        index = indexes.lowest_free();
    }
}

int cmd_add_loopback(command_line& line, std::span<const std::string_view> args) {
    add_loopback_arguments given;
    line.app().add_option("-i,--id", given.id)->type_name("N");
    line.app().add_option("-f,--fabric", given.fabric)->type_name("F");
    line.app().add_option("-n,--count", given.count)->type_name("K");
    if (line.help_requested(args)) {
        return exit_ok;
    }
    const auto o = check_add_loopback_options(line, given);
    context& ctx = line.ctx();

    require_dibs_loaded(ctx.sysfs);
    require_loopback_loaded(ctx.sysfs);
    check_root(ctx, "add-loopback", ctx.sysfs.new_device());

    loopback_indexes indexes(ctx.sysfs);
    for (std::uint32_t k = 0; k < o.count; ++k) {
        const auto wanted = o.first_id ? *o.first_id + k : indexes.lowest_free();
        if (o.first_id && indexes.taken(wanted)) {
            throw error("add-loopback: " + loopback_name(wanted) + " already exists",
                        loopback_name(wanted), EEXIST);
        }
        const auto index = create_loopback(ctx, indexes, wanted, !o.first_id, o.fabric);
        ctx.out << loopback_name(index) << '\n' << std::flush;
    }
    return exit_ok;
}

int cmd_del(command_line& line, std::span<const std::string_view> args) {
    line.add_operands("DEVICE");
    if (line.help_requested(args)) {
        return exit_ok;
    }
    const auto& names = line.devices();
    context& ctx = line.ctx();
    require_dibs_loaded(ctx.sysfs);

    const auto del_device = ctx.sysfs.del_device();
    bool failed = false;
    bool writable = false;
    for (const auto& name : names) {
        if (!device_exists(ctx.sysfs, name)) {
            report(ctx.err, error("no such dibs device " + quote(name), name, ENODEV));
            failed = true;
            continue;
        }
        if (!loopback_index(name)) {
            report(ctx.err, error(quote(name) + " is not a loopback device", name, EINVAL));
            failed = true;
            continue;
        }
        if (!writable) { // fatal for all devices: checked once, for the first valid one
            require_loopback_loaded(ctx.sysfs);
            check_root(ctx, "del", del_device);
            writable = true;
        }
        const int rc = ctx.write(del_device, del_device_request(name));
        if (rc != 0) {
            std::string hint;
            if (rc == EACCES || rc == EPERM) {
                hint = "are you root?";
            } else if (rc == ENODEV) {
                hint = quote(name) + " is not a loopback device";
            } else if (rc == EBUSY) {
                hint = quote(name) + " is in use";
            }
            report(ctx.err, error::system("del", "write", del_device, rc, hint));
            failed = true;
        }
    }
    return failed ? exit_failure : exit_ok;
}

// ---- help ----------------------------------------------------------------------------------

int cmd_help(command_line& line, std::span<const std::string_view> args) {
    line.add_operands("COMMAND");
    if (line.help_requested(args)) {
        return exit_ok;
    }
    const auto& topics = line.operands();
    context& ctx = line.ctx();
    if (topics.empty()) {
        ctx.out << help::dibsctl;
        return exit_ok;
    }
    if (topics.size() > 1) {
        throw line.usage("unexpected argument " + quote(topics[1]));
    }
    const auto text = command_help(topics.front());
    if (!text) {
        throw error::usage("help: unknown command " + quote(topics.front()));
    }
    ctx.out << *text;
    return exit_ok;
}

/// The commands: dispatch() runs them, command_help() shows their help.
constexpr std::array commands{
    command{"list", cmd_list, help::list, true},
    command{"show", cmd_show, help::show, true},
    command{"add-loopback", cmd_add_loopback, help::add_loopback, false},
    command{"del", cmd_del, help::del, false},
    command{"help", cmd_help, help::help, false},
};

const command* find_command(std::string_view name) noexcept {
    const auto* it = std::find_if(commands.begin(), commands.end(),
                                  [name](const command& c) { return c.name == name; });
    return it == commands.end() ? nullptr : it;
}

} // namespace

int dispatch(std::span<const std::string_view> args, context& ctx) {
    // dibsctl's own options come before the command: the first argument that is not an option,
    // or the one after "--".
    const auto is_option = [](std::string_view a) {
        return a.size() > 1 && a.front() == '-' && a != "--";
    };
    const auto options = args.first(static_cast<std::size_t>(
        std::find_if_not(args.begin(), args.end(), is_option) - args.begin()));
    auto rest = args.subspan(options.size());
    if (!rest.empty() && rest.front() == "--") {
        rest = rest.subspan(1);
    }

    bool want_help = false;
    bool version = false;
    bool json = false;
    const auto app = make_app("dibsctl");
    app->add_flag("-h,--help", want_help)->disable_flag_override();
    app->add_flag("-V,--version", version)->disable_flag_override();
    app->add_flag("-j,--json", json)->disable_flag_override();
    parse(*app, options);
    if (want_help) {
        ctx.out << help::dibsctl;
        return exit_ok;
    }
    if (version) {
        ctx.out << version_text() << '\n';
        return exit_ok;
    }

    const std::string_view name = rest.empty() ? std::string_view{"list"} : rest.front();
    const command* cmd = find_command(name);
    if (cmd == nullptr) {
        throw error::usage("unknown command " + quote(name));
    }
    if (json && !cmd->json) {
        throw error::usage("option '--json' applies only to list and show");
    }
    command_line line(*cmd, ctx, json);
    return cmd->handler(line, rest.empty() ? rest : rest.subspan(1));
}

int run(std::span<const std::string_view> args, context& ctx) {
    try {
        return dispatch(args, ctx);
    } catch (const error& e) {
        ctx.out.flush();
        report(ctx.err, e);
        if (e.status() == exit_usage) {
            ctx.err << "Try 'dibsctl "
                    << (e.resource().empty() ? std::string{"--help"} : "help " + e.resource())
                    << "' for more information.\n";
        }
        return e.status();
    }
}

std::string_view main_help() noexcept {
    return help::dibsctl;
}

std::optional<std::string_view> command_help(std::string_view name) noexcept {
    const command* cmd = find_command(name);
    if (cmd == nullptr) {
        return std::nullopt;
    }
    return cmd->help;
}

std::string version_text() {
    return std::string{"dibsctl (dibs-rdma) "} + DIBSCTL_VERSION;
}

} // namespace dibs::tools
