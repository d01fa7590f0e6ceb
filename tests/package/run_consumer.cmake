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

if(MODE STREQUAL "snippets")
  # Docs that compile: the build tree as a subdirectory, only the snippets' translation unit is built.
  run(${CMAKE_COMMAND} -S ${CONSUMER} -B ${WORK}/build -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release
      -DFERRUM_SOURCE_DIR=${FERRUM_SOURCE} -DCMAKE_CXX_COMPILER=${CXX} -DFERRUM_CONSUMER_SNIPPETS=ON
      -DFERRUM_DOCS_ROOT=${FERRUM_SOURCE})
  string(TIMESTAMP start "%s")
  run(${CMAKE_COMMAND} --build ${WORK}/build --target ferrum_doc_snippets)
  string(TIMESTAMP end "%s")
  math(EXPR seconds "${end} - ${start}")
  message(STATUS "ferrum: the C++ blocks of README.md and docs/*.md compiled by ${CXX} in ${seconds} s")
  return()
endif()

if(MODE STREQUAL "install")
  run(${CMAKE_COMMAND} --install ${FERRUM_BUILD} --prefix ${WORK}/prefix)
  if(NOT EXISTS ${WORK}/prefix/share/cmake/ferrum/ferrumConfig.cmake)
    message(FATAL_ERROR "install did not produce share/cmake/ferrum/ferrumConfig.cmake")
  endif()
  set(configure_args -DCMAKE_PREFIX_PATH=${WORK}/prefix -DCMAKE_CXX_COMPILER=${CXX})
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
  set(configure_args -DFERRUM_SOURCE_DIR=${FERRUM_SOURCE} -DCMAKE_CXX_COMPILER=${CXX})
endif()

if(MODE STREQUAL "install")
  list(APPEND configure_args -DFERRUM_CONSUMER_WARNINGS=ON -DFERRUM_CONSUMER_EXPECT_COMPILED=${PRECOMPILED})
endif()
run(${CMAKE_COMMAND} -S ${CONSUMER} -B ${WORK}/build -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON ${configure_args})
run(${CMAKE_COMMAND} --build ${WORK}/build)
run(${WORK}/build/consumer)

if(MODE STREQUAL "install" AND PRECOMPILED)
  # Both modes from one installed package: consumer (header-only, above) and consumer_compiled, which links
  # ferrum::ferrum_compiled. Its object file must leave fit_fourier<void> undefined (the header declared it
  # extern template, the library defines it), and the program must run.
  run(${WORK}/build/consumer_compiled)
  find_program(NM nm REQUIRED)
  file(GLOB_RECURSE object ${WORK}/build/CMakeFiles/consumer_compiled.dir/compiled.cpp.o)
  execute_process(COMMAND ${NM} -C ${object} OUTPUT_VARIABLE symbols RESULT_VARIABLE rc)
  # (nm -C prints a function template's instance with its return type first)
  if(NOT rc EQUAL 0 OR NOT symbols MATCHES " U [^\n]*ferrum::fit_fourier<void>\\("
     OR symbols MATCHES " [TWtw] [^\n]*ferrum::fit_fourier<void>\\(")
    message(FATAL_ERROR "consumer_compiled compiled fit_fourier<void> itself instead of taking it from "
                        "ferrum::ferrum_compiled (rc ${rc}):\n${symbols}")
  endif()
  message(STATUS "ferrum: the consumer built and ran against ferrum::ferrum_compiled (fit_fourier<void> external)")
endif()

if(MODE STREQUAL "install")
  # The warnings check: first prove that it tests what it says (this compiler, ferrum's headers as ordinary
  # includes, Eigen as a system header), then compile warnings.cpp; any warning is an error.
  file(READ ${WORK}/build/compile_commands.json commands)
  string(REGEX MATCH "\"command\": \"[^\"]*warnings\\.cpp\"" command "${commands}")
  foreach(want "${CXX} " "-I${WORK}/prefix/include " "-isystem " " -Werror ")
    string(FIND "${command}" "${want}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "the warnings check's compile command lacks '${want}':\n${command}")
    endif()
  endforeach()
  string(FIND "${command}" "-isystem ${WORK}/prefix/include " at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "the warnings check includes ferrum as a system header, which hides its warnings:\n${command}")
  endif()
  string(TIMESTAMP start "%s")
  run(${CMAKE_COMMAND} --build ${WORK}/build --target ferrum_warnings)
  string(TIMESTAMP end "%s")
  math(EXPR seconds "${end} - ${start}")
  message(STATUS "ferrum: warnings.cpp compiled by ${CXX} without a warning in ${seconds} s")
endif()
