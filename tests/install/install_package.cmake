# ctest's install_package: installs the built tree into a scratch prefix, then
# configures, builds and runs tests/install/consumer against it, so that the
# headers, the library and the CMake package are checked the way a user meets
# them. Run with cmake -P and these variables:
#   BUILD_DIR      the tapegrad build tree to install
#   CONSUMER_DIR   the consumer project's sources
#   WORK_DIR       scratch space (emptied first)
#   CONFIG         the build configuration
#   GENERATOR, CXX_COMPILER   as the tapegrad build used them
#   WERROR, SANITIZE          the tapegrad options, mirrored in the consumer
cmake_minimum_required(VERSION 3.25)

foreach(var BUILD_DIR CONSUMER_DIR WORK_DIR CONFIG GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "install_package: ${var} is not set")
  endif()
endforeach()

set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/consumer-build)
file(REMOVE_RECURSE ${WORK_DIR})

function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "install_package: ${step} failed (${result})")
  endif()
endfunction()

run("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} --config ${CONFIG})

# The installed headers must compile cleanly in a user's project too.
set(cxx_flags "-Wall -Wextra")
if(WERROR)
  string(APPEND cxx_flags " -Werror")
endif()
# A static library built with the sanitizers needs their runtimes at link time.
set(link_flags "")
if(SANITIZE)
  string(APPEND cxx_flags " -fsanitize=address,undefined -fno-omit-frame-pointer")
  set(link_flags "-fsanitize=address,undefined")
endif()

run("configuring the consumer" ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${consumer_build}
  -G ${GENERATOR}
  -DCMAKE_BUILD_TYPE=${CONFIG}
  -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
  -DCMAKE_CXX_FLAGS=${cxx_flags}
  -DCMAKE_EXE_LINKER_FLAGS=${link_flags}
  -DCMAKE_PREFIX_PATH=${prefix}
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
run("building the consumer" ${CMAKE_COMMAND} --build ${consumer_build} --config ${CONFIG})

# Single-config generators put the program at the top, multi-config ones in
# a folder per configuration.
set(program ${consumer_build}/consumer)
if(NOT EXISTS ${program})
  set(program ${consumer_build}/${CONFIG}/consumer)
endif()
run("running the consumer" ${program})
