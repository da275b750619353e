derp_unit_test(tls_test
  SOURCES unit/tls/tls_harness.cc unit/tls/meta_cert_test.cc unit/tls/hostname_test.cc
          unit/tls/handshake_test.cc unit/tls/cert_store_test.cc unit/tls/client_verify_test.cc
          unit/tls/tls_socket_test.cc
  DEPS derp_tls derp_tls_test_support derp_files)
