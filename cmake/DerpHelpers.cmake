# derp_library(NAME SOURCES ... DEPS ... EXPORTED_DEPS ...): one static library per module.
# EXPORTED_DEPS are what the module's headers include (users get them too); DEPS only what its
# sources use. Headers are included by their path from the repository's root
# ("relay/server/worker.h"), which every library exports.
function(derp_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;EXPORTED_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_EXPORTED_DEPS} PRIVATE ${ARG_DEPS})
endfunction()

# derp_unit_test(NAME SOURCES ... DEPS ...): a gtest binary registered with ctest.
function(derp_unit_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES
    ENVIRONMENT "DERP_TESTDATA=${DERP_TESTDATA_DIR};DERP_BIN_DIR=${CMAKE_BINARY_DIR}/bin"
    LABELS "${ARG_LABELS}" TIMEOUT 300)
endfunction()

# derp_fuzzer(NAME SOURCE file DEPS ...): a libFuzzer target. Its seed corpus in
# tests/fuzz/corpus/NAME runs under ctest in every build: with libFuzzer when DERP_LIBFUZZER is on,
# otherwise through a small replay driver so gcc builds run it too.
function(derp_fuzzer name)
  cmake_parse_arguments(ARG "" "SOURCE" "DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCE})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  set(corpus ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${name})
  if(DERP_LIBFUZZER)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    add_test(NAME corpus_${name} COMMAND ${name} -runs=0 ${corpus})
  else()
    target_sources(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.cc)
    add_test(NAME corpus_${name} COMMAND ${name} ${corpus})
  endif()
  set_tests_properties(corpus_${name} PROPERTIES LABELS fuzz TIMEOUT 120)
endfunction()
