# relay/systemd: sd_notify as systemd sees it (the unit files are checked in deploy.cmake).
derp_unit_test(systemd_unit_test SOURCES unit/systemd/status_line_test.cc DEPS derp_systemd)

derp_unit_test(systemd_notify_test
  SOURCES integration/systemd_notify_test.cc
  DEPS derp_test_support
  LABELS integration)
add_dependencies(systemd_notify_test derpd)
