# cmake -P driver for the package tests (see CMakeLists.txt beside this file).
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()

if(MODE STREQUAL "install")
  run(${CMAKE_COMMAND} --install ${FERRUM_BUILD} --prefix ${WORK}/prefix)
  if(NOT EXISTS ${WORK}/prefix/share/cmake/ferrum/ferrumConfig.cmake)
    message(FATAL_ERROR "install did not produce share/cmake/ferrum/ferrumConfig.cmake")
  endif()
  set(configure_args -DCMAKE_PREFIX_PATH=${WORK}/prefix)
  # a consumer configured without a build type is warned that ferrum code would run unoptimised
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${CONSUMER} -B ${WORK}/build-noopt -G ${GENERATOR} ${configure_args}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT err MATCHES "CMAKE_BUILD_TYPE is not set")
    message(FATAL_ERROR "configuring without CMAKE_BUILD_TYPE should warn (rc ${rc}):\n${out}\n${err}")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${CONSUMER} -B ${WORK}/build-quiet -G ${GENERATOR} ${configure_args}
                          -DCMAKE_BUILD_TYPE=Release RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR err MATCHES "CMAKE_BUILD_TYPE is not set")
    message(FATAL_ERROR "a Release consumer must not be warned (rc ${rc}):\n${err}")
  endif()
else()
  set(configure_args -DFERRUM_SOURCE_DIR=${FERRUM_SOURCE})
endif()

run(${CMAKE_COMMAND} -S ${CONSUMER} -B ${WORK}/build -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release ${configure_args})
run(${CMAKE_COMMAND} --build ${WORK}/build)
run(${WORK}/build/consumer)
