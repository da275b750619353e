# relay/main: derpd's command line and configuration parsing.
derp_unit_test(options_test
  SOURCES unit/main/options_test.cc unit/main/node_metrics_test.cc unit/main/bootstrap_dns_test.cc
  DEPS derp_node)
derp_fuzzer(config_fuzz SOURCE fuzz/config_fuzz.cc DEPS derp_node)
derp_fuzzer(flags_fuzz SOURCE fuzz/flags_fuzz.cc DEPS derp_node)
