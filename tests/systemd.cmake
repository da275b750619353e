# relay/systemd and deploy/systemd: sd_notify as systemd sees it, and the unit files themselves.
derp_unit_test(systemd_unit_test SOURCES unit/systemd/status_line_test.cc DEPS derp_systemd)

derp_unit_test(systemd_notify_test
  SOURCES integration/systemd_notify_test.cc
  DEPS derp_test_support
  LABELS integration)
add_dependencies(systemd_notify_test derpd)

# systemd-analyze verify on deploy/systemd's units, with ExecStart pointed at the derpd just built
# (verify checks that the binary exists). Any output is a finding: verify exits 0 on warnings.
add_test(NAME systemd_units_verify
  COMMAND ${PROJECT_SOURCE_DIR}/tests/deploy/verify_systemd_units.sh $<TARGET_FILE:derpd>
          ${PROJECT_SOURCE_DIR}/deploy/systemd)
set_tests_properties(systemd_units_verify PROPERTIES LABELS deploy TIMEOUT 120)
