# Test helpers.
#
#   roller_add_cmocka_test(NAME <name> SOURCES <file>... [LIBS <target>...]
#                          [TIMEOUT <seconds>] [LABELS <label>...])
#     Builds executable <name> linked with cmocka and LIBS, registers it with
#     ctest (working directory: the test's source dir) with a TIMEOUT (default 60 s).
#
#   roller_add_fuzzer(NAME <name> SOURCE <file> [CORPUS <dir>] [LIBS <target>...])
#     Only when ROLLER_FUZZ is ON (otherwise a no-op): builds a libFuzzer
#     executable and appends "name path-to-binary corpus-dir" to
#     ${CMAKE_BINARY_DIR}/fuzzers.txt, which tools/check reads. The aggregate
#     target `roller_fuzzers` builds them all. CORPUS is relative to the calling
#     directory's source dir; "-" in the manifest means no seed corpus.
include_guard(GLOBAL)

set(ROLLER_TEST_TIMEOUT 60 CACHE STRING "Default ctest TIMEOUT (seconds) for cmocka tests")

function(roller_add_cmocka_test)
  cmake_parse_arguments(PARSE_ARGV 0 ARG "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS")
  if(NOT ARG_NAME OR NOT ARG_SOURCES)
    message(FATAL_ERROR "roller_add_cmocka_test: NAME and SOURCES are required")
  endif()
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "roller_add_cmocka_test(${ARG_NAME}): unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT ${ROLLER_TEST_TIMEOUT})
  endif()
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE PkgConfig::CMOCKA ${ARG_LIBS})
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(${ARG_NAME} PROPERTIES TIMEOUT ${ARG_TIMEOUT})
  if(ARG_LABELS)
    set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()

# Fuzzers are collected in the global property ROLLER_FUZZ_LINES and the
# manifest is generated once, after the whole tree is configured, so the
# binary paths come from $<TARGET_FILE> and stay right wherever targets land.
set(ROLLER_FUZZ_MANIFEST "${CMAKE_BINARY_DIR}/fuzzers.txt")
if(ROLLER_FUZZ)
  if(NOT TARGET roller_fuzzers)
    add_custom_target(roller_fuzzers)
  endif()
else()
  file(REMOVE "${ROLLER_FUZZ_MANIFEST}")
endif()

function(roller_write_fuzz_manifest)
  get_property(lines GLOBAL PROPERTY ROLLER_FUZZ_LINES)
  set(content "")
  foreach(line IN LISTS lines)
    string(APPEND content "${line}\n")
  endforeach()
  file(GENERATE OUTPUT "${ROLLER_FUZZ_MANIFEST}" CONTENT "${content}")
endfunction()

if(ROLLER_FUZZ)
  get_property(deferred GLOBAL PROPERTY ROLLER_FUZZ_MANIFEST_DEFERRED)
  if(NOT deferred)
    set_property(GLOBAL PROPERTY ROLLER_FUZZ_MANIFEST_DEFERRED TRUE)
    cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL roller_write_fuzz_manifest)
  endif()
endif()

function(roller_add_fuzzer)
  cmake_parse_arguments(PARSE_ARGV 0 ARG "" "NAME;SOURCE;CORPUS" "LIBS")
  if(NOT ARG_NAME OR NOT ARG_SOURCE)
    message(FATAL_ERROR "roller_add_fuzzer: NAME and SOURCE are required")
  endif()
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "roller_add_fuzzer(${ARG_NAME}): unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ROLLER_FUZZ)
    return()
  endif()
  add_executable(${ARG_NAME} ${ARG_SOURCE})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBS})
  target_compile_options(${ARG_NAME} PRIVATE -fsanitize=fuzzer)
  target_link_options(${ARG_NAME} PRIVATE -fsanitize=fuzzer)
  add_dependencies(roller_fuzzers ${ARG_NAME})

  set(corpus "-")
  if(ARG_CORPUS)
    cmake_path(ABSOLUTE_PATH ARG_CORPUS BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}"
               NORMALIZE OUTPUT_VARIABLE corpus)
    string(REGEX REPLACE "/$" "" corpus "${corpus}")
  endif()
  set_property(GLOBAL APPEND PROPERTY ROLLER_FUZZ_LINES
               "${ARG_NAME} $<TARGET_FILE:${ARG_NAME}> ${corpus}")
endfunction()
