# SPDX-License-Identifier: GPL-2.0
# unit.provider: the rdma-core provider (providers/dibs) without a kernel driver - its match
# logic, dlopen() against the system libibverbs, and device listing over a fake sysfs tree.
# Included from tests/unit/CMakeLists.txt.

add_executable(test_provider_abi ${CMAKE_CURRENT_LIST_DIR}/test_provider_abi.cpp)
target_link_libraries(test_provider_abi PRIVATE dibs_provider_match PkgConfig::IBVERBS
  Boost::unit_test_framework dibs_warnings ${CMAKE_DL_LIBS})
target_compile_definitions(test_provider_abi PRIVATE BOOST_TEST_DYN_LINK
  DIBS_PROVIDER_SO="$<TARGET_FILE:dibs_provider>"
  DIBS_PROVIDER_RDMAV_DRIVERS="${DIBS_PROVIDER_RDMAV_DRIVERS}")
# The test dlopen()s the provider rather than linking it.
add_dependencies(test_provider_abi dibs_provider)
add_test(NAME unit.provider COMMAND test_provider_abi)
set_tests_properties(unit.provider PROPERTIES LABELS unit)
