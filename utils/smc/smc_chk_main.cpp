// SPDX-License-Identifier: GPL-2.0
//
// smc_chk: is a server reachable over SMC-D? All logic is in smc_chk.hpp.
#include "cli.hpp"
#include "smc_chk.hpp"

#include <iostream>

int main(int argc, char* argv[]) {
    try {
        return dibs::smc::chk::run(dibs::tools::arguments(argc, argv), std::cout, std::cerr);
    } catch (const std::exception& e) {
        std::cerr << "smc_chk: " << e.what() << '\n';
        return dibs::tools::exit_failure;
    }
}
