add_executable(stun-load stun_load.cc)
target_link_libraries(stun-load PRIVATE derp_stun)
