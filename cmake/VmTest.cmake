# SPDX-License-Identifier: GPL-2.0
#
# Tests that run inside the QEMU test VM (utils/vm/vm-run).
#
#   dibs_add_vm_test(NAME vm.<component>.<case> [MODULES <mod>...] [REQUIRES <mod>...]
#                    [TIMEOUT <s>] [LABELS <l>...] [WILL_FAIL] [STOCK_ONLY | DEBUG_ONLY]
#                    [KMEMLEAK] [FAULTS] [GUESTS <n> [LINK]] [ENV <VAR=VAL>...]
#                    COMMAND <cmd> [<arg>...])
#
# registers a CTest test running
#   utils/vm/vm-run --timeout <s> -m <mod.ko>... -- <cmd> <arg>...
# in ${CMAKE_BINARY_DIR} (the guest sees the build tree at the same path). A module
# name <mod> is the .ko path in DIBS_KMOD_<mod> (cmake/KernelModules.cmake), insmod'ed
# in the order given; REQUIRES names modules the command loads itself. Unknown names
# are a configure error. TIMEOUT (default 300 s) is the VM's; CTest's is 60 s more, plus
# DIBS_VM_BOOT_LIMIT: vm-run's boot watchdog may kill a guest that hung in early boot
# after that many seconds and boot it once more (the value reaches vm-run in the
# test's environment).
# Labels: "vm" plus LABELS. A VM test's PROCESSORS is the number of VMs it boots and its
# COST its timeout (long tests start first): utils/run-tests runs two VMs at a time (a
# TCG guest leaves a core idle most of the time: boot, 9p, kmemleak scans, sleeps), and a
# multi-guest test runs alone. VM tests list the .ko files as REQUIRED_FILES, so a test whose modules were not built (they
# are built by `all`) is reported "Not Run", not failed. COMMAND may use generator
# expressions such as $<TARGET_FILE:tgt>.
# ENV: variables exported to the command in the guest (vm-run --env), e.g.
# DIBS_RDMA_BYPASS=0 for the verbs tests' kernel-path twins.
#
# The debug lane: with DIBS_DEBUG_LANE (cmake/KernelModules.cmake) the same test is
# registered again as vm-debug.<component>.<case> (labels "vm" and "debug"), booting
# the debug kernel (vm-run --kernel debug) with the modules built against it: every
# ${DIBS_KMOD_BUILD_DIR} in MODULES, REQUIRES and COMMAND becomes
# ${DIBS_KMOD_DEBUG_DIR}, and TIMEOUT is tripled. KMEMLEAK (for tests that unload
# their modules) adds vm-run --kmemleak there. STOCK_ONLY: no debug variant (the
# runner's own tests); DEBUG_ONLY: only the debug variant (fault injection). FAULTS: the
# command injects allocation failures (vm-run --faults).
#
# Cross-VM tests: GUESTS n runs the command in n guests at once on one ivshmem region
# (utils/vm/vm-group --guests n, the cross-VM dibs device), LINK adds the network link
# between two guests, HOST_CMD a shell command a guest may start on the host
# (vm-group --host-cmd); the other options apply to every guest.

# The runner, for tests that call it themselves (e.g. tests/runner/CMakeLists.txt).
set(DIBS_VM_RUN ${CMAKE_CURRENT_LIST_DIR}/../utils/vm/vm-run)
cmake_path(NORMAL_PATH DIBS_VM_RUN)
set(DIBS_VM_GROUP ${CMAKE_CURRENT_LIST_DIR}/../utils/vm/vm-group)
cmake_path(NORMAL_PATH DIBS_VM_GROUP)
set(DIBS_VM_BOOT_LIMIT 150)

