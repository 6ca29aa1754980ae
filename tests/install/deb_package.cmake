# ctest's deb_package: `cpack -G DEB` on the build tree (cmake/packaging.cmake)
# must give libtapegrad and libtapegrad-dev, each holding what it should; both
# are unpacked (`dpkg-deb -x`, what `dpkg -x` runs) into a scratch root, and
# tests/install/consumer is built against <root>/usr with find_package and with
# pkg-config, and run with the library from <root> (consumer_checks.cmake).
# Run with cmake -P and the variables of install_package.cmake, and:
#   CPACK, DPKG_DEB  the programs
#   VERSION          the project's version, which the packages must carry
cmake_minimum_required(VERSION 3.25)

set(TEST_NAME deb_package)
foreach(var BUILD_DIR WORK_DIR CPACK DPKG_DEB VERSION)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "deb_package: ${var} is not set")
  endif()
endforeach()
include(${CMAKE_CURRENT_LIST_DIR}/consumer_checks.cmake)

set(packages ${WORK_DIR}/packages)
set(root ${WORK_DIR}/root)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${packages})

run("cpack -G DEB" ${CPACK} -G DEB --config ${BUILD_DIR}/CPackConfig.cmake -C ${CONFIG} -B ${packages})

# Debian's file names: <package>_<version>_<architecture>.deb.
file(GLOB made RELATIVE ${packages} ${packages}/*.deb)
foreach(package libtapegrad libtapegrad-dev)
  file(GLOB deb_${package} ${packages}/${package}_${VERSION}_*.deb)
  list(LENGTH deb_${package} count)
  if(NOT count EQUAL 1)
    message(FATAL_ERROR "deb_package: cpack made no ${package}_${VERSION}_<arch>.deb (it made: ${made})")
  endif()
endforeach()
list(LENGTH made count)
if(NOT count EQUAL 2)
  message(FATAL_ERROR "deb_package: cpack made ${made}; expected libtapegrad and libtapegrad-dev only")
endif()

# What a package holds: its files and links (the folders left out), as
# paths without the leading "./" ("usr/lib/libtapegrad.so.0.1").
function(package_files deb out)
  execute_process(COMMAND ${DPKG_DEB} -c ${deb} OUTPUT_VARIABLE listing RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "deb_package: dpkg-deb -c ${deb} failed (${result})")
  endif()
  string(REPLACE "\n" ";" lines "${listing}")
  set(files "")
  foreach(line ${lines})
    # -rw-r--r-- root/root  1234 2026-01-01 00:00 ./usr/include/tapegrad/x.h
    # lrwxrwxrwx root/root     0 2026-01-01 00:00 ./usr/lib/libtapegrad.so -> libtapegrad.so.0.1
    if(line MATCHES "^[-l][^ ]* .* \\./([^ ]+)( -> .*)?$")
      list(APPEND files ${CMAKE_MATCH_1})
    endif()
  endforeach()
  set(${out} ${files} PARENT_SCOPE)
endfunction()

# A package field ("Depends"), as dpkg-deb -f gives it.
function(package_field deb field out)
  execute_process(COMMAND ${DPKG_DEB} -f ${deb} ${field} OUTPUT_VARIABLE value OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "deb_package: dpkg-deb -f ${deb} ${field} failed (${result})")
  endif()
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

# libtapegrad: the versioned library and its soname link, nothing else.
package_files(${deb_libtapegrad} runtime_files)
message(STATUS "deb_package: libtapegrad holds ${runtime_files}")
if(NOT runtime_files)
  message(FATAL_ERROR "deb_package: libtapegrad is empty")
endif()
foreach(file ${runtime_files})
  if(NOT file MATCHES "^usr/lib/([^/]+/)?libtapegrad\\.so\\.[0-9][0-9.]*$")
    message(FATAL_ERROR "deb_package: libtapegrad holds ${file}; only the versioned libtapegrad.so.N belongs there")
  endif()
endforeach()
package_field(${deb_libtapegrad} Depends runtime_depends)
message(STATUS "deb_package: libtapegrad depends on ${runtime_depends}")
# From dpkg-shlibdeps: at least the C library it links.
if(NOT runtime_depends MATCHES "libc6")
  message(FATAL_ERROR "deb_package: libtapegrad's Depends lacks the libraries it links: '${runtime_depends}'")
endif()

# libtapegrad-dev: the headers under usr/include/tapegrad (no internal ones),
# the CMake package, tapegrad.pc and the unversioned link; no library file.
package_files(${deb_libtapegrad-dev} dev_files)
set(want_dev "usr/include/tapegrad/tapegrad.h" "usr/lib/([^/]+/)?libtapegrad\\.so" "usr/lib/([^/]+/)?pkgconfig/tapegrad\\.pc"
    "usr/lib/([^/]+/)?cmake/tapegrad/tapegradConfig\\.cmake" "usr/lib/([^/]+/)?cmake/tapegrad/tapegradTargets\\.cmake")
foreach(want ${want_dev})
  set(found FALSE)
  foreach(file ${dev_files})
    if(file MATCHES "^${want}$")
      set(found TRUE)
    endif()
  endforeach()
  if(NOT found)
    message(FATAL_ERROR "deb_package: libtapegrad-dev holds nothing matching ${want}")
  endif()
endforeach()
string(REPLACE "," ";" internal_headers "${INTERNAL_HEADERS}")
foreach(file ${dev_files})
  if(file MATCHES "^usr/include/" AND NOT file MATCHES "^usr/include/tapegrad/.*\\.h$")
    message(FATAL_ERROR "deb_package: libtapegrad-dev holds ${file} outside usr/include/tapegrad/")
  endif()
  if(file MATCHES "libtapegrad\\.so\\.")
    message(FATAL_ERROR "deb_package: libtapegrad-dev holds ${file}, which belongs to libtapegrad")
  endif()
  foreach(header ${internal_headers})
    if(file STREQUAL "usr/include/tapegrad/${header}")
      message(FATAL_ERROR "deb_package: libtapegrad-dev holds the internal header ${header}")
    endif()
  endforeach()
endforeach()
package_field(${deb_libtapegrad-dev} Depends dev_depends)
message(STATUS "deb_package: libtapegrad-dev depends on ${dev_depends}")
foreach(want "libtapegrad (= ${VERSION})" libfmt-dev)
  string(FIND "${dev_depends}" "${want}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "deb_package: libtapegrad-dev does not depend on ${want}: '${dev_depends}'")
  endif()
endforeach()

# Both unpacked into one root, as dpkg would install them, and used from there.
foreach(deb ${deb_libtapegrad} ${deb_libtapegrad-dev})
  run("dpkg-deb -x ${deb}" ${DPKG_DEB} -x ${deb} ${root})
endforeach()
check_installed_headers(${root}/usr)
check_consumer(${root}/usr ${WORK_DIR})
