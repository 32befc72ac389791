// SPDX-License-Identifier: GPL-2.0
//
// smc_run: run a TCP program over AF_SMC through libsmc-preload.so. All logic is in smc_run.hpp.
#include "cli.hpp"
#include "smc_run.hpp"

#include <iostream>

int main(int argc, char* argv[]) {
    using namespace dibs::smc;
    using dibs::tools::exit_failure;
    try {
        return run::run(dibs::tools::arguments(argc, argv), std::cout, std::cerr);
    } catch (const std::exception& e) {
        std::cerr << "smc_run: " << e.what() << '\n';
        return exit_failure;
    }
}
