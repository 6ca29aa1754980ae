# The checks an installed tapegrad must pass wherever it came from, shared by
# install_package.cmake (`cmake --install` into a scratch prefix) and
# deb_package.cmake (the Debian packages unpacked into a scratch root). The
# including script sets these variables (see install_package.cmake):
#   TEST_NAME      the test, for messages
#   CONSUMER_DIR, CONFIG, GENERATOR, CXX_COMPILER, WERROR, SANITIZE,
#   LAYERS, INTERNAL_HEADERS

foreach(var TEST_NAME CONSUMER_DIR CONFIG GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "consumer_checks: ${var} is not set")
  endif()
endforeach()

function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${TEST_NAME}: ${step} failed (${result})")
  endif()
endfunction()

# The headers: one folder, <prefix>/include/tapegrad/, holding a folder per
# layer and none of the internal kernel headers.
function(check_installed_headers prefix)
  file(GLOB top RELATIVE ${prefix}/include ${prefix}/include/*)
  if(NOT top STREQUAL "tapegrad")
    message(FATAL_ERROR "${TEST_NAME}: ${prefix}/include holds ${top}; expected only tapegrad/")
  endif()
  string(REPLACE "," ";" layers "${LAYERS}")
  foreach(layer ${layers})
    file(GLOB_RECURSE headers ${prefix}/include/tapegrad/${layer}/*.h)
    if(NOT headers)
      message(FATAL_ERROR "${TEST_NAME}: no headers in include/tapegrad/${layer}/")
    endif()
  endforeach()
  string(REPLACE "," ";" internal_headers "${INTERNAL_HEADERS}")
  foreach(header ${internal_headers})
    if(EXISTS ${prefix}/include/tapegrad/${header})
      message(FATAL_ERROR "${TEST_NAME}: the internal header ${header} was installed")
    endif()
  endforeach()
endfunction()

# Configures, builds and runs consumer/ against the tapegrad installed in
# `prefix` with find_package(tapegrad), then builds and runs the same sources
# with a plain compiler line through pkg-config, in `work_dir`. A shared
# libtapegrad is loaded from the prefix (LD_LIBRARY_PATH), and ldd must say so.
function(check_consumer prefix work_dir)
  set(consumer_build ${work_dir}/consumer-build)
  file(GLOB_RECURSE pc_files ${prefix}/*/tapegrad.pc)
  file(GLOB_RECURSE shared_libs ${prefix}/*/libtapegrad.so)
  file(GLOB_RECURSE static_libs ${prefix}/*/libtapegrad.a)
  list(LENGTH pc_files pc_count)
  if(NOT pc_count EQUAL 1)
    message(FATAL_ERROR "${TEST_NAME}: expected one tapegrad.pc under ${prefix}, found '${pc_files}'")
  endif()
  set(libdir "")
  if(shared_libs)
    get_filename_component(libdir ${shared_libs} DIRECTORY)
    set(ENV{LD_LIBRARY_PATH} "${libdir}:$ENV{LD_LIBRARY_PATH}")
  elseif(NOT static_libs)
    message(FATAL_ERROR "${TEST_NAME}: no libtapegrad.so or libtapegrad.a under ${prefix}")
  endif()

  # The installed headers must compile cleanly in a user's project too.
  set(cxx_flags "-Wall -Wextra")
  if(WERROR)
    string(APPEND cxx_flags " -Werror")
  endif()
  # A library built with the sanitizers needs their runtimes at link time.
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
  check_loads_from_prefix(${program} "${libdir}")
  run("running the consumer" ${program})

  # pkg-config: the same program with a plain compiler line. tapegrad's flags
  # come before the consumer's own folder, so that a Cflags naming
  # include/tapegrad would find tapegrad's core/tensor.h for the consumer's.
  find_program(PKG_CONFIG pkg-config)
  if(NOT PKG_CONFIG)
    message(FATAL_ERROR "${TEST_NAME}: pkg-config is not installed (apt-get install pkg-config)")
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
  # Whether tg::distributed is in the library: 1 or 0.
  execute_process(COMMAND ${PKG_CONFIG} --variable=distributed tapegrad OUTPUT_VARIABLE pc_distributed
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT pc_distributed MATCHES "^[01]$")
    message(FATAL_ERROR "${TEST_NAME}: pkg-config --variable=distributed tapegrad gave '${pc_distributed}', not 0 or 1")
  endif()
  foreach(mode ${pc_modes})
    set(pc_args --cflags --libs)
    if(mode STREQUAL "static")
      list(APPEND pc_args --static)
    endif()
    execute_process(COMMAND ${PKG_CONFIG} ${pc_args} tapegrad OUTPUT_VARIABLE pc_flags OUTPUT_STRIP_TRAILING_WHITESPACE
                    RESULT_VARIABLE result)
    if(NOT result EQUAL 0)
      message(FATAL_ERROR "${TEST_NAME}: pkg-config ${pc_args} tapegrad failed (${result})")
    endif()
    message(STATUS "${TEST_NAME}: pkg-config ${pc_args} tapegrad: ${pc_flags}")
    separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
    # The headers must come from this prefix (the .pc file finds its folders
    # relative to itself: prefix=${pcfiledir}/../..).
    get_filename_component(want ${prefix}/include REALPATH)
    set(found_include FALSE)
    foreach(flag ${pc_flags})
      if(flag MATCHES "^-I(.*)")
        get_filename_component(dir "${CMAKE_MATCH_1}" REALPATH)
        if(dir STREQUAL want)
          set(found_include TRUE)
        endif()
      endif()
    endforeach()
    if(NOT found_include)
      message(FATAL_ERROR "${TEST_NAME}: pkg-config's flags do not name ${prefix}/include: ${pc_flags}")
    endif()
    set(program ${work_dir}/consumer-pkg-config-${mode})
    run("building the consumer through pkg-config (${mode})" ${CXX_COMPILER} -std=c++20 ${cxx_flag_list}
      ${CONSUMER_DIR}/main.cpp ${CONSUMER_DIR}/linear_only.cpp ${pc_flags} -I${CONSUMER_DIR} ${link_flag_list}
      -o ${program})
    check_loads_from_prefix(${program} "${libdir}")
    run("running the consumer built through pkg-config (${mode})" ${program})
  endforeach()
endfunction()

# A program linked against a shared libtapegrad must load the one in `libdir`
# (not one installed elsewhere on the machine). Nothing to check when static.
function(check_loads_from_prefix program libdir)
  if(libdir STREQUAL "")
    return()
  endif()
  find_program(LDD ldd)
  if(NOT LDD)
    return()
  endif()
  execute_process(COMMAND ${LDD} ${program} OUTPUT_VARIABLE out RESULT_VARIABLE result)
  string(REGEX MATCH "libtapegrad\\.so[^\n]*" line "${out}")
  if(NOT result EQUAL 0 OR NOT line MATCHES "=> ${libdir}/libtapegrad\\.so")
    message(FATAL_ERROR "${TEST_NAME}: ${program} does not load libtapegrad from ${libdir}: '${line}'")
  endif()
endfunction()
