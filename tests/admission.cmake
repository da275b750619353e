# relay/admission: the checks' wire formats, a fuzz target for the answers, and the whole thing
# end to end with a real controller and a LocalAPI stand-in (Python helpers beside the test);
# per-client receive limits end to end (rate_limit_test.cc) in the same binary.
derp_unit_test(admission_unit_test
  SOURCES unit/admission/controller_protocol_test.cc unit/admission/admit_list_test.cc
  DEPS derp_admission_protocol nlohmann_json::nlohmann_json)
derp_fuzzer(controller_answer_fuzz SOURCE fuzz/controller_answer_fuzz.cc DEPS derp_admission_protocol)
derp_fuzzer(admit_file_fuzz SOURCE fuzz/admit_file_fuzz.cc DEPS derp_admission_protocol)

derp_unit_test(admission_test
  SOURCES integration/admission_test.cc integration/rate_limit_test.cc
  DEPS derp_test_support derp_tls_test_support nlohmann_json::nlohmann_json
  LABELS integration)
target_compile_definitions(admission_test PRIVATE DERP_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(admission_test derpd derpctl)
