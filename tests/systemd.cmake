# relay/systemd: sd_notify as systemd sees it (the unit files are checked in deploy.cmake).
derp_unit_test(systemd_unit_test
  SOURCES unit/systemd/status_line_test.cc unit/systemd/socket_activation_test.cc
  DEPS derp_systemd)

derp_unit_test(systemd_notify_test
  SOURCES integration/systemd_notify_test.cc
  DEPS derp_test_support
  LABELS integration)
add_dependencies(systemd_notify_test derpd)

# Restart with the sockets kept (socket activation): the test plays systemd's part.
block()
  add_executable(socket_activation_test integration/socket_activation_test.cc)
  target_link_libraries(socket_activation_test PRIVATE derp_test_support derp_stun
                        GTest::gtest GTest::gtest_main)
  add_dependencies(socket_activation_test derpd derpctl)
  foreach(shape RestartQueuesConnectsInsteadOfRefusingThem ForComparisonRestartWithoutKeptSocketsRefuses
                AdminDrainStillRefusesConnectsAndUndrainListensAgain SocketForNoListenerStopsStartup
                UnderSystemd)
    add_test(NAME socket_activation_${shape}
             COMMAND socket_activation_test --gtest_filter=*${shape}*)
    # Serial: a port is free between a derpd's exit and the next one's start, and the dialler
    # measures waits of tens of milliseconds on two cores.
    set_tests_properties(socket_activation_${shape} PROPERTIES
      ENVIRONMENT "DERP_TESTDATA=${DERP_TESTDATA_DIR};DERP_BIN_DIR=${CMAKE_BINARY_DIR}/bin"
      LABELS integration TIMEOUT 120 RUN_SERIAL TRUE)
  endforeach()
  # Shown as skipped, not passed, on machines without systemd as PID 1.
  set_tests_properties(socket_activation_UnderSystemd PROPERTIES
    SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
endblock()
