add_library(derp_test_support STATIC support/derpd_process.cc)
target_link_libraries(derp_test_support PUBLIC derp_client derp_tls)

derp_unit_test(relay_integration_test
  SOURCES integration/relay_test.cc
  DEPS derp_test_support
  LABELS integration)
add_dependencies(relay_integration_test derpd)
