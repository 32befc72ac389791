// SPDX-License-Identifier: GPL-2.0
#include "dibsctl.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <ostream>
#include <set>
#include <system_error>
#include <utility>

#ifndef DIBSCTL_VERSION
#define DIBSCTL_VERSION "0.1"
#endif

namespace dibs::tools {
namespace {

// ---- help texts ----------------------------------------------------------------------------

constexpr std::string_view help_main = R"(NAME
    dibsctl - list and manage dibs (Direct Internal Buffer Sharing) devices

SYNOPSIS
    dibsctl [-j|--json] [list]
    dibsctl [-j|--json] show DEVICE
    dibsctl add-loopback [-i|--id N] [-f|--fabric F] [-n|--count K]
    dibsctl del DEVICE...
    dibsctl help [COMMAND]
    dibsctl -h|--help
    dibsctl -V|--version

DESCRIPTION
    dibsctl shows the devices of the Linux dibs layer (module dibs) and creates
    and removes its software loopback devices (module dibs_loopback). A dibs
    device lets peers on the same fabric write into DMBs (Direct Memory Buffers)
    that local clients such as SMC-D registered on it. Every device has a GID
    (a uuid) and the 16-bit id of its fabric. Load the modules with
    'modprobe dibs' and 'modprobe dibs_loopback' (which creates dibs_lo0).

COMMANDS
    list             List all dibs devices in natural name order (dibs_lo2
                     before dibs_lo10). This is the default command.
    show DEVICE      Show the attributes of one device.
    add-loopback     Create loopback devices and print their names.
    del DEVICE...    Remove loopback devices.
    help [COMMAND]   Show this help, or the help of COMMAND.

OPTIONS
    -j, --json       list, show: print JSON instead of text. Unknown attribute
                     values are null; fabric_id is a number.
    -i, --id N       add-loopback: create dibs_loN (0..2147483647); default: the
                     lowest free index.
    -f, --fabric F   add-loopback: the fabric id, decimal or 0x-hex, 0..0xffff.
                     Default 0xffff, the private fabric: the device reaches only
                     itself. Devices created with the same other fabric id reach
                     each other.
    -n, --count K    add-loopback: create K devices (1..1024, default 1).
    -h, --help       Show this help; after a command, the help of that command.
    -V, --version    Show the version.

ENVIRONMENT
    DIBS_SYSFS_ROOT  The sysfs mount point to use instead of /sys (for tests).
                     When it is set, dibsctl does not check that it runs as
                     root before writing; the kernel still does.

FILES
    /sys/class/dibs/DEVICE/{gid,fabric_id,dmbs,max_dmbs}
                     The attributes of each device (read-only).
    /sys/kernel/dibs_loopback/new_device
                     Write "N [FABRIC]" to create dibs_loN (root only).
    /sys/kernel/dibs_loopback/del_device
                     Write "dibs_loN" to remove it (root only).

EXIT STATUS
    0   Success.
    1   Operational error: a module is not loaded, no such device, permission
        denied, an attribute cannot be read or parsed, the kernel refused.
    2   Usage error: unknown command or option, a missing or invalid value.

EXAMPLES
    dibsctl
        List the devices.
    dibsctl show dibs_lo0
        Show one device.
    dibsctl add-loopback
        Create a private loopback device with the lowest free index.
    dibsctl add-loopback --fabric 0x10 --count 2
        Create two loopback devices on fabric 0x0010 that reach each other.
    dibsctl del dibs_lo1 dibs_lo2
        Remove two loopback devices.
    dibsctl --json list | jq -r '.[].gid'
        Print the GID of every device.
)";

constexpr std::string_view help_list = R"(NAME
    dibsctl list - list dibs devices

SYNOPSIS
    dibsctl list [-j|--json]

DESCRIPTION
    Prints one line per device in /sys/class/dibs, in natural name order
    (dibs_lo2 before dibs_lo10), with the columns DEVICE, GID, FABRIC (the
    fabric id), DMBS (registered DMBs) and MAX_DMBS. Without devices it prints
    "no dibs devices" (JSON: []). An attribute that cannot be read or parsed is
    shown as "-" (JSON: null), reported on standard error, and makes the exit
    status 1. list is the default command.

OPTIONS
    -j, --json       Print a JSON array of objects with the keys device, gid,
                     fabric_id (a number), dmbs, max_dmbs and loopback.
    -h, --help       Show this help.

EXAMPLES
    dibsctl list
    dibsctl list --json
)";

