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
#   LAYERS, INTERNAL_HEADERS  comma-separated: the layer folders, and the
#                             headers that must not be installed
# The checks themselves are in consumer_checks.cmake (deb_package.cmake runs
# them on the Debian packages).
cmake_minimum_required(VERSION 3.25)

set(TEST_NAME install_package)
foreach(var BUILD_DIR WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "install_package: ${var} is not set")
  endif()
endforeach()
include(${CMAKE_CURRENT_LIST_DIR}/consumer_checks.cmake)

set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})

run("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} --config ${CONFIG})
check_installed_headers(${prefix})
check_consumer(${prefix} ${WORK_DIR})
