// The node's side of --rate-config (protocol §4.7): reads the file at start (a bad file stops the
// start with the reason), re-reads it on SIGHUP (a bad file then keeps the limit in force) and
// gives every connected client a fresh bucket at the new rate, as the reference does.
#pragma once

#include <string>

#include "relay/server/server.h"

namespace derp::main {

class RateControl {
 public:
  // Throws std::runtime_error naming the file and what is wrong with it.
  RateControl(server::Server& server, std::string path);
  void reload();

 private:
  server::Server& server_;
  const std::string path_;
};

}  // namespace derp::main
