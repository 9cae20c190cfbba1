# Run by tests/install/CMakeLists.txt (cmake -P): install, build examples/embed as an outside
# project, run it, compare. Every step's output is shown when it fails.
foreach(var BUILD_DIR PREFIX WORK SOURCE EXPECTED GENERATOR CXX)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "embed_install_test.cmake: -D${var}=… is required")
  endif()
endforeach()

function(step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} failed (${rc}):\n${out}\n${err}")
  endif()
endfunction()

file(REMOVE_RECURSE ${PREFIX} ${WORK})
step("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX})

# The one public header, and nothing internal.
file(GLOB_RECURSE headers RELATIVE ${PREFIX}/include ${PREFIX}/include/*)
if(NOT headers STREQUAL "tariff/tariff.h")
  message(FATAL_ERROR "installed headers: `${headers}` (expected only tariff/tariff.h)")
endif()

set(configure_args -S ${SOURCE} -B ${WORK} -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX}
  -DCMAKE_PREFIX_PATH=${PREFIX} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if(MAKE_PROGRAM)
  list(APPEND configure_args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
endif()
if(BUILD_TYPE)
  list(APPEND configure_args -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
endif()
step("configuring examples/embed" ${CMAKE_COMMAND} ${configure_args})
# find_package found the package just installed, not another one.
file(STRINGS ${WORK}/CMakeCache.txt tariff_dir REGEX "^tariff_DIR:")
string(FIND "${tariff_dir}" "${PREFIX}/" at)
if(NOT at GREATER -1)
  message(FATAL_ERROR "find_package(tariff) found `${tariff_dir}`, not the package in ${PREFIX}")
endif()
step("building examples/embed" ${CMAKE_COMMAND} --build ${WORK} --parallel 2)

execute_process(COMMAND ${WORK}/embed RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "embed exited ${rc}:\n${out}\n${err}")
endif()
file(READ ${EXPECTED} expected)
if(NOT out STREQUAL expected)
  message(FATAL_ERROR "embed printed:\n${out}\nexpected (${EXPECTED}):\n${expected}")
endif()
if(NOT err MATCHES "rows 6 = rated 5 \\+ rejected 1 \\+ duplicates 0")
  message(FATAL_ERROR "embed's summary on stderr is not the expected one:\n${err}")
endif()
message(STATUS "embed printed the expected invoices:\n${out}")
