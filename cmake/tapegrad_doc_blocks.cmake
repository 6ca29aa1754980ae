# The C++ code blocks of a Markdown file as one translation unit, so that the
# test suite compiles every example the documentation shows (and runs the whole
# programs) and the docs cannot rot. The conventions are in docs/README.md.
#
# tapegrad_doc_blocks(MARKDOWN OUT_CPP NAME PROGRAMS_VAR [WITH_MPI])
#   MARKDOWN     the .md file to read
#   OUT_CPP      the .cpp file to write (rewritten only when its text changes)
#   NAME         a C identifier for this file (namespaces doc_<NAME>_<n>)
#   PROGRAMS_VAR set in the caller's scope to the block numbers that are whole
#                programs (ctest runs those; the others are compiled only),
#                and PROGRAMS_VAR_blocks to the number of C++ blocks
#   WITH_MPI     blocks marked `mpi` are compiled too (else left out)
#
# The text is handled as one string, never as a CMake list: C++ is full of
# `;` and `[`, which lists would split on or swallow.
function(tapegrad_doc_blocks markdown out_cpp name programs_var)
  cmake_parse_arguments(PARSE_ARGV 4 arg "WITH_MPI" "" "")
  file(READ ${markdown} text)
  string(REPLACE "\r\n" "\n" text "${text}")
  set(includes "#include <tapegrad/tapegrad.h>\n")
  set(body "")
  set(programs "")
  set(n 0)
  # `rest` is what is left to read; `base` the line (of the .md) it starts
  # on, for the #line directives that make compile errors point at the docs.
  set(rest "\n${text}")
  set(base 0)
  set(visible "")
  while(1)
    # A fence opens at the start of a line, possibly indented (inside a list).
    string(REGEX MATCH "\n[ ]*```(cpp|c\\+\\+)[ ]*\n" fence "${rest}")
    if(NOT fence)
      break()
    endif()
    string(FIND "${rest}" "${fence}" at)
    string(SUBSTRING "${rest}" 0 ${at} before)
    string(LENGTH "${fence}" fence_length)
    math(EXPR start "${at} + ${fence_length}")
    string(SUBSTRING "${rest}" ${start} -1 rest)
    string(REGEX MATCHALL "\n" newlines "${before}")
    list(LENGTH newlines count)
    math(EXPR base "${base} + ${count} + 2")
    set(first_line ${base})
    string(REGEX MATCH "\n[ ]*```[ ]*(\n|$)" close "${rest}")
    if(NOT close)
      message(FATAL_ERROR "${markdown}: a ```cpp block is never closed")
    endif()
    string(FIND "${rest}" "${close}" end)
    string(SUBSTRING "${rest}" 0 ${end} block)
    string(SUBSTRING "${rest}" ${end} -1 rest)
    string(REGEX MATCHALL "\n" newlines "${block}")
    list(LENGTH newlines count)
    math(EXPR base "${base} + ${count}")
    math(EXPR n "${n} + 1")

    # The marker: an HTML comment ending on the line right before the fence.
    # (The setup code in it may hold `>`, so no [^>]* here.)
    set(kind "")
    set(setup "")
    string(FIND "${before}" "<!-- doc-test:" marker REVERSE)
    if(NOT marker EQUAL -1)
      string(SUBSTRING "${before}" ${marker} -1 comment)
      string(STRIP "${comment}" comment)
      string(FIND "${comment}" "-->" comment_end)
      string(LENGTH "${comment}" comment_length)
      math(EXPR comment_length "${comment_length} - 3")
      if(comment_end EQUAL comment_length AND comment MATCHES "^<!-- doc-test: ([a-z-]+)(.*)-->$")
        set(kind "${CMAKE_MATCH_1}")
        set(setup "${CMAKE_MATCH_2}")
      endif()
    endif()
    if(kind STREQUAL "skip" OR (kind STREQUAL "mpi" AND NOT arg_WITH_MPI))
      string(APPEND body "// block ${n}: ${kind}, not compiled\n\n")
      continue()
    endif()
    if(kind AND NOT kind MATCHES "^(skip|mpi|top-level|setup)$")
      message(FATAL_ERROR "${markdown}: block ${n} has an unknown marker `doc-test: ${kind}` "
                          "(known: skip, mpi, top-level, setup; see docs/README.md)")
    endif()

    # #include lines (of the setup code too) go to the top of the file,
    # outside every namespace.
    string(REGEX MATCHALL "(^|\n)[ ]*#include[^\n]*" block_includes "${setup}\n${block}")
    foreach(line ${block_includes})
      string(STRIP "${line}" line)
      string(FIND "${includes}" "${line}\n" seen)
      if(seen EQUAL -1)
        string(APPEND includes "${line}\n")
      endif()
    endforeach()
    string(REGEX REPLACE "(^|\n)[ ]*#include[^\n]*" "\\1" block "${block}")
    string(REGEX REPLACE "(^|\n)[ ]*#include[^\n]*" "\\1" setup "${setup}")

    set(ns doc_${name}_${n})
    string(APPEND body "// ---- block ${n} of ${markdown}\nnamespace ${ns} {\n${visible}")
    set(at_line "#line ${first_line} \"${markdown}\"\n")
    if(block MATCHES "(^|\n)int main\\(([^)]*)\\)")
      # A whole program. Its main is renamed (the driver calls it by name) and,
      # as a main that is not the global one has no implicit `return 0`, gets
      # one before the closing brace of the block, which must be main's.
      set(params "${CMAKE_MATCH_2}")
      string(REGEX REPLACE "(^|\n)int main\\(" "\\1int doc_main(" block "${block}")
      string(FIND "${block}" "}" last REVERSE)
      string(SUBSTRING "${block}" 0 ${last} head)
      string(SUBSTRING "${block}" ${last} -1 tail)
      string(APPEND body "${at_line}${head}  return 0;\n${tail}\n")
      if(params MATCHES "^[ ]*(void)?[ ]*$")
        string(APPEND body "int run(int, char**) { return doc_main(); }\n")
      else()
        string(APPEND body "int run(int argc, char** argv) { return doc_main(argc, argv); }\n")
      endif()
      list(APPEND programs ${n})
    elseif(kind STREQUAL "top-level")
      string(APPEND body "${at_line}${block}\n")
      # What it declares is seen by every later block of the file (a block's
      # own declaration of the same name hides it).
      string(APPEND visible "using namespace ${ns};\n")
    else()
      # A fragment: statements (and local classes) in a function body, after
      # the code of a `setup` marker, which the reader does not see.
      string(APPEND body "void fragment() {\n${setup}\n${at_line}${block}\n}\n")
    endif()
    string(APPEND body "}  // namespace ${ns}\n\n")
  endwhile()

  set(content "// Generated from ${markdown} by cmake/tapegrad_doc_blocks.cmake: do not edit.\n")
  string(APPEND content "${includes}\n${body}")
  file(WRITE ${out_cpp}.new "${content}")
  configure_file(${out_cpp}.new ${out_cpp} COPYONLY)
  set(${programs_var} ${programs} PARENT_SCOPE)
  set(${programs_var}_blocks ${n} PARENT_SCOPE)
endfunction()
