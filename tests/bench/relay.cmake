# DERP relay benchmarks: derp-load, derp-idle, micro-bench. They print numbers and are
# not registered with ctest: benchmarks stay out of the test suite's pass/fail.
add_library(derp_bench_load STATIC derp_load_proc.cc derp_load_engine.cc syscall_counter.cc)
target_link_libraries(derp_bench_load PUBLIC derp_child_process derp_client derp_tls derp_tls_test_support derp_protocol
                      nlohmann_json::nlohmann_json Boost::boost Threads::Threads)

add_executable(derp-load derp_load_main.cc)
target_link_libraries(derp-load PRIVATE derp_bench_load)

add_executable(derp-idle derp_idle_main.cc)
target_link_libraries(derp-idle PRIVATE derp_bench_load)

find_package(benchmark QUIET)
if(benchmark_FOUND)
  add_executable(micro-bench micro_codec.cc micro_registry.cc)
  target_link_libraries(micro-bench PRIVATE derp_protocol derp_server benchmark::benchmark
                        benchmark::benchmark_main)
else()
  message(STATUS "Google Benchmark not found: micro-bench is not built")
endif()
