// SPDX-License-Identifier: GPL-2.0
//
// dibsctl as a library: parsing and formatting of dibs attributes, device enumeration, and the
// command dispatcher, which takes the arguments and the output streams so that it runs in-process
// in the unit tests.
#ifndef DIBS_TOOLS_DIBSCTL_HPP
#define DIBS_TOOLS_DIBSCTL_HPP

#include "error.hpp"
#include "fd.hpp"
#include "sysfs.hpp"

#include <array>
#include <compare>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dibs::tools {

// ---- attribute values ------------------------------------------------------------------------

/// A dibs GID: a uuid, in sysfs as "%pUb" (36 characters, lowercase).
struct dibs_gid {
    std::array<std::uint8_t, 16> bytes{};
    auto operator<=>(const dibs_gid&) const = default;
};

/// Parses "01234567-89ab-cdef-0123-456789abcdef" (either case); nullopt if malformed.
[[nodiscard]] std::optional<dibs_gid> parse_gid(std::string_view text) noexcept;
/// Lowercase 8-4-4-4-12 form, as the kernel prints it.
[[nodiscard]] std::string format_gid(const dibs_gid& gid);

/// The fabric id of a loopback device that reaches only itself (the default).
inline constexpr std::uint16_t private_fabric_id = 0xffff;

/// Parses a fabric id, decimal ("16") or hex with 0x/0X ("0x10"), 0..0xffff; nullopt otherwise.
[[nodiscard]] std::optional<std::uint16_t> parse_fabric_id(std::string_view text) noexcept;
/// "0x%04x", as the kernel prints fabric_id.
[[nodiscard]] std::string format_fabric_id(std::uint16_t fabric_id);

/// Parses a plain decimal number (no sign, no spaces); nullopt if malformed or above max.
[[nodiscard]] std::optional<std::uint32_t>
parse_decimal(std::string_view text,
              std::uint32_t max = std::numeric_limits<std::uint32_t>::max()) noexcept;

// ---- device names --------------------------------------------------------------------------

inline constexpr std::string_view loopback_prefix = "dibs_lo";
/// Highest loopback index dibsctl asks for.
inline constexpr std::uint32_t max_loopback_index = 0x7fffffff;
/// Most devices one add-loopback creates.
inline constexpr std::uint32_t max_loopback_count = 1024;

/// The index N of a loopback device name "dibs_loN" (canonical decimal), else nullopt.
[[nodiscard]] std::optional<std::uint32_t> loopback_index(std::string_view name) noexcept;
[[nodiscard]] std::string loopback_name(std::uint32_t index);

/// Natural order: digit runs compare as numbers, so dibs_lo2 < dibs_lo10.
[[nodiscard]] bool natural_less(std::string_view a, std::string_view b) noexcept;

// ---- devices -------------------------------------------------------------------------------

/// The attributes of one dibs device; an attribute that could not be read or parsed is nullopt.
struct device_info {
    std::string name;
    std::optional<dibs_gid> gid;
    std::optional<std::uint16_t> fabric_id;
    std::optional<std::uint32_t> dmbs;
    std::optional<std::uint32_t> max_dmbs;
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

/// The device table of `dibsctl list`; "no dibs devices" for an empty list.
void print_table(std::ostream& out, std::span<const device_info> devices);
/// A JSON array of device objects (null for unknown attributes).
void print_json(std::ostream& out, std::span<const device_info> devices);

// ---- commands ------------------------------------------------------------------------------

/// Writes value to a sysfs attribute; returns 0 or an errno (see write_attribute()).
using attribute_writer = std::function<int(const std::filesystem::path&, std::string_view)>;

/// Everything the commands touch, so that tests can replace it.
struct context {
    context(std::ostream& out_stream, std::ostream& err_stream)
        : out(out_stream)
        , err(err_stream) {}

    std::ostream& out;
    std::ostream& err;
    sysfs_layout sysfs;
    attribute_writer write = write_attribute;
    /// Refuse to write to the loopback control files unless euid is 0. Off when $DIBS_SYSFS_ROOT
    /// points elsewhere; the kernel's own EACCES/EPERM is reported the same way.
    bool check_root = true;
    unsigned euid = 0;
};

/// Runs one command line (without argv[0]). Returns the exit status; throws error on failure.
[[nodiscard]] int dispatch(std::span<const std::string_view> args, context& ctx);

/// dispatch(), reporting an error as "dibsctl: <message>" on ctx.err (plus a hint for usage
/// errors) and returning its exit status.
[[nodiscard]] int run(std::span<const std::string_view> args, context& ctx);

/// The full help text (dibsctl --help).
[[nodiscard]] std::string_view main_help() noexcept;
/// The help text of one command, nullopt for an unknown command.
[[nodiscard]] std::optional<std::string_view> command_help(std::string_view command) noexcept;
/// "dibsctl (dibs-rdma) <version>"
[[nodiscard]] std::string version_text();

} // namespace dibs::tools

#endif // DIBS_TOOLS_DIBSCTL_HPP
