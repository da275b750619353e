# relay/acme: the ACME client's protocol steps and challenge answers, without a network.
derp_unit_test(acme_unit_test
  SOURCES unit/acme/jws_test.cc unit/acme/messages_test.cc unit/acme/challenge_answers_test.cc
  DEPS derp_acme derp_acme_client)
derp_fuzzer(acme_response_fuzz SOURCE fuzz/acme_response_fuzz.cc DEPS derp_acme)
derp_fuzzer(client_hello_ext_fuzz SOURCE fuzz/client_hello_ext_fuzz.cc DEPS derp_tls)

# --certmode letsencrypt against a real ACME server (Debian's pebble) and real derpd processes.
derp_unit_test(acme_integration_test
  SOURCES integration/acme_test.cc support/pebble.cc
  DEPS derp_test_support nlohmann_json::nlohmann_json
  LABELS integration)
add_dependencies(acme_integration_test derpd derpctl)
