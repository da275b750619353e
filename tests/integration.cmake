# Starting and stopping child processes; no test framework, so tests/bench links it too.
add_library(derp_child_process STATIC support/child_process.cc)
target_include_directories(derp_child_process PUBLIC ${PROJECT_SOURCE_DIR})
add_library(derp_test_support STATIC support/derpd_process.cc)
target_link_libraries(derp_test_support PUBLIC derp_child_process derp_client derp_tls
                      derp_tls_test_support GTest::gtest)

derp_unit_test(relay_integration_test
  SOURCES integration/relay_test.cc integration/worker_packing_test.cc
          integration/client/connect_deadline_test.cc
  DEPS derp_test_support
  LABELS integration)
add_dependencies(relay_integration_test derpd)

# Behaviour tests against real derpd processes: each file names the behaviour it proves.
foreach(t peer_gone duplicate handshake_timeout send_freeze capture_replay hostile_input
          http_endpoints flags header_flood silent_connections)
  derp_unit_test(${t}_test
    SOURCES integration/${t}_test.cc
    DEPS derp_test_support
    LABELS integration)
  add_dependencies(${t}_test derpd)
endforeach()

derp_unit_test(mesh_integration_test
  SOURCES integration/mesh_test.cc
  DEPS derp_test_support
  LABELS integration)
add_dependencies(mesh_integration_test derpd)

derp_unit_test(stun_integration_test
  SOURCES integration/stun/derpd_stun_test.cc
  DEPS derp_test_support
  LABELS "integration;stun")
add_dependencies(stun_integration_test derpd)

# A region partitioned and healed with network namespaces (root; skips otherwise).
derp_unit_test(mesh_partition_test
  SOURCES integration/mesh_partition_test.cc support/netns.cc
  DEPS derp_test_support
  LABELS integration)
add_dependencies(mesh_partition_test derpd)

# 3 nodes x 1,000 clients; reports the memory per remote route.
derp_unit_test(mesh_scale_test
  SOURCES integration/mesh_scale_test.cc
  DEPS derp_test_support
  LABELS "integration;scale")
add_dependencies(mesh_scale_test derpd)

derp_unit_test(mesh_tls_test
  SOURCES integration/mesh_tls_test.cc
  DEPS derp_test_support
  LABELS integration)
add_dependencies(mesh_tls_test derpd)

# Connection limits and the descriptor reserve (relay/limits), with derpctl.
derp_unit_test(connection_limits_test
  SOURCES integration/connection_limits_test.cc
  DEPS derp_test_support nlohmann_json::nlohmann_json
  LABELS integration)
add_dependencies(connection_limits_test derpd derpctl)
