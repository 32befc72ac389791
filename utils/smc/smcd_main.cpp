// SPDX-License-Identifier: GPL-2.0
//
// smcd: SMC-D devices, link groups, statistics and user EIDs. All logic is in smcd.hpp.
#include "cli.hpp"
#include "smcd.hpp"

#include <cstdlib>
#include <iostream>

#include <unistd.h>

int main(int argc, char* argv[]) {
    using namespace dibs::smc;
    using dibs::tools::exit_failure;
    try {
        smcd::context ctx(std::cout, std::cerr);
        ctx.sysfs = dibs::tools::sysfs_layout::from_env(
            std::getenv(dibs::tools::sysfs_layout::root_env.data()));      // NOLINT(*-mt-unsafe)
        const char* stats_file = std::getenv(smcd::stats_file_env.data()); // NOLINT(*-mt-unsafe)
        ctx.stats_file = stats_file != nullptr && *stats_file != '\0'
                             ? std::filesystem::path{stats_file}
                             : smcd::default_stats_file(::getuid());
        const auto args = dibs::tools::arguments(argc, argv);
        const int status = smcd::run(args, ctx);
        std::cout.flush();
        if (!std::cout) {
            std::cerr << "smcd: cannot write to standard output\n";
            return exit_failure;
        }
        return status;
    } catch (const std::exception& e) {
        std::cerr << "smcd: " << e.what() << '\n';
        return exit_failure;
    }
}
