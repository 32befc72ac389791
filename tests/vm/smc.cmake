# SPDX-License-Identifier: GPL-2.0
# SMC-D over dibs: AF_SMC socket tests inside the VM (tests/vm/smc/). smc-case.sh loads smc,
# smc_diag, dibs, dibs_loopback and dibs_smcd through tests/vm/smc-env.sh and runs one case of
# smc-sock-test. Included from tests/vm/CMakeLists.txt.

find_package(Threads REQUIRED)

add_executable(smc-sock-test
  ${CMAKE_CURRENT_LIST_DIR}/smc/smc_sock_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/smc/raw_clc.cpp)
target_link_libraries(smc-sock-test PRIVATE smc_tools Threads::Threads dibs_warnings)

# The smcd tool (utils/smc) adds the user EID that SMC-D v2 needs.
add_dependencies(smc-sock-test smcd)

# dibs_smc_test(<case> <timeout>): test smc.<case>; "Not Run" until dibs_smcd.ko is built.
function(dibs_smc_test name timeout)
  dibs_add_vm_test(NAME smc.${name} LABELS smc TIMEOUT ${timeout}
    COMMAND ${CMAKE_CURRENT_LIST_DIR}/smc/smc-case.sh ${DIBS_KMOD_BUILD_DIR} $<TARGET_FILE:smcd>
            $<TARGET_FILE:smc-sock-test> ${name})
  set_property(TEST smc.${name} APPEND PROPERTY REQUIRED_FILES
    ${DIBS_KMOD_dibs_smcd})
endfunction()

dibs_smc_test(echo 180)
dibs_smc_test(bulk_1g 240)
dibs_smc_test(concurrent_200 240)
dibs_smc_test(fallback_nodev 180)
dibs_smc_test(peer_killed 180)
dibs_smc_test(device_removed 180)
dibs_smc_test(malformed_clc 180)
dibs_smc_test(netns_veth 180)
