# Tests of the admin API (relay/admin) and derpctl, and the drains they drive.

derp_unit_test(admin_unit_test
  SOURCES unit/admin/client_query_test.cc unit/admin/convert_test.cc unit/admin/auth_test.cc
  DEPS derp_admin)

# grpc.reflection.v1alpha and grpc.health.v1 clients generated from Debian's grpc-proto, for tests
# that must not know our own API.
set(GRPC_STD_PROTO_ROOT /usr/share/grpc-proto)
if(NOT EXISTS ${GRPC_STD_PROTO_ROOT}/grpc/reflection/v1alpha/reflection.proto)
  message(FATAL_ERROR "${GRPC_STD_PROTO_ROOT} lacks the standard gRPC protos: "
                      "apt-get install grpc-proto (scripts/install-deps.sh does)")
endif()
block()
  set(std_out ${CMAKE_CURRENT_BINARY_DIR}/grpc_std_gen)
  file(MAKE_DIRECTORY ${std_out})
  set(std_gen)
  foreach(rel grpc/reflection/v1alpha/reflection grpc/health/v1/health)
    set(gen ${std_out}/${rel}.pb.cc ${std_out}/${rel}.pb.h ${std_out}/${rel}.grpc.pb.cc
            ${std_out}/${rel}.grpc.pb.h)
    add_custom_command(
      OUTPUT ${gen}
      COMMAND protobuf::protoc --proto_path=${GRPC_STD_PROTO_ROOT} --cpp_out=${std_out}
              --grpc_out=${std_out}
              --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>
              ${GRPC_STD_PROTO_ROOT}/${rel}.proto
      DEPENDS ${GRPC_STD_PROTO_ROOT}/${rel}.proto)
    list(APPEND std_gen ${gen})
  endforeach()
  add_library(derp_grpc_std_protos STATIC ${std_gen})
  target_compile_options(derp_grpc_std_protos PRIVATE -w)
  target_include_directories(derp_grpc_std_protos SYSTEM PUBLIC ${std_out})
  target_link_libraries(derp_grpc_std_protos PUBLIC gRPC::grpc++ protobuf::libprotobuf)
endblock()

derp_unit_test(admin_integration_test
  SOURCES integration/admin/derpctl_test.cc integration/admin/auth_test.cc
          integration/admin/reflection_test.cc integration/admin/drain_test.cc
          integration/admin/region_status_test.cc integration/admin/mesh_membership_test.cc
          integration/admin/region_rollout_test.cc
  DEPS derp_test_support derp_grpc_std_protos derp_admin_proto nlohmann_json::nlohmann_json
  LABELS integration)
add_dependencies(admin_integration_test derpd derpctl)
derp_fuzzer(admin_request_fuzz SOURCE fuzz/admin_request_fuzz.cc DEPS derp_admin)

# Draining a node of a region with clients that fail over as Tailscale's do (docs/admin.md,
# "Draining a node of a region"). Each region shape is its own ctest entry.
block()
  add_executable(region_drain_test integration/admin/region_drain_test.cc)
  target_link_libraries(region_drain_test PRIVATE derp_test_support derp_grpc_std_protos
                        nlohmann_json::nlohmann_json GTest::gtest GTest::gtest_main)
  add_dependencies(region_drain_test derpd derpctl)
  foreach(shape TwoNodesPlain TwoNodesTls ThreeNodesPlainWith300Clients ThreeNodesTlsWith300Clients
                ClientsThatHonourRestartingMoveAsQuickly SigtermOnThreeNodesPlain
                SigtermOnThreeNodesPlainWith300Clients)
    add_test(NAME region_drain_${shape} COMMAND region_drain_test --gtest_filter=RegionDrain.${shape})
    # Serial: they measure gaps of tens of milliseconds on two cores, and while node 0 is
    # drained its port is free for another test's free_port() to take.
    set_tests_properties(region_drain_${shape} PROPERTIES
      ENVIRONMENT "DERP_TESTDATA=${DERP_TESTDATA_DIR};DERP_BIN_DIR=${CMAKE_BINARY_DIR}/bin"
      LABELS integration TIMEOUT 300 RUN_SERIAL TRUE)
  endforeach()
endblock()
