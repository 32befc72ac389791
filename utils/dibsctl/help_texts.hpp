// SPDX-License-Identifier: GPL-2.0
//
// The help texts of dibsctl, in the form of a manual page (dibsctl.8 says the same in troff).
// Internal to dibsctl_lib: the command table (commands.cpp) refers to them.
#ifndef DIBS_TOOLS_DIBSCTL_HELP_TEXTS_HPP
#define DIBS_TOOLS_DIBSCTL_HELP_TEXTS_HPP

#include <string_view>

namespace dibs::tools::help {

inline constexpr std::string_view dibsctl = R"(NAME
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

inline constexpr std::string_view list = R"(NAME
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

inline constexpr std::string_view show = R"(NAME
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

inline constexpr std::string_view add_loopback = R"(NAME
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

inline constexpr std::string_view del = R"(NAME
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

inline constexpr std::string_view help = R"(NAME
    dibsctl help - show help

SYNOPSIS
    dibsctl help [COMMAND]

DESCRIPTION
    Without COMMAND, shows the help of dibsctl; with COMMAND (list, show,
    add-loopback, del, help), the help of that command.
)";

} // namespace dibs::tools::help

#endif // DIBS_TOOLS_DIBSCTL_HELP_TEXTS_HPP
