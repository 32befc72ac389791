# SPDX-License-Identifier: GPL-2.0
# dibsctl inside the VM, against the real dibs and dibs_loopback modules.
# Included from tests/vm/CMakeLists.txt; needs dibs_add_vm_test (cmake/VmTest.cmake) and the
# dibsctl target (utils/dibsctl).

add_executable(test_dibsctl_vm ${CMAKE_CURRENT_LIST_DIR}/dibsctl/test_dibsctl_vm.cpp)
target_link_libraries(test_dibsctl_vm PRIVATE Boost::unit_test_framework dibs_warnings)
target_compile_definitions(test_dibsctl_vm PRIVATE BOOST_TEST_DYN_LINK
  DIBSCTL_PATH="$<TARGET_FILE:dibsctl>")
add_dependencies(test_dibsctl_vm dibsctl)

# Modules loaded (which creates dibs_lo0): every suite except not_loaded.
dibs_add_vm_test(NAME vm.dibsctl MODULES dibs dibs_loopback
  COMMAND $<TARGET_FILE:test_dibsctl_vm>)

# No module loaded: the suite not_loaded (disabled unless named explicitly).
dibs_add_vm_test(NAME vm.dibsctl.not_loaded
  COMMAND $<TARGET_FILE:test_dibsctl_vm> --run_test=not_loaded)
