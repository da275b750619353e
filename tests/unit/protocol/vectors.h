// Keys and frames of protocol §12, shared by the protocol tests.
#pragma once

#include "relay/protocol/key.h"

namespace derp::testing {

inline protocol::NodePrivate server_s_private() {
  return *protocol::parse_node_private(
      "privkey:4040404040404040404040404040404040404040404040404040404040404040");
}
inline protocol::NodePrivate client_a_private() {
  return *protocol::parse_node_private(
      "privkey:4848484848484848484848484848484848484848484848484848484848484848");
}
inline protocol::NodePrivate client_b_private() {
  return *protocol::parse_node_private(
      "privkey:5050505050505050505050505050505050505050505050505050505050505050");
}
inline constexpr const char* kServerSPublic =
    "nodekey:d7b5e81d336e578b13b8d706e82d061e3038c96bce66cdcf50d566b96ddbba10";
inline constexpr const char* kClientAPublic =
    "nodekey:9177b23278cbf0f3d17c36f2acc9b55e9c85f87b220a5386ec370d663e20e337";
inline constexpr const char* kClientBPublic =
    "nodekey:ef38b4abd14b0a919cbe6839f6185b97d32607bee359c6c53c12cc7597867d59";

}  // namespace derp::testing
