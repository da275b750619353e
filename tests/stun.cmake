derp_unit_test(stun_codec_test
  SOURCES unit/stun/binding_codec_test.cc unit/stun/stun_metrics_test.cc
  DEPS derp_stun
  LABELS stun)
derp_unit_test(stun_server_test
  SOURCES unit/stun/stun_server_test.cc unit/stun/coturn_client_test.cc
  DEPS derp_stun
  LABELS stun)
derp_fuzzer(stun_parse_fuzz SOURCE fuzz/stun_parse_fuzz.cc DEPS derp_stun)