constexpr std::string_view help_show = R"(NAME
    dibsctl show - show the attributes of one dibs device

SYNOPSIS
    dibsctl show [-j|--json] DEVICE

DESCRIPTION
    Prints the attributes of DEVICE (a name from 'dibsctl list'): whether it is
    a loopback device, its gid, fabric_id, dmbs and max_dmbs, one per line.
    Fails with exit status 1 if there is no such device.

OPTIONS
    -j, --json       Print one JSON object, as in 'dibsctl list --json'.
    -h, --help       Show this help.

EXAMPLES
    dibsctl show dibs_lo0
)";

constexpr std::string_view help_add_loopback = R"(NAME
    dibsctl add-loopback - create dibs loopback devices

SYNOPSIS
    dibsctl add-loopback [-i|--id N] [-f|--fabric F] [-n|--count K]

DESCRIPTION
    Creates K loopback devices by writing "N" or "N FABRIC" to
    /sys/kernel/dibs_loopback/new_device and prints the name of each device it
    created, one per line. Without --id every device gets the lowest free index
    (dibsctl retries if another process takes it first); with --id the devices
    are dibs_loN to dibs_lo(N+K-1), and an existing one is an error. On an
    error the devices created so far stay and have been printed. Needs root and
    the modules dibs and dibs_loopback.

OPTIONS
    -i, --id N       The index of the first device, 0..2147483647.
    -f, --fabric F   The fabric id, decimal or 0x-hex, 0..0xffff. Default
                     0xffff, the private fabric: the device reaches only
                     itself. Devices created with the same other fabric id
                     reach each other.
    -n, --count K    The number of devices, 1..1024 (default 1).
    -h, --help       Show this help.

EXAMPLES
    dibsctl add-loopback
    dibsctl add-loopback --id 5
    dibsctl add-loopback --fabric 0x10 --count 2
)";

constexpr std::string_view help_del = R"(NAME
    dibsctl del - remove dibs loopback devices

SYNOPSIS
    dibsctl del DEVICE...

DESCRIPTION
    Removes each loopback device (dibs_loN) by writing its name to
    /sys/kernel/dibs_loopback/del_device. Continues with the next DEVICE after
    an error and then exits with status 1. Only loopback devices can be removed.
    Needs root and the modules dibs and dibs_loopback.

OPTIONS
    -h, --help       Show this help.

EXAMPLES
    dibsctl del dibs_lo1
    dibsctl del dibs_lo1 dibs_lo2
)";

constexpr std::string_view help_help = R"(NAME
    dibsctl help - show help

SYNOPSIS
    dibsctl help [COMMAND]

DESCRIPTION
    Without COMMAND, shows the help of dibsctl; with COMMAND (list, show,
    add-loopback, del, help), the help of that command.
)";

struct command_help_entry {
    std::string_view name;
    std::string_view text;
};

constexpr std::array command_helps{
    command_help_entry{"list", help_list},
    command_help_entry{"show", help_show},
    command_help_entry{"add-loopback", help_add_loopback},
    command_help_entry{"del", help_del},
    command_help_entry{"help", help_help},
};

// ---- small helpers -------------------------------------------------------------------------

