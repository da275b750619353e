// Who may call the admin API. The unix socket is guarded by its file mode (0660); a TCP listener
// needs a bearer token or a verified client certificate (mTLS), and derpd refuses to open one
// without either. The token is never logged.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <memory>

#include <string>
#include <string_view>

#include "relay/admin/auth_failures.h"

namespace derp::admin {

// Reads a token file: the first line, surrounding whitespace removed. Throws std::runtime_error
// naming the file and what to do (missing, unreadable, empty, shorter than 16 characters).
std::string read_token_file(const std::string& path);

// Constant-time in the token's content and length (both sides are hashed first).
bool token_matches(std::string_view presented, std::string_view expected);

struct AuthPolicy {
  std::string token;  // "" when no token is configured
  bool mtls = false;  // the TCP listener verifies client certificates
  // Failed attempts per peer (shared by every call); null turns the lockout off.
  std::shared_ptr<AuthFailures> failures = std::make_shared<AuthFailures>();
};

// OK for unix-socket peers, verified mTLS peers and a matching "authorization: Bearer <token>";
// UNAUTHENTICATED otherwise, with what to send. Failures are logged (one line per peer per 10 s)
// and a peer that keeps failing is locked out for a while (auth_failures.h).
grpc::Status authorize(const grpc::ServerContext& context, const AuthPolicy& policy);

}  // namespace derp::admin
