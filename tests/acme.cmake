# relay/acme: the ACME client's protocol steps, without a network (the pebble tests come with the
# client itself).
derp_unit_test(acme_unit_test
  SOURCES unit/acme/jws_test.cc unit/acme/messages_test.cc
  DEPS derp_acme)
derp_fuzzer(acme_response_fuzz SOURCE fuzz/acme_response_fuzz.cc DEPS derp_acme)
