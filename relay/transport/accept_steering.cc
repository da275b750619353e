#include "relay/transport/accept_steering.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>

namespace derp::transport {

std::vector<sock_filter> accept_steering_program(std::size_t first_n) {
  if (first_n <= 1) return {BPF_STMT(BPF_RET | BPF_K, 0)};
  return {
      // A = a random 32-bit number (the kernel's prandom); the 4-tuple hash would do as well, but
      // loopback SYNs often carry none.
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<std::uint32_t>(SKF_AD_OFF + SKF_AD_RANDOM)),
      BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, static_cast<std::uint32_t>(first_n)),
      BPF_STMT(BPF_RET | BPF_A, 0),
  };
}

std::error_code steer_accepts(int listening_fd, std::size_t first_n) {
  auto program = accept_steering_program(first_n);
  sock_fprog fprog{static_cast<unsigned short>(program.size()), program.data()};
  if (::setsockopt(listening_fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog, sizeof fprog) != 0) {
    return {errno, std::system_category()};
  }
  return {};
}

}  // namespace derp::transport
