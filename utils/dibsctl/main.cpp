// SPDX-License-Identifier: GPL-2.0
//
// dibsctl: list and manage dibs devices. All logic is in dibsctl_lib (dibsctl.hpp).
#include "cli.hpp"
#include "dibsctl.hpp"

#include <cstdlib>
#include <exception>
#include <iostream>

#include <unistd.h>

int main(int argc, char* argv[]) {
    using namespace dibs::tools;
    try {
        const char* root = std::getenv(sysfs_layout::root_env.data()); // NOLINT(*-mt-unsafe)
        context ctx(std::cout, std::cerr);
        ctx.sysfs = sysfs_layout::from_env(root);
        // With a test tree instead of /sys there is nothing for root to guard.
        ctx.check_root = root == nullptr || *root == '\0';
        ctx.euid = geteuid();

        const int status = run(arguments(argc, argv), ctx);
        std::cout.flush();
        if (!std::cout) {
            std::cerr << "dibsctl: cannot write to standard output\n";
            return exit_failure;
        }
        return status;
    } catch (const std::exception& e) {
        std::cerr << "dibsctl: " << e.what() << '\n';
        return exit_failure;
    }
}
