# tapegrad.pc, for builds without CMake (Makefiles, a one-line g++ command):
#   g++ -std=c++20 main.cpp $(pkg-config --cflags --libs tapegrad)
# Paths are relative to the .pc file itself, so `cmake --install --prefix`
# anywhere gives a working file.

# fmt is public: the headers include it. OpenBLAS, SLEEF, oneDNN and OpenMP are linked by
# their library files here, not by name through pkg-config, so that the
# variant this build used (Debian's OpenMP OpenBLAS) is the one users get.
set(pc_requires fmt)
set(pc_requires_private zlib)
set(pc_libs_private "")
set(pc_library_files ${OpenBLAS_LIBRARIES} ${TAPEGRAD_SLEEF_LIBRARY})
if(TAPEGRAD_WITH_DNNL)
  list(APPEND pc_library_files ${TAPEGRAD_DNNL_LIBRARY})
endif()
foreach(lib ${pc_library_files})
  get_filename_component(dir ${lib} DIRECTORY)
  get_filename_component(name ${lib} NAME_WE)
  string(REGEX REPLACE "^lib" "" name ${name})
  list(APPEND pc_libs_private -L${dir} -l${name})
endforeach()
foreach(name ${OpenMP_CXX_LIB_NAMES})
  # The compiler's own folders (GCC's libgomp) need no -L; Clang's libomp does.
  if(OpenMP_${name}_LIBRARY AND NOT OpenMP_${name}_LIBRARY MATCHES "\\.a$")
    get_filename_component(dir ${OpenMP_${name}_LIBRARY} DIRECTORY)
    get_filename_component(dir ${dir} REALPATH)
    set(implicit "")
    foreach(d ${CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES})
      get_filename_component(d ${d} REALPATH)
      list(APPEND implicit ${d})
    endforeach()
    if(NOT dir IN_LIST implicit)
      list(APPEND pc_libs_private -L${dir})
    endif()
  endif()
  list(APPEND pc_libs_private -l${name})
endforeach()
if(TAPEGRAD_WITH_MPI)
  foreach(lib ${MPI_CXX_LIBRARIES})
    get_filename_component(dir ${lib} DIRECTORY)
    get_filename_component(name ${lib} NAME_WE)
    string(REGEX REPLACE "^lib" "" name ${name})
    list(APPEND pc_libs_private -L${dir} -l${name})
  endforeach()
endif()
# Anomaly mode's symbolised backtraces (GCC's libbacktrace, dl).
foreach(name ${TAPEGRAD_STACKTRACE_LIBS})
  list(APPEND pc_libs_private -l${name})
endforeach()
list(REMOVE_DUPLICATES pc_libs_private)

set(pc_libs "-L\${libdir} -ltapegrad")
if(NOT BUILD_SHARED_LIBS)
  # A static archive carries none of its dependencies, so every link needs
  # them, with or without --static: they go in Libs and Requires. (A shared
  # libtapegrad has them as its own DT_NEEDED entries: private.)
  list(APPEND pc_requires ${pc_requires_private})
  set(pc_requires_private "")
  list(JOIN pc_libs_private " " private)
  string(APPEND pc_libs " ${private}")
  set(pc_libs_private "")
endif()
list(JOIN pc_requires " " pc_requires)
list(JOIN pc_requires_private " " pc_requires_private)
list(JOIN pc_libs_private " " pc_libs_private)
set(pc_private "")
if(pc_requires_private)
  string(APPEND pc_private "Requires.private: ${pc_requires_private}\n")
endif()
if(pc_libs_private)
  string(APPEND pc_private "Libs.private: ${pc_libs_private}\n")
endif()

if(IS_ABSOLUTE ${CMAKE_INSTALL_LIBDIR} OR IS_ABSOLUTE ${CMAKE_INSTALL_INCLUDEDIR})
  # Absolute folders cannot move with the prefix: name them as they are.
  set(pc_prefix ${CMAKE_INSTALL_PREFIX})
  set(pc_libdir ${CMAKE_INSTALL_FULL_LIBDIR})
  set(pc_includedir ${CMAKE_INSTALL_FULL_INCLUDEDIR})
else()
  file(RELATIVE_PATH pc_to_prefix /root/${CMAKE_INSTALL_LIBDIR}/pkgconfig /root)
  string(REGEX REPLACE "/$" "" pc_to_prefix ${pc_to_prefix})
  set(pc_prefix "\${pcfiledir}/${pc_to_prefix}")
  set(pc_libdir "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(pc_includedir "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
# `pkg-config --variable=distributed tapegrad`: 1 where tg::distributed
# (over MPI) is in the library, 0 where it was built without MPI.
if(TAPEGRAD_WITH_MPI)
  set(pc_distributed 1)
else()
  set(pc_distributed 0)
endif()
file(CONFIGURE OUTPUT ${PROJECT_BINARY_DIR}/tapegrad.pc @ONLY CONTENT
"prefix=@pc_prefix@
libdir=@pc_libdir@
includedir=@pc_includedir@
distributed=@pc_distributed@

Name: tapegrad
Description: Define-by-run autograd tensor engine for C++20
Version: @PROJECT_VERSION@
Requires: @pc_requires@
Cflags: -I\${includedir}
Libs: @pc_libs@
@pc_private@")
install(FILES ${PROJECT_BINARY_DIR}/tapegrad.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT Development)
