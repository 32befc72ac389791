// SPDX-License-Identifier: GPL-2.0
//
// dibsctl as a library (dibsctl_lib), one header per concern:
//   attributes.hpp  GIDs, fabric ids, counters, device names
//   devices.hpp     modules loaded?, device enumeration and attributes, control-file requests
//   output.hpp      the table, the show lines and JSON
//   commands.hpp    the commands, their dispatcher and help texts
#ifndef DIBS_TOOLS_DIBSCTL_HPP
#define DIBS_TOOLS_DIBSCTL_HPP

#include "attributes.hpp" // IWYU pragma: export
#include "commands.hpp"   // IWYU pragma: export
#include "devices.hpp"    // IWYU pragma: export
#include "output.hpp"     // IWYU pragma: export

#endif // DIBS_TOOLS_DIBSCTL_HPP
