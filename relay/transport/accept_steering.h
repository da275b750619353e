// Which sockets of a TCP SO_REUSEPORT group (port_group.h) the kernel hands new connections to.
// Without a program the kernel spreads connects over every listener by a hash of the 4-tuple;
// worker packing (relay/server/worker_packing.h) wants them on the workers that carry clients, so
// that a connection is not accepted and handshaken on a sleeping worker only to move afterwards.
// A classic BPF program attached to the group picks one of its first `n` sockets at random (the
// index is the order in which the sockets started listening, i.e. the worker's).
#pragma once

#include <linux/filter.h>

#include <cstddef>
#include <system_error>
#include <vector>

namespace derp::transport {

// The program: socket 0 when `first_n` is 0 or 1, else a uniformly random one of the first
// `first_n`. Pure; what steer_accepts() attaches.
std::vector<sock_filter> accept_steering_program(std::size_t first_n);

// Attaches accept_steering_program(first_n) to the group `listening_fd` belongs to; it replaces
// any program attached before and applies to the next connect. `listening_fd` must already
// listen (a TCP socket joins its group at listen()). Returns the setsockopt error, if any.
std::error_code steer_accepts(int listening_fd, std::size_t first_n);

}  // namespace derp::transport