constexpr bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/// Parses all of text (only digits of base) as an unsigned number no larger than max.
std::optional<std::uint32_t> parse_unsigned(std::string_view text, int base,
                                            std::uint32_t max) noexcept {
    if (text.empty()) {
        return std::nullopt;
    }
    // from_chars also takes a leading '-' for no type we use; reject anything but digits anyway.
    const bool all_digits = std::all_of(text.begin(), text.end(), [base](char c) {
        return base == 16 ? hex_value(c) >= 0 : is_digit(c);
    });
    if (!all_digits) {
        return std::nullopt;
    }
    std::uint32_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
    if (ec != std::errc{} || ptr != text.data() + text.size() || value > max) {
        return std::nullopt;
    }
    return value;
}

/// A plain device name: no path, nothing hidden.
bool valid_device_name(std::string_view name) noexcept {
    return !name.empty() && name != "." && name != ".." &&
           name.find_first_of(std::string_view{"/\0", 2}) == std::string_view::npos;
}

std::string json_string(std::string_view text) {
    constexpr std::string_view hex = "0123456789abcdef";
    std::string out = "\"";
    for (const char c : text) {
        const auto uc = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (uc < 0x20) {
            out += "\\u00";
            out += hex[uc >> 4U];
            out += hex[uc & 0xfU];
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

template <typename T, typename Format>
std::string json_value(const std::optional<T>& value, Format format) {
    return value ? format(*value) : std::string{"null"};
}

void print_device_json(std::ostream& out, const device_info& dev) {
    const auto number = [](auto v) { return std::to_string(v); };
    out << "{\"device\": " << json_string(dev.name) << ", \"gid\": "
        << json_value(dev.gid, [](const dibs_gid& g) { return json_string(format_gid(g)); })
        << ", \"fabric_id\": " << json_value(dev.fabric_id, number)
        << ", \"dmbs\": " << json_value(dev.dmbs, number)
        << ", \"max_dmbs\": " << json_value(dev.max_dmbs, number)
        << ", \"loopback\": " << (dev.loopback() ? "true" : "false") << '}';
}

std::vector<std::string> device_cells(const device_info& dev) {
    const auto text = [](const auto& value, auto format) {
        return value ? format(*value) : std::string{"-"};
    };
    const auto number = [](auto v) { return std::to_string(v); };
    return {dev.name, text(dev.gid, format_gid), text(dev.fabric_id, format_fabric_id),
            text(dev.dmbs, number), text(dev.max_dmbs, number)};
}

void report(std::ostream& err, const error& e) {
    err << "dibsctl: " << e.what() << '\n';
}

// ---- option parsing ------------------------------------------------------------------------

struct option_def {
    std::string_view long_name;
    char short_name;
    bool takes_value;
};

constexpr option_def opt_help{"help", 'h', false};
constexpr option_def opt_json{"json", 'j', false};

struct parsed_options {
    std::vector<std::pair<std::string_view, std::string_view>> values; // long name, value
    std::vector<std::string_view> operands;

    [[nodiscard]] bool has(std::string_view name) const {
        return std::any_of(values.begin(), values.end(),
                           [name](const auto& v) { return v.first == name; });
    }
    [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const {
        for (const auto& [key, value] : values) {
            if (key == name) {
                return value;
            }
        }
        return std::nullopt;
    }
};

/// "<command>: option '--<name>' <problem>" as a usage error.
error option_error(const std::string& command, const option_def& def, std::string_view problem) {
    std::string msg = command;
    msg.append(": option '--").append(def.long_name).append("' ").append(problem);
    return error::usage(msg, command);
}

/// The option definition for arg ("--name[=value]", "-x", "-xvalue") and its inline value.
std::pair<const option_def*, std::optional<std::string_view>>
find_option(const std::string& cmd, std::string_view arg, std::span<const option_def> defs) {
    const auto unknown = [&] { return error::usage(cmd + ": unknown option " + quote(arg), cmd); };
    if (arg.starts_with("--")) {
        std::string_view name = arg.substr(2);
        std::optional<std::string_view> inline_value;
        if (const auto eq = name.find('='); eq != std::string_view::npos) {
            inline_value = name.substr(eq + 1);
            name = name.substr(0, eq);
        }
        const auto it = std::find_if(defs.begin(), defs.end(),
                                     [name](const option_def& d) { return d.long_name == name; });
        if (it == defs.end()) {
            throw unknown();
        }
        if (inline_value && !it->takes_value) {
            throw option_error(cmd, *it, "takes no value");
        }
        return {&*it, inline_value};
    }
    const char letter = arg[1];
    const auto it = std::find_if(defs.begin(), defs.end(),
                                 [letter](const option_def& d) { return d.short_name == letter; });
    if (it == defs.end() || (arg.size() > 2 && !it->takes_value)) {
        throw unknown(); // no clustering of flags ("-jh")
    }
    if (arg.size() > 2) {
        return {&*it, arg.substr(2)};
    }
    return {&*it, std::nullopt};
}

/// Splits the arguments of command into options (--name, --name=value, --name value, -x,
/// -x value, -xvalue) and operands; "--" ends the options.
parsed_options parse_options(std::string_view command, std::span<const std::string_view> args,
                             std::span<const option_def> defs) {
    const std::string cmd{command};
    parsed_options result;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view arg = args[i];
        if (arg == "--") {
            const auto rest = args.subspan(i + 1);
            result.operands.insert(result.operands.end(), rest.begin(), rest.end());
            break;
        }
        if (arg.size() < 2 || arg[0] != '-') {
            result.operands.push_back(arg);
            continue;
        }
        const auto [def, inline_value] = find_option(cmd, arg, defs);
        std::string_view value;
        if (def->takes_value) {
            if (inline_value) {
                value = *inline_value;
            } else if (i + 1 < args.size()) {
                value = args[++i];
            } else {
                throw option_error(cmd, *def, "needs a value");
            }
        }
        if (result.has(def->long_name)) {
            throw option_error(cmd, *def, "given more than once");
        }
        result.values.emplace_back(def->long_name, value);
    }
    return result;
}

void no_operands(std::string_view command, const parsed_options& opts) {
    if (!opts.operands.empty()) {
        const std::string cmd{command};
        throw error::usage(cmd + ": unexpected argument " + quote(opts.operands.front()), cmd);
    }
}

// ---- commands ------------------------------------------------------------------------------

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

int cmd_list(std::span<const std::string_view> args, context& ctx, bool json) {
    constexpr std::array defs{opt_help, opt_json};
    const auto opts = parse_options("list", args, defs);
    if (opts.has("help")) {
        ctx.out << help_list;
        return exit_ok;
    }
    no_operands("list", opts);
    json = json || opts.has("json");

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
    if (json) {
        print_json(ctx.out, devices);
    } else {
        print_table(ctx.out, devices);
    }
    ctx.out.flush();
    for (const auto& p : problems) {
        report(ctx.err, p);
    }
    return problems.empty() ? exit_ok : exit_failure;
}

int cmd_show(std::span<const std::string_view> args, context& ctx, bool json) {
    constexpr std::array defs{opt_help, opt_json};
    const auto opts = parse_options("show", args, defs);
    if (opts.has("help")) {
        ctx.out << help_show;
        return exit_ok;
    }
    if (opts.operands.empty()) {
        throw error::usage("show: missing device name", "show");
    }
    if (opts.operands.size() > 1) {
        throw error::usage("show: unexpected argument " + quote(opts.operands[1]) +
                               " (one device at a time)",
                           "show");
    }
    json = json || opts.has("json");
    const std::string_view name = opts.operands.front();

    require_dibs_loaded(ctx.sysfs);
    if (!device_exists(ctx.sysfs, name)) {
        throw error("no such dibs device " + quote(name), std::string{name}, ENODEV);
    }
    std::vector<error> problems;
    const auto dev = read_device(ctx.sysfs, name, "show", problems);
    if (json) {
        print_device_json(ctx.out, dev);
        ctx.out << '\n';
    } else {
        const auto cells = device_cells(dev);
        ctx.out << "device     " << cells[0] << '\n'
                << "loopback   " << (dev.loopback() ? "yes" : "no") << '\n'
                << "gid        " << cells[1] << '\n'
                << "fabric_id  " << cells[2] << '\n'
                << "dmbs       " << cells[3] << '\n'
                << "max_dmbs   " << cells[4] << '\n';
    }
    ctx.out.flush();
    for (const auto& p : problems) {
        report(ctx.err, p);
    }
    return problems.empty() ? exit_ok : exit_failure;
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

add_loopback_options check_add_loopback_options(const parsed_options& opts) {
    const std::string cmd{"add-loopback"};
    no_operands(cmd, opts);
    add_loopback_options o;
    if (const auto v = opts.get("id")) {
        o.first_id = parse_decimal(*v, max_loopback_index);
        if (!o.first_id) {
            throw error::usage(cmd + ": invalid --id " + quote(*v) +
                                   " (expected a decimal number 0.." +
                                   std::to_string(max_loopback_index) + ")",
                               cmd);
        }
    }
    if (const auto v = opts.get("fabric")) {
        o.fabric = parse_fabric_id(*v);
        if (!o.fabric) {
            throw error::usage(cmd + ": invalid --fabric " + quote(*v) +
                                   " (expected a fabric id 0..65535, decimal or 0x0..0xffff)",
                               cmd);
        }
    }
    if (const auto v = opts.get("count")) {
        const auto parsed = parse_decimal(*v, max_loopback_count);
        if (!parsed || *parsed == 0) {
            throw error::usage(cmd + ": invalid --count " + quote(*v) + " (expected 1.." +
                                   std::to_string(max_loopback_count) + ")",
                               cmd);
        }
        o.count = *parsed;
    }
    if (o.first_id && std::uint64_t{*o.first_id} + o.count - 1 > max_loopback_index) {
        throw error::usage(cmd + ": --id " + std::to_string(*o.first_id) + " with --count " +
                               std::to_string(o.count) + " goes beyond " +
                               loopback_name(max_loopback_index),
                           cmd);
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

int cmd_add_loopback(std::span<const std::string_view> args, context& ctx) {
    constexpr std::array defs{opt_help, option_def{"id", 'i', true},
                              option_def{"fabric", 'f', true}, option_def{"count", 'n', true}};
    const auto opts = parse_options("add-loopback", args, defs);
    if (opts.has("help")) {
        ctx.out << help_add_loopback;
        return exit_ok;
    }
    const auto o = check_add_loopback_options(opts);

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

int cmd_del(std::span<const std::string_view> args, context& ctx) {
    constexpr std::array defs{opt_help};
    const auto opts = parse_options("del", args, defs);
    if (opts.has("help")) {
        ctx.out << help_del;
        return exit_ok;
    }
    if (opts.operands.empty()) {
        throw error::usage("del: missing device name", "del");
    }
    require_dibs_loaded(ctx.sysfs);

    const auto del_device = ctx.sysfs.del_device();
    bool failed = false;
    bool writable = false;
    for (const auto name : opts.operands) {
        if (!device_exists(ctx.sysfs, name)) {
            report(ctx.err, error("no such dibs device " + quote(name), std::string{name}, ENODEV));
            failed = true;
            continue;
        }
        if (!loopback_index(name)) {
            report(ctx.err,
                   error(quote(name) + " is not a loopback device", std::string{name}, EINVAL));
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

int cmd_help(std::span<const std::string_view> args, context& ctx) {
    constexpr std::array defs{opt_help};
    const auto opts = parse_options("help", args, defs);
    if (opts.has("help")) {
        ctx.out << help_help;
        return exit_ok;
    }
    if (opts.operands.empty()) {
        ctx.out << help_main;
        return exit_ok;
    }
    if (opts.operands.size() > 1) {
        throw error::usage("help: unexpected argument " + quote(opts.operands[1]), "help");
    }
    const auto text = command_help(opts.operands.front());
    if (!text) {
        throw error::usage("help: unknown command " + quote(opts.operands.front()));
    }
    ctx.out << *text;
    return exit_ok;
}

} // namespace

// ---- attribute values ----------------------------------------------------------------------

std::optional<dibs_gid> parse_gid(std::string_view text) noexcept {
    constexpr std::size_t uuid_length = 36;
    if (text.size() != uuid_length) {
        return std::nullopt;
    }
    dibs_gid gid;
    std::size_t byte = 0;
    for (std::size_t i = 0; i < text.size();) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-') {
                return std::nullopt;
            }
            ++i;
            continue;
        }
        const int hi = hex_value(text[i]);
        const int lo = hex_value(text[i + 1]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        gid.bytes.at(byte++) = static_cast<std::uint8_t>((hi << 4) | lo);
        i += 2;
    }
    return gid;
}

std::string format_gid(const dibs_gid& gid) {
    constexpr std::string_view hex = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (std::size_t i = 0; i < gid.bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out += '-';
        }
        out += hex[gid.bytes.at(i) >> 4U];
        out += hex[gid.bytes.at(i) & 0xfU];
    }
    return out;
}

std::optional<std::uint16_t> parse_fabric_id(std::string_view text) noexcept {
    std::optional<std::uint32_t> value;
    if (text.starts_with("0x") || text.starts_with("0X")) {
        value = parse_unsigned(text.substr(2), 16, 0xffff);
    } else {
        value = parse_unsigned(text, 10, 0xffff);
    }
    if (!value) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(*value);
}

std::string format_fabric_id(std::uint16_t fabric_id) {
    constexpr std::string_view hex = "0123456789abcdef";
    std::string out = "0x";
    for (int shift = 12; shift >= 0; shift -= 4) {
        out += hex[(fabric_id >> static_cast<unsigned>(shift)) & 0xfU];
    }
    return out;
}

std::optional<std::uint32_t> parse_decimal(std::string_view text, std::uint32_t max) noexcept {
    return parse_unsigned(text, 10, max);
}

// ---- device names --------------------------------------------------------------------------

std::optional<std::uint32_t> loopback_index(std::string_view name) noexcept {
    if (!name.starts_with(loopback_prefix)) {
        return std::nullopt;
    }
    const auto digits = name.substr(loopback_prefix.size());
    if (digits.size() > 1 && digits.front() == '0') {
        return std::nullopt; // the kernel prints "%u": dibs_lo01 is not a loopback name
    }
    return parse_decimal(digits);
}

std::string loopback_name(std::uint32_t index) {
    return std::string{loopback_prefix} + std::to_string(index);
}

namespace {

/// The end of the digit run starting at pos.
std::size_t digits_end(std::string_view s, std::size_t pos) noexcept {
    while (pos < s.size() && is_digit(s[pos])) {
        ++pos;
    }
    return pos;
}

/// Compares two digit strings by value: <0, 0, >0.
int compare_numbers(std::string_view a, std::string_view b) noexcept {
    const auto strip = [](std::string_view s) {
        const auto first = s.find_first_not_of('0');
        return first == std::string_view::npos ? std::string_view{} : s.substr(first);
    };
    a = strip(a);
    b = strip(b);
    if (a.size() != b.size()) {
        return a.size() < b.size() ? -1 : 1;
    }
    return a.compare(b);
}

} // namespace

bool natural_less(std::string_view a, std::string_view b) noexcept {
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < a.size() && j < b.size()) {
        if (is_digit(a[i]) && is_digit(b[j])) {
            const auto ea = digits_end(a, i);
            const auto eb = digits_end(b, j);
            if (const int cmp = compare_numbers(a.substr(i, ea - i), b.substr(j, eb - j));
                cmp != 0) {
                return cmp < 0;
            }
            i = ea;
            j = eb;
        } else if (a[i] != b[j]) {
            return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
        } else {
            ++i;
            ++j;
        }
    }
    if ((i < a.size()) != (j < b.size())) {
        return j < b.size(); // a ran out first
    }
    return a < b; // equal as numbers ("lo01" vs "lo1"): keep a strict total order
}

// ---- devices -------------------------------------------------------------------------------

void require_dibs_loaded(const sysfs_layout& sysfs) {
    std::error_code ec;
    if (!std::filesystem::is_directory(sysfs.class_dir(), ec)) {
        throw error("the dibs module is not loaded (" + sysfs.class_dir().string() +
                        " missing; try: modprobe dibs)",
                    sysfs.class_dir().string(), ENOENT);
    }
}

void require_loopback_loaded(const sysfs_layout& sysfs) {
    std::error_code ec;
    if (!std::filesystem::is_directory(sysfs.loopback_dir(), ec)) {
        throw error("the dibs_loopback module is not loaded (" + sysfs.loopback_dir().string() +
                        " missing; try: modprobe dibs_loopback)",
                    sysfs.loopback_dir().string(), ENOENT);
    }
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

void print_table(std::ostream& out, std::span<const device_info> devices) {
    if (devices.empty()) {
        out << "no dibs devices\n";
        return;
    }
    std::vector<std::vector<std::string>> rows;
    rows.push_back({"DEVICE", "GID", "FABRIC", "DMBS", "MAX_DMBS"});
    for (const auto& dev : devices) {
        rows.push_back(device_cells(dev));
    }
    std::vector<std::size_t> widths(rows.front().size(), 0);
    for (const auto& row : rows) {
        for (std::size_t c = 0; c < row.size(); ++c) {
            widths[c] = std::max(widths[c], row[c].size());
        }
    }
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t c = 0; c < row.size(); ++c) {
            line += row[c];
            if (c + 1 < row.size()) {
                line.append(widths[c] - row[c].size() + 2, ' ');
            }
        }
        out << line << '\n';
    }
}

void print_json(std::ostream& out, std::span<const device_info> devices) {
    if (devices.empty()) {
        out << "[]\n";
        return;
    }
    out << "[\n";
    for (std::size_t i = 0; i < devices.size(); ++i) {
        out << "  ";
        print_device_json(out, devices[i]);
        out << (i + 1 < devices.size() ? ",\n" : "\n");
    }
    out << "]\n";
}

// ---- commands ------------------------------------------------------------------------------

int dispatch(std::span<const std::string_view> args, context& ctx) {
    bool json = false;
    std::size_t i = 0;
    for (; i < args.size() && args[i].size() > 1 && args[i].starts_with('-'); ++i) {
        const auto arg = args[i];
        if (arg == "--") {
            ++i;
            break;
        }
        if (arg == "-h" || arg == "--help") {
            ctx.out << help_main;
            return exit_ok;
        }
        if (arg == "-V" || arg == "--version") {
            ctx.out << version_text() << '\n';
            return exit_ok;
        }
        if (arg == "-j" || arg == "--json") {
            json = true;
            continue;
        }
        throw error::usage("unknown option " + quote(arg));
    }
    const std::string_view command = i < args.size() ? args[i++] : std::string_view{"list"};
    const auto rest = args.subspan(i);

    if (command == "list") {
        return cmd_list(rest, ctx, json);
    }
    if (command == "show") {
        return cmd_show(rest, ctx, json);
    }
    if (command_help(command) && json) {
        throw error::usage("option '--json' applies only to list and show");
    }
    if (command == "add-loopback") {
        return cmd_add_loopback(rest, ctx);
    }
    if (command == "del") {
        return cmd_del(rest, ctx);
    }
    if (command == "help") {
        return cmd_help(rest, ctx);
    }
    throw error::usage("unknown command " + quote(command));
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
    return help_main;
}

std::optional<std::string_view> command_help(std::string_view command) noexcept {
    for (const auto& entry : command_helps) {
        if (entry.name == command) {
            return entry.text;
        }
    }
    return std::nullopt;
}

std::string version_text() {
    return std::string{"dibsctl (dibs-rdma) "} + DIBSCTL_VERSION;
}

} // namespace dibs::tools
