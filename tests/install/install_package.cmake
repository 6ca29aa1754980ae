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

# The headers: one folder, include/tapegrad/, holding a folder per layer and
# none of the internal kernel headers.
file(GLOB top RELATIVE ${prefix}/include ${prefix}/include/*)
if(NOT top STREQUAL "tapegrad")
  message(FATAL_ERROR "install_package: include/ holds ${top}; expected only tapegrad/")
endif()
string(REPLACE "," ";" LAYERS "${LAYERS}")
foreach(layer ${LAYERS})
  file(GLOB_RECURSE headers ${prefix}/include/tapegrad/${layer}/*.h)
  if(NOT headers)
    message(FATAL_ERROR "install_package: no headers in include/tapegrad/${layer}/")
  endif()
endforeach()
string(REPLACE "," ";" INTERNAL_HEADERS "${INTERNAL_HEADERS}")
foreach(header ${INTERNAL_HEADERS})
  if(EXISTS ${prefix}/include/tapegrad/${header})
    message(FATAL_ERROR "install_package: the internal header ${header} was installed")
  endif()
endforeach()

file(GLOB_RECURSE pc_files ${prefix}/*/tapegrad.pc)
file(GLOB_RECURSE shared_libs ${prefix}/*/libtapegrad.so)
file(GLOB_RECURSE static_libs ${prefix}/*/libtapegrad.a)
list(LENGTH pc_files pc_count)
if(NOT pc_count EQUAL 1)
  message(FATAL_ERROR "install_package: expected one tapegrad.pc under ${prefix}, found '${pc_files}'")
endif()
if(shared_libs)
  get_filename_component(libdir ${shared_libs} DIRECTORY)
elseif(NOT static_libs)
  message(FATAL_ERROR "install_package: no libtapegrad.so or libtapegrad.a under ${prefix}")
endif()

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

# pkg-config: the same program with a plain compiler line. tapegrad's flags
# come before the consumer's own folder, so that a Cflags naming
# include/tapegrad would find tapegrad's core/tensor.h for the consumer's.
find_program(PKG_CONFIG pkg-config)
if(NOT PKG_CONFIG)
  message(FATAL_ERROR "install_package: pkg-config is not installed (apt-get install pkg-config)")
endif()
get_filename_component(pc_dir ${pc_files} DIRECTORY)
set(ENV{PKG_CONFIG_PATH} ${pc_dir})
separate_arguments(cxx_flag_list UNIX_COMMAND "${cxx_flags}")
separate_arguments(link_flag_list UNIX_COMMAND "${link_flags}")
set(pc_modes plain)
if(NOT shared_libs)
  # A static archive: `pkg-config --static` must give a complete link too.
  list(APPEND pc_modes static)
endif()
foreach(mode ${pc_modes})
  set(pc_args --cflags --libs)
  if(mode STREQUAL "static")
    list(APPEND pc_args --static)
  endif()
  execute_process(COMMAND ${PKG_CONFIG} ${pc_args} tapegrad OUTPUT_VARIABLE pc_flags OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "install_package: pkg-config ${pc_args} tapegrad failed (${result})")
  endif()
  message(STATUS "install_package: pkg-config ${pc_args} tapegrad: ${pc_flags}")
  separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
  set(program ${WORK_DIR}/consumer-pkg-config-${mode})
  run("building the consumer through pkg-config (${mode})" ${CXX_COMPILER} -std=c++20 ${cxx_flag_list}
    ${CONSUMER_DIR}/main.cpp ${CONSUMER_DIR}/linear_only.cpp ${pc_flags} -I${CONSUMER_DIR} ${link_flag_list}
    -o ${program})
  if(shared_libs)
    set(ENV{LD_LIBRARY_PATH} "${libdir}:$ENV{LD_LIBRARY_PATH}")
  endif()
  run("running the consumer built through pkg-config (${mode})" ${program})
endforeach()
