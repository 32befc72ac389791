# SPDX-License-Identifier: GPL-2.0
# The smc-tools-style commands (utils/smc: smc_run, smcss, smcd, smc_chk) inside the VM, against smc,
# smc_diag and SMC-D over dibs (smc-env.sh); see smc-tools.sh.
# Included from tests/smc/CMakeLists.txt.

if(TARGET smcd)
  # dibs_smc_tools_test(<name> <mode>): "Not Run" until dibs_smcd.ko is built. On Debian's kernel
  # only: the tools are user space, and the kernel paths they reach run in the debug lane through
  # vm-debug.smc.* (CI's time budget; see the README).
  function(dibs_smc_tools_test name mode)
    dibs_add_vm_test(NAME ${name} LABELS smc TIMEOUT 240 REQUIRES dibs_smcd STOCK_ONLY
      COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/smc-tools.sh ${DIBS_KMOD_BUILD_DIR}
              $<TARGET_FILE_DIR:smcd> ${mode} $<TARGET_FILE:tcp_echo>)
  endfunction()

  dibs_smc_tools_test(vm.smc.tools smcd)
  dibs_smc_tools_test(vm.smc.tools.fallback nodev)
endif()
