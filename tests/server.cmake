derp_unit_test(server_test
  SOURCES unit/server/session_test.cc unit/server/drain_controller_test.cc
          unit/server/thread_check_test.cc unit/server/registry_test.cc
          unit/server/ask_workers_test.cc unit/server/worker_test.cc
          unit/server/packet_pool_test.cc unit/server/worker_packing_test.cc
  DEPS derp_server)
derp_fuzzer(session_fuzz SOURCE fuzz/session_fuzz.cc DEPS derp_server)
