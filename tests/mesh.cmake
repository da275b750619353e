derp_unit_test(mesh_test SOURCES unit/mesh/mesh_peers_test.cc DEPS derp_mesh)
