# Debian packages from the install rules: in a build tree of the shared
# library (-DBUILD_SHARED_LIBS=ON),
#   cpack -G DEB
# writes libtapegrad_<version>_<arch>.deb and libtapegrad-dev_<version>_<arch>.deb.
#   libtapegrad      the Runtime component: libtapegrad.so.<version> and its
#                    soname link, what a program linked against it needs;
#   libtapegrad-dev  the Development component: the headers, the CMake package
#                    (find_package(tapegrad)), tapegrad.pc and the
#                    libtapegrad.so link for -ltapegrad.
# The paths are those of `cmake --install` with the prefix /usr; configure with
# -DCMAKE_INSTALL_PREFIX=/usr to get Debian's multiarch folder
# (/usr/lib/<triplet>) from GNUInstallDirs, otherwise the library is in /usr/lib.
# tests/install/deb_package.cmake builds both, unpacks them and builds a
# program against them.

set(CPACK_PACKAGE_NAME tapegrad)
set(CPACK_PACKAGE_VENDOR "tapegrad")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Define-by-run autograd tensor engine for C++20")
# Debian requires a maintainer (the Maintainer field); this is the project's
# address in its commits.
set(CPACK_PACKAGE_CONTACT "tapegrad dev <dev@tapegrad>")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${CPACK_PACKAGE_CONTACT})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Stripped, as Debian ships libraries (dh_strip): the symbols a program links
# against stay (the dynamic table); the debug information goes (the sanitized
# CI tree's library: 128 MB to 100 MB, and deb_package 32 s to 25 s).
set(CPACK_STRIP_FILES ON)

# One package per install component (CMakeLists.txt puts every install rule
# in Runtime or Development), named as Debian names libraries, with Debian's
# file names (<name>_<version>_<arch>.deb).
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL Runtime Development)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libtapegrad)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME libtapegrad-dev)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
# Debian's synopsis line is CPACK_PACKAGE_DESCRIPTION_SUMMARY (CPack puts it
# first); these are the longer descriptions under it.
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
    "The shared library of tapegrad, which records the operations on tensors as\n"
    "they run and differentiates them in reverse (like PyTorch's autograd), with\n"
    "modules, optimizers, checkpoints and a profiler.")
set(CPACK_COMPONENT_DEVELOPMENT_DESCRIPTION
    "The development files of tapegrad: the headers, the CMake package for\n"
    "find_package(tapegrad), the pkg-config file tapegrad.pc and the\n"
    "libtapegrad.so link, for building programs against libtapegrad.")
string(REPLACE ";" "" CPACK_COMPONENT_RUNTIME_DESCRIPTION "${CPACK_COMPONENT_RUNTIME_DESCRIPTION}")
string(REPLACE ";" "" CPACK_COMPONENT_DEVELOPMENT_DESCRIPTION "${CPACK_COMPONENT_DEVELOPMENT_DESCRIPTION}")

# The runtime package's dependencies are what the library links (libopenblas0,
# libgomp1, libfmt9, zlib1g, libstdc++6, ...): dpkg-shlibdeps reads them from
# its DT_NEEDED entries, so they follow the build machine's packages instead
# of a list kept here by hand.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
# The library's own shlibs file, so that dpkg-shlibdeps of a package built on
# top of it names libtapegrad.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY "=")

# The -dev package needs the library of the same version, and the -dev
# packages of what the installed files ask for:
#   libfmt-dev          the headers include <fmt/format.h>; tapegradConfig.cmake
#                       calls find_dependency(fmt); tapegrad.pc Requires: fmt;
#   nlohmann-json3-dev  tapegradConfig.cmake calls find_dependency(nlohmann_json 3);
#   zlib1g-dev          tapegradConfig.cmake calls find_dependency(ZLIB), and
#                       pkg-config reads zlib.pc (Requires.private) even
#                       without --static;
#   libopenmpi-dev      find_dependency(MPI), when the distributed layer is built;
#   libomp-dev          find_dependency(OpenMP) under Clang (GCC's libgomp
#                       comes with g++ itself).
# Not OpenBLAS, SLEEF, oneDNN, Boost or libbacktrace: a shared libtapegrad links them itself
# and no installed header or file names them.
set(tapegrad_dev_depends "libtapegrad (= ${PROJECT_VERSION})" libfmt-dev nlohmann-json3-dev zlib1g-dev)
if(TAPEGRAD_WITH_MPI)
  list(APPEND tapegrad_dev_depends libopenmpi-dev)
endif()
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  list(APPEND tapegrad_dev_depends libomp-dev)
endif()
list(JOIN tapegrad_dev_depends ", " CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS)

# A static libtapegrad.a would leave the runtime package empty and need every
# private dependency's -dev package: the packages are made from shared builds
# only, and cpack says so (this file is read by cpack, not by cmake).
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_BINARY_DIR}/tapegrad_cpack_options.cmake)
file(CONFIGURE OUTPUT ${CPACK_PROJECT_CONFIG_FILE} @ONLY CONTENT
"set(TAPEGRAD_SHARED_LIBS \"@BUILD_SHARED_LIBS@\")
if(CPACK_GENERATOR STREQUAL \"DEB\" AND NOT TAPEGRAD_SHARED_LIBS)
  message(FATAL_ERROR \"tapegrad: the Debian packages hold the shared library: configure a tree with \"
                      \"-DBUILD_SHARED_LIBS=ON and run cpack -G DEB there\")
endif()
")

set(CPACK_GENERATOR DEB)
include(CPack)
