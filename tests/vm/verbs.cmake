# SPDX-License-Identifier: GPL-2.0
# verbs.conformance: the dibs_rdma driver and the dibs provider against the verbs they implement
# (Boost.Test, tests/vm/verbs/), inside the VM on dibs_lo0 and the shared-fabric pair
# dibs_lo1/dibs_lo2 that run-conformance.sh creates. Included from tests/vm/CMakeLists.txt.

find_package(Threads REQUIRED)

add_executable(test_verbs_conformance
  ${CMAKE_CURRENT_LIST_DIR}/verbs/test_verbs_conformance.cpp
  ${CMAKE_CURRENT_LIST_DIR}/verbs/test_data.cpp
  ${CMAKE_CURRENT_LIST_DIR}/verbs/test_errors.cpp
  ${CMAKE_CURRENT_LIST_DIR}/verbs/test_fabric.cpp
  ${CMAKE_CURRENT_LIST_DIR}/verbs/test_concurrency.cpp
  ${CMAKE_CURRENT_LIST_DIR}/verbs/conformance.cpp)
target_link_libraries(test_verbs_conformance PRIVATE dibs_verbs Boost::unit_test_framework
  Threads::Threads dibs_warnings)
target_compile_definitions(test_verbs_conformance PRIVATE BOOST_TEST_DYN_LINK)
# the test loads the provider from the build tree (RDMAV_DRIVERS)
add_dependencies(test_verbs_conformance dibs_provider)

dibs_add_vm_test(NAME verbs.conformance LABELS verbs TIMEOUT 600
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/verbs/run-conformance.sh ${DIBS_KMOD_BUILD_DIR}
          ${DIBS_PROVIDER_RDMAV_DRIVERS} $<TARGET_FILE:test_verbs_conformance>)
set_property(TEST verbs.conformance APPEND PROPERTY REQUIRED_FILES ${DIBS_KMOD_dibs_rdma})
