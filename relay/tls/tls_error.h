// The one exception type relay/tls throws: its message is operator-facing text.
#pragma once

#include <stdexcept>

namespace derp::tls {

class TlsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace derp::tls
