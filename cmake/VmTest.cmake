# SPDX-License-Identifier: GPL-2.0
#
# Tests that run inside the QEMU test VM (utils/vm/vm-run).
#
#   dibs_add_vm_test(NAME <ctest name> [MODULES <mod>...] [TIMEOUT <s>] [LABELS <l>...]
#                    [WILL_FAIL] COMMAND <cmd> [<arg>...])
#
# registers a CTest test running
#   utils/vm/vm-run --timeout <s> -m <mod.ko>... -- <cmd> <arg>...
# in ${CMAKE_BINARY_DIR} (the guest sees the build tree at the same path). A module
# name <mod> is the .ko path in DIBS_KMOD_<mod> (cmake/KernelModules.cmake), insmod'ed
# in the order given; unknown names are a configure error. TIMEOUT (default 300 s) is
# the VM's; CTest's is 60 s more. Labels: "vm" plus LABELS. VM tests are RUN_SERIAL
# (a TCG VM wants both cores) and list the .ko files as REQUIRED_FILES, so a test whose
# modules were not built (they are built by `all`) is reported "Not Run", not failed.
# COMMAND may use generator expressions such as $<TARGET_FILE:tgt>.

# The runner, for tests that call it themselves (e.g. tests/runner/CMakeLists.txt).
set(DIBS_VM_RUN ${CMAKE_CURRENT_LIST_DIR}/../utils/vm/vm-run)
cmake_path(NORMAL_PATH DIBS_VM_RUN)

function(dibs_add_vm_test)
  cmake_parse_arguments(PARSE_ARGV 0 arg "WILL_FAIL" "NAME;TIMEOUT" "MODULES;LABELS;COMMAND")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "dibs_add_vm_test: unexpected arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT DEFINED arg_NAME OR NOT DEFINED arg_COMMAND)
    message(FATAL_ERROR "dibs_add_vm_test: NAME and COMMAND are required")
  endif()
  if(NOT DEFINED arg_TIMEOUT)
    set(arg_TIMEOUT 300)
  endif()
  if(NOT arg_TIMEOUT MATCHES "^[1-9][0-9]*$")
    message(FATAL_ERROR "dibs_add_vm_test(${arg_NAME}): TIMEOUT must be a positive integer")
  endif()

  set(mod_args "")
  set(kos "")
  foreach(mod IN LISTS arg_MODULES)
    if(NOT DEFINED DIBS_KMOD_${mod})
      message(FATAL_ERROR "dibs_add_vm_test(${arg_NAME}): unknown kernel module '${mod}' "
        "(no DIBS_KMOD_${mod}; modules are declared with dibs_add_kmod_dir)")
    endif()
    list(APPEND mod_args -m ${DIBS_KMOD_${mod}})
    list(APPEND kos ${DIBS_KMOD_${mod}})
  endforeach()

  set(vm_run ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/../utils/vm/vm-run)
  cmake_path(NORMAL_PATH vm_run)
  add_test(NAME ${arg_NAME}
    COMMAND ${vm_run} --timeout ${arg_TIMEOUT} ${mod_args} -- ${arg_COMMAND}
    WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
  math(EXPR ctest_timeout "${arg_TIMEOUT} + 60")
  set(labels vm ${arg_LABELS})
  set_tests_properties(${arg_NAME} PROPERTIES
    LABELS "${labels}"
    TIMEOUT ${ctest_timeout}
    RUN_SERIAL TRUE)
  if(kos)
    set_tests_properties(${arg_NAME} PROPERTIES REQUIRED_FILES "${kos}")
  endif()
  if(arg_WILL_FAIL)
    set_tests_properties(${arg_NAME} PROPERTIES WILL_FAIL TRUE)
  endif()
endfunction()
