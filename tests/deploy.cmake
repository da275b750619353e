# deploy/: the files operators install, checked with the tools that will read them.

# systemd-analyze verify on deploy/systemd's units, with ExecStart pointed at the derpd and
# derpctl just built (verify checks that the binary exists). Any output is a finding: verify exits
# 0 on warnings.
add_test(NAME systemd_units_verify
  COMMAND ${PROJECT_SOURCE_DIR}/tests/deploy/verify_systemd_units.sh $<TARGET_FILE:derpd>
          $<TARGET_FILE:derpctl> ${PROJECT_SOURCE_DIR}/deploy/systemd)

# deploy/kubernetes without a cluster: yamllint (Debian's), then the objects, the promises the
# StatefulSet makes (preStop drain within the grace period, probes, admin socket, mesh list) and
# the ConfigMap's flags parsed by the derpd just built.
add_test(NAME kubernetes_manifests_lint
  COMMAND yamllint -s -c ${PROJECT_SOURCE_DIR}/tests/deploy/yamllint.yaml
          ${PROJECT_SOURCE_DIR}/deploy/kubernetes)
add_test(NAME kubernetes_manifests_check
  COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/deploy/check_kubernetes.py
          $<TARGET_FILE:derpd> ${PROJECT_SOURCE_DIR}/deploy/kubernetes)

set_tests_properties(systemd_units_verify kubernetes_manifests_lint kubernetes_manifests_check
  PROPERTIES LABELS deploy TIMEOUT 120)

# deploy/monitoring: promtool on derpd's /metrics (--metrics-listen), on the scrape config and on
# the alert rules; the Grafana dashboard's queries against what derpd serves; a real Prometheus
# (Debian's) scraping a real derpd.
derp_unit_test(monitoring_test
  SOURCES integration/monitoring_test.cc
  DEPS derp_test_support nlohmann_json::nlohmann_json
  LABELS integration)
target_compile_definitions(monitoring_test PRIVATE DERP_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(monitoring_test derpd)
