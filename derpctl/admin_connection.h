// A connection to one node's admin API: the channel (unix socket, TCP, TLS), the bearer token on
// every call, and gRPC errors turned into text that says what to do.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "derpctl/command.h"
#include "derpd/admin/v1/admin.grpc.pb.h"

namespace derpctl {

namespace pb = ::derpd::admin::v1;

class AdminConnection {
 public:
  // `address`: "unix:PATH", "unix://PATH", "HOST:PORT". Checks a unix socket at once so the
  // error can name the cause (missing, permission, nobody listening). Throws CommandError.
  AdminConnection(const Globals& g, std::string address);

  pb::Admin::Stub& stub() { return *stub_; }
  const std::string& address() const { return address_; }
  // A context with the token and, for unary calls, the deadline.
  std::unique_ptr<grpc::ClientContext> context(bool streaming = false) const;
  // Throws CommandError when `s` is not OK, with advice for the common codes.
  void check(const grpc::Status& s, const std::string& what) const;
  std::string describe_error(const grpc::Status& s, const std::string& what) const;

 private:
  const Globals& globals_;
  std::string address_;
  std::string socket_path_;  // unix sockets only
  std::string token_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Admin::Stub> stub_;
};

}  // namespace derpctl
