# cmake -DPROGRAM=<exe> -DARGS=<a;b;...> -DEXPECT=<regex> -P run_example.cmake: runs an example and fails
# unless it exits 0 and its standard output matches EXPECT.
execute_process(COMMAND ${PROGRAM} ${ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} exited with ${rc}:\n${err}")
endif()
if(NOT out MATCHES "${EXPECT}")
  message(FATAL_ERROR "${PROGRAM}'s output does not match '${EXPECT}'")
endif()
