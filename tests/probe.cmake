# derpctl probe (derpctl/probe): the DERP map, the plan, derpprobe's metrics; then the whole
# command against a real two-node TLS region with faults.
derp_unit_test(probe_unit_test
  SOURCES unit/probe/derp_map_test.cc unit/probe/probe_plan_test.cc unit/probe/probe_book_test.cc
          unit/probe/probe_context_test.cc
  DEPS derp_probe)
derp_fuzzer(derp_map_fuzz SOURCE fuzz/derp_map_fuzz.cc DEPS derp_probe)

derp_unit_test(probe_test
  SOURCES integration/probe_test.cc
  DEPS derp_test_support derp_tls_test_support nlohmann_json::nlohmann_json
  LABELS integration)
target_compile_definitions(probe_test PRIVATE DERP_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(probe_test derpd derpctl)
