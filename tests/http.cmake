# relay/http: routing of requests, the HTTP and WebSocket parsers under fuzzing.
derp_unit_test(http_routes_test SOURCES unit/http/routes_test.cc unit/http/header_scan_test.cc
  unit/http/peer_address_test.cc
  DEPS derp_http)
derp_fuzzer(http_request_fuzz SOURCE fuzz/http_request_fuzz.cc DEPS derp_http)
derp_fuzzer(websocket_fuzz SOURCE fuzz/websocket_fuzz.cc DEPS Boost::boost Threads::Threads)
