# SPDX-License-Identifier: GPL-2.0
#
# Self-tests of the VM runner utils/vm-run (include()d by tests/vm/CMakeLists.txt after
# cmake/VmTest.cmake). The passing cases use dibs_add_vm_test; the failure modes run
# vm-run under tests/vm/expect-status, which asserts the exit status and messages, so
# they are ordinary passing tests. Those keep their run files (console.log, dmesg.log,
# ...) in <build>/tests/vm/runner/<test>.

set(_vm_expect ${CMAKE_CURRENT_LIST_DIR}/expect-status)

# dibs_vm_runner_test(<name> <vm timeout> <expect-status args> -- <vm-run args>)
function(dibs_vm_runner_test name timeout)
  set(test vm.runner.${name})
  set(args ${ARGN})
  list(FIND args -- sep)
  list(SUBLIST args 0 ${sep} expect_args)
  math(EXPR sep "${sep} + 1")
  list(SUBLIST args ${sep} -1 run_args)
  add_test(NAME ${test}
    COMMAND ${_vm_expect} ${expect_args} -- ${DIBS_VM_RUN} --timeout ${timeout}
            --keep ${CMAKE_CURRENT_BINARY_DIR}/runner/${name} ${run_args}
    WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
  math(EXPR ctest_timeout "${timeout} + 60")
  set_tests_properties(${test} PROPERTIES LABELS vm TIMEOUT ${ctest_timeout} RUN_SERIAL TRUE)
endfunction()

# The VM boots and a command succeeds.
dibs_add_vm_test(NAME vm.runner.true TIMEOUT 120 COMMAND true)

# The command's exit status is vm-run's.
dibs_vm_runner_test(exit_status 120 3 --stderr "vm-run: exit 3" -- -- sh -c "exit 3")

# stdout+stderr of the command, and nothing else, reach vm-run's stdout; the guest
# environment, cwd and stdin are as documented. (No ';' in CMake arguments: newlines.)
dibs_vm_runner_test(output 120 0
  --exact-stdout "out-42\nerr-42\n/root|dumb|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|a b|${CMAKE_BINARY_DIR}\neof\n"
  -- -e "DIBS_T=a b" --
  sh -c "echo out-$((6*7))\necho err-$((6*7)) >&2\necho \"$HOME|$TERM|$PATH|$DIBS_T|$PWD\"\nif read -r x\nthen echo stdin\nelse echo eof\nfi")

# A hung command: the VM is killed, exit 124.
dibs_vm_runner_test(timeout 20 124 --stderr "vm-run: timeout: VM killed after 20 s" -- -- sleep 1000)

# A kernel panic ends the VM at once and is reported (panic=-1, -no-reboot).
dibs_vm_runner_test(panic 120 125
  --stderr "VM exited without a command status" --stderr "Kernel panic - not syncing"
  -- -- sh -c "echo 1 > /proc/sys/kernel/sysrq && echo c > /proc/sysrq-trigger && sleep 100")

# A warning in the kernel log fails a successful command (125) and is printed.
dibs_vm_runner_test(dmesg_warning 120 125 --stderr "WARNING: synthetic-42"
  -- -- sh -c "echo \"WARNING: synthetic-$((6*7))\" > /dev/kmsg")

# modprobe works in the guest, and so does the kernel's own module auto-loading: rxe
# gets crc32 through /sbin/modprobe when the link is added.
dibs_add_vm_test(NAME vm.runner.modprobe TIMEOUT 180 COMMAND sh -c
  "modprobe rdma_rxe && rdma link add rxe0 type rxe netdev lo && ls /sys/class/infiniband && test -e /sys/class/infiniband/rxe0")

# -m: modules from the kernel tree stand in for ours (no build needed).
execute_process(COMMAND ${CMAKE_CURRENT_LIST_DIR}/../../utils/fetch-kernel --print modules
  OUTPUT_VARIABLE _vm_kmods OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _vm_rc
  ERROR_QUIET)
if(_vm_rc EQUAL 0 AND EXISTS ${_vm_kmods}/kernel/drivers/net/dummy.ko)
  dibs_vm_runner_test(insmod 120 0 --stdout "dummy-loaded"
    -- -m ${_vm_kmods}/kernel/drivers/net/dummy.ko
    -- sh -c "test -d /sys/module/dummy && echo dummy-loaded")
  # rdma_rxe without its dependencies: unknown symbols, the run fails naming the module.
  dibs_vm_runner_test(insmod_fail 120 125 --stderr "rdma_rxe.ko failed" --stderr "Unknown symbol"
    -- -m ${_vm_kmods}/kernel/drivers/infiniband/sw/rxe/rdma_rxe.ko -- true)
else()
  message(STATUS "vm.runner.insmod*: no kernel module tree (utils/fetch-kernel): skipped")
endif()
