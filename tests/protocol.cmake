derp_unit_test(protocol_test
  SOURCES unit/protocol/frame_test.cc unit/protocol/key_test.cc unit/protocol/box_test.cc
          unit/protocol/client_info_test.cc unit/protocol/real_client_test.cc
  DEPS derp_protocol)
derp_fuzzer(frame_fuzz SOURCE fuzz/frame_fuzz.cc DEPS derp_protocol)
derp_fuzzer(client_info_fuzz SOURCE fuzz/client_info_fuzz.cc DEPS derp_protocol)
