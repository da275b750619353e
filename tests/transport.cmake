derp_unit_test(transport_test
  SOURCES unit/transport/port_group_test.cc unit/transport/ip_prefix_test.cc
          unit/transport/read_watch_test.cc
  DEPS derp_transport)