function(dibs_add_vm_test)
  cmake_parse_arguments(PARSE_ARGV 0 arg "WILL_FAIL;STOCK_ONLY;DEBUG_ONLY;KMEMLEAK;FAULTS;LINK"
    "NAME;TIMEOUT;GUESTS;HOST_CMD"
    "MODULES;REQUIRES;LABELS;COMMAND;ENV")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "dibs_add_vm_test: unexpected arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT DEFINED arg_NAME OR NOT DEFINED arg_COMMAND)
    message(FATAL_ERROR "dibs_add_vm_test: NAME and COMMAND are required")
  endif()
  if(NOT arg_NAME MATCHES "^vm\\.")
    message(FATAL_ERROR "dibs_add_vm_test(${arg_NAME}): VM test names start with 'vm.'")
  endif()
  if(NOT DEFINED arg_TIMEOUT)
    set(arg_TIMEOUT 300)
  endif()
  if(NOT arg_TIMEOUT MATCHES "^[1-9][0-9]*$")
    message(FATAL_ERROR "dibs_add_vm_test(${arg_NAME}): TIMEOUT must be a positive integer")
  endif()

  set(mod_args "")
  set(kos "")
  foreach(mod IN LISTS arg_MODULES arg_REQUIRES)
    if(NOT DEFINED DIBS_KMOD_${mod})
      message(FATAL_ERROR "dibs_add_vm_test(${arg_NAME}): unknown kernel module '${mod}' "
        "(no DIBS_KMOD_${mod}; modules are declared with dibs_add_kmod_dir)")
    endif()
    list(APPEND kos ${DIBS_KMOD_${mod}})
  endforeach()
  foreach(mod IN LISTS arg_MODULES)
    list(APPEND mod_args -m ${DIBS_KMOD_${mod}})
  endforeach()

  set(lanes "")
  if(NOT arg_DEBUG_ONLY)
    list(APPEND lanes stock)
  endif()
  if(DIBS_DEBUG_LANE AND NOT arg_STOCK_ONLY)
    list(APPEND lanes debug)
  endif()
  foreach(lane IN LISTS lanes)
    set(name ${arg_NAME})
    set(timeout ${arg_TIMEOUT})
    set(run_args --timeout ${timeout})
    set(labels vm ${arg_LABELS})
    set(lane_kos ${kos})
    set(lane_mods ${mod_args})
    set(command ${arg_COMMAND})
    if(lane STREQUAL debug)
      string(REGEX REPLACE "^vm\\." "vm-debug." name ${arg_NAME})
      math(EXPR timeout "${arg_TIMEOUT} * 3")
      set(run_args --kernel debug --timeout ${timeout})
      if(arg_KMEMLEAK)
        list(APPEND run_args --kmemleak)
      endif()
      if(arg_FAULTS)
        list(APPEND run_args --faults)
      endif()
      list(APPEND labels debug)
      foreach(v lane_kos lane_mods command)
        list(TRANSFORM ${v} REPLACE "${DIBS_KMOD_BUILD_DIR}" "${DIBS_KMOD_DEBUG_DIR}")
      endforeach()
    endif()
    set(runner ${DIBS_VM_RUN})
    if(DEFINED arg_GUESTS)
      set(runner ${DIBS_VM_GROUP} --guests ${arg_GUESTS})
      if(arg_LINK)
        list(APPEND runner --link)
      endif()
      if(DEFINED arg_HOST_CMD)
        list(APPEND runner --host-cmd ${arg_HOST_CMD})
      endif()
    endif()
    foreach(e IN LISTS arg_ENV)
      list(APPEND run_args --env ${e})
    endforeach()
    add_test(NAME ${name}
      COMMAND ${runner} ${run_args} ${lane_mods} -- ${command}
      WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
    math(EXPR ctest_timeout "${timeout} + ${DIBS_VM_BOOT_LIMIT} + 60")
    set(vms 1)
    if(DEFINED arg_GUESTS)
      set(vms ${arg_GUESTS})
    endif()
    set_tests_properties(${name} PROPERTIES
      LABELS "${labels}"
      TIMEOUT ${ctest_timeout}
      ENVIRONMENT DIBS_VM_BOOT_LIMIT=${DIBS_VM_BOOT_LIMIT}
      PROCESSORS ${vms}
      COST ${timeout})
    if(DEFINED arg_GUESTS)
      set(server ${CMAKE_BINARY_DIR}/utils/vm/ivshmem-server/dibs-ivshmem-server)
      list(APPEND lane_kos ${server})
      set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT DIBS_IVSHMEM_SERVER=${server})
    endif()
    if(lane_kos)
      set_tests_properties(${name} PROPERTIES REQUIRED_FILES "${lane_kos}")
    endif()
    if(arg_WILL_FAIL)
      set_tests_properties(${name} PROPERTIES WILL_FAIL TRUE)
    endif()
  endforeach()
endfunction()
