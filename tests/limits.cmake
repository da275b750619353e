derp_unit_test(limits_test SOURCES unit/limits/connection_limits_test.cc DEPS derp_limits)
