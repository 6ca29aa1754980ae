# ctest's library_exports: the dynamic symbols of a shared library holding
# the layers, read with nm. Hidden visibility must export tapegrad's API
# (what the installed headers declare, explicit template instantiations
# included) and nothing else: not the internal loop helpers, not the
# templates of the libraries used inside (nlohmann::json, fmt).
#   LIBRARY  the shared library
#   NM       the nm program
cmake_minimum_required(VERSION 3.25)
execute_process(COMMAND ${NM} -DC --defined-only ${LIBRARY} OUTPUT_VARIABLE symbols RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "library_exports: ${NM} failed on ${LIBRARY}")
endif()
string(REPLACE "\n" ";" symbols "${symbols}")
set(failed FALSE)
foreach(wanted "tg::matmul(tg::Tensor const&, tg::Tensor const&)" "tg::nn::Linear::forward(" "tg::kernel::tensor_stored<float>("
               "tg::save_checkpoint(" "tg::load_file(" "typeinfo for tg::ShapeError" "vtable for tg::nn::Module")
  string(FIND "${symbols}" "${wanted}" at)
  if(at EQUAL -1)
    message(SEND_ERROR "library_exports: ${LIBRARY} does not export ${wanted}")
    set(failed TRUE)
  endif()
endforeach()
foreach(symbol ${symbols})
  # broadcast_strides is declared in core/kernels/loop.h, an internal header.
  # A library's own symbols (nlohmann::..., fmt::...) must stay hidden; a std::
  # template instantiated over one of their types may be exported (Clang gives
  # it std's default visibility) and is harmless.
  if(symbol MATCHES "^[0-9a-f]+ [A-Za-z] (nlohmann|fmt)::|tg::kernel::broadcast_strides")
    message(SEND_ERROR "library_exports: ${LIBRARY} exports ${symbol}")
    set(failed TRUE)
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "library_exports: wrong exports (is the library built with -fvisibility=hidden and the "
                      "prelude of cmake/tapegrad_visibility.cmake?)")
endif()
