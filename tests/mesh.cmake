derp_unit_test(mesh_test SOURCES unit/mesh/mesh_peers_test.cc DEPS derp_mesh)
derp_unit_test(options_test SOURCES unit/main/options_test.cc DEPS derp_node)
derp_fuzzer(config_fuzz SOURCE fuzz/config_fuzz.cc DEPS derp_node)
