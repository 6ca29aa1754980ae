# ctest's <area>/split_check: the entries <area>/<file> (doctest's
# --source-file=PATTERN, one per test source) and <area>/others
# (--source-file-exclude=all of them) must run each test case of PROGRAM
# exactly once. doctest matches the patterns case-insensitively against
# __FILE__, so two files differing only in case, or a comma in a file name,
# would break that; this catches it. Run with cmake -P and:
#   PROGRAM    the test binary
#   PATTERNS   the per-file patterns, separated by commas (as doctest takes them)
cmake_minimum_required(VERSION 3.25)

function(count_cases out)
  execute_process(COMMAND ${PROGRAM} --count ${ARGN}
    OUTPUT_VARIABLE output ERROR_VARIABLE output RESULT_VARIABLE result)
  if(NOT result EQUAL 0 OR NOT output MATCHES "test cases passing the current filters: ([0-9]+)")
    message(FATAL_ERROR "split_check: `${PROGRAM} --count ${ARGN}` failed (${result}):\n${output}")
  endif()
  set(${out} ${CMAKE_MATCH_1} PARENT_SCOPE)
endfunction()

count_cases(total)
set(sum 0)
string(REPLACE "," ";" pattern_list "${PATTERNS}")
foreach(pattern ${pattern_list})
  count_cases(n --source-file=${pattern})
  math(EXPR sum "${sum} + ${n}")
endforeach()
count_cases(others --source-file-exclude=${PATTERNS})
math(EXPR sum "${sum} + ${others}")
if(NOT sum EQUAL total)
  message(FATAL_ERROR "split_check: ${PROGRAM} has ${total} test cases, but its per-file ctest entries "
                      "run ${sum}: some file's pattern matches another file's test cases too")
endif()
if(others EQUAL total AND total GREATER 0)
  # Still correct (the others entry runs them all), but in one process.
  message(FATAL_ERROR "split_check: no per-file pattern matches __FILE__ of any test case of ${PROGRAM}")
endif()
message(STATUS "split_check: ${total} test cases, each in one entry (${others} outside the per-file entries)")
