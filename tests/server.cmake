derp_unit_test(server_test
  SOURCES unit/server/session_test.cc unit/server/drain_controller_test.cc
          unit/server/thread_check_test.cc unit/server/registry_test.cc
  DEPS derp_server)
derp_fuzzer(session_fuzz SOURCE fuzz/session_fuzz.cc DEPS derp_server)
derp_fuzzer(http_request_fuzz SOURCE fuzz/http_request_fuzz.cc DEPS derp_http)
derp_fuzzer(websocket_fuzz SOURCE fuzz/websocket_fuzz.cc DEPS Boost::boost Threads::Threads)
derp_unit_test(http_routes_test SOURCES unit/http/routes_test.cc DEPS derp_http)
