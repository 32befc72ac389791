// SPDX-License-Identifier: GPL-2.0
//
// smcss: list SMC sockets. All logic is in smcss.hpp.
#include "cli.hpp"
#include "smcss.hpp"

#include <cstdlib>
#include <iostream>

int main(int argc, char* argv[]) {
    using namespace dibs::smc;
    using dibs::tools::exit_failure;
    try {
        smcss::context ctx(std::cout, std::cerr);

        const auto args = dibs::tools::arguments(argc, argv);
        const int status = smcss::run(args, ctx);
        std::cout.flush();
        if (!std::cout) {
            std::cerr << "smcss: cannot write to standard output\n";
            return exit_failure;
        }
        return status;
    } catch (const std::exception& e) {
        std::cerr << "smcss: " << e.what() << '\n';
        return exit_failure;
    }
}
