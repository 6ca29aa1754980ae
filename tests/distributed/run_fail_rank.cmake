# Runs fail_rank under mpirun and checks that the job ends by itself, with a
# non-zero exit and the failing rank's message. The timeout is the test:
# a rank left waiting in a collective would hang until it.
execute_process(
  COMMAND ${MPIEXEC} ${NP_FLAG} ${NP} ${MPI_FLAGS} ${PROGRAM}
  RESULT_VARIABLE status
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err
  TIMEOUT 30)
message("${out}${err}")
if(status EQUAL 0)
  message(FATAL_ERROR "expected a non-zero exit, got 0")
endif()
if(status MATCHES "timeout")
  message(FATAL_ERROR "the job did not end within 30 s")
endif()
if(NOT "${out}${err}" MATCHES "\\[rank 1\\] uncaught exception: fail_rank: rank 1 failed at step 2 on purpose")
  message(FATAL_ERROR "the failing rank's message is missing")
endif()
