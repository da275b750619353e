// The node's gRPC health status (grpc.health.v1, overall service), as a load balancer asks for it.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "grpc/health/v1/health.grpc.pb.h"

namespace derp::testing {

// `admin` is a gRPC target ("unix:/path/admin.sock"). A failed call fails the test.
inline grpc::health::v1::HealthCheckResponse::ServingStatus health_of(const std::string& admin) {
  auto channel = grpc::CreateChannel(admin, grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckResponse resp;
  auto s = stub->Check(&ctx, {}, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.status();
}

}  // namespace derp::testing
