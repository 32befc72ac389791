# SPDX-License-Identifier: GPL-2.0
# The smc-tools-style commands (utils/smc: smc_run, smcss, smcd) inside the VM, against smc,
# smc_diag and SMC-D over dibs (tests/vm/smc-env.sh); see tests/vm/smc-tools.sh.
# Included from tests/vm/CMakeLists.txt.

if(TARGET smcd)
  # dibs_smc_tools_test(<name> <mode>): "Not Run" until dibs_smcd.ko is built.
  function(dibs_smc_tools_test name mode)
    dibs_add_vm_test(NAME ${name} LABELS smc TIMEOUT 240
      COMMAND ${CMAKE_CURRENT_LIST_DIR}/smc-tools.sh ${DIBS_KMOD_BUILD_DIR}
              $<TARGET_FILE_DIR:smcd> ${mode})
    set_property(TEST ${name} APPEND PROPERTY REQUIRED_FILES
      ${DIBS_KMOD_BUILD_DIR}/smcd/dibs_smcd.ko)
  endfunction()

  dibs_smc_tools_test(smc.tools smcd)
  dibs_smc_tools_test(smc.tools.fallback nodev)
endif()
