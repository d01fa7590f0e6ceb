# cmake -P driver of the ctest entry benchmarks_compile (tests/CMakeLists.txt): CI builds no benchmark, so this
# checks that every benchmarks/bench_*.cpp still compiles -- `-fsyntax-only`, one file after the other, with
# the benchmarks' own definitions -- and names each file that does not.
# -DCXX=compiler -DSOURCE=ferrum source dir -DINCLUDES="dir|dir..." (the dependencies') [-DEXTRA="flag|..."]
string(REPLACE "|" ";" INCLUDES "${INCLUDES}")
string(REPLACE "|" ";" EXTRA "${EXTRA}")
list(TRANSFORM INCLUDES PREPEND "-isystem")
file(GLOB sources ${SOURCE}/benchmarks/bench_*.cpp)
set(failed)
string(TIMESTAMP start "%s")
foreach(src ${sources})
  execute_process(COMMAND ${CXX} -std=c++17 -fsyntax-only -I${SOURCE}/include ${INCLUDES}
                          -DFERRUM_BENCH_DIR="${SOURCE}/benchmarks" -DFERRUM_SHARED_DATA_DIR="${SOURCE}/../shared/data"
                          ${EXTRA} ${src}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    list(APPEND failed ${src})
    message("${src} does not compile:\n${out}${err}")
  endif()
endforeach()
string(TIMESTAMP end "%s")
math(EXPR seconds "${end} - ${start}")
list(LENGTH sources n)
if(failed)
  message(FATAL_ERROR "benchmarks that do not compile: ${failed}")
endif()
message(STATUS "ferrum: the ${n} benchmarks compile (-fsyntax-only, ${CXX}, ${seconds} s)")
