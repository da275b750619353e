derp_unit_test(limits_test
  SOURCES unit/limits/connection_limits_test.cc unit/limits/receive_rate_test.cc
  DEPS derp_limits derp_rate_text)
derp_fuzzer(rate_config_fuzz SOURCE fuzz/rate_config_fuzz.cc DEPS derp_limits derp_rate_text)
