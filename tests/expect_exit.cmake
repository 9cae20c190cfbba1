# Runs CMD with ARGS (a ;-list) and fails unless it exits with EXPECT_CODE.
execute_process(COMMAND ${CMD} ${ARGS} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT code STREQUAL EXPECT_CODE)
  message(FATAL_ERROR "expected exit ${EXPECT_CODE}, got ${code}\nstdout: ${out}\nstderr: ${err}")
endif()
message(STATUS "exit ${code} as expected; stderr: ${err}")
