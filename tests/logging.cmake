derp_unit_test(logging_test SOURCES unit/logging/logging_test.cc DEPS derp_logging)
