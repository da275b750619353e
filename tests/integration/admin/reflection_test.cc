// A standard gRPC client that knows nothing of derpd (only grpc.reflection.v1alpha and
// grpc.health.v1, generated from Debian's grpc-proto) lists the services and resolves the API.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <set>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/integration/admin/admin_node.h"

namespace derp::testing {
namespace {

namespace refl = ::grpc::reflection::v1alpha;

TEST(AdminReflection, StandardClientListsAndResolvesServices) {
  AdminNode node;
  auto channel = grpc::CreateChannel(node.admin(), grpc::InsecureChannelCredentials());
  auto stub = refl::ServerReflection::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = stub->ServerReflectionInfo(&ctx);

  refl::ServerReflectionRequest list;
  list.set_list_services("");
  ASSERT_TRUE(stream->Write(list));
  refl::ServerReflectionResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  std::set<std::string> services;
  for (const auto& s : resp.list_services_response().service()) services.insert(s.name());
  EXPECT_TRUE(services.count("derpd.admin.v1.Admin"));
  EXPECT_TRUE(services.count("grpc.health.v1.Health"));
  EXPECT_TRUE(services.count("grpc.reflection.v1alpha.ServerReflection"));

  // The file that defines the service, with its imports, builds a descriptor pool from scratch.
  refl::ServerReflectionRequest file;
  file.set_file_containing_symbol("derpd.admin.v1.Admin");
  ASSERT_TRUE(stream->Write(file));
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_TRUE(resp.has_file_descriptor_response()) << resp.DebugString();
  google::protobuf::DescriptorPool pool;
  std::vector<google::protobuf::FileDescriptorProto> files;
  for (const auto& bytes : resp.file_descriptor_response().file_descriptor_proto()) {
    files.emplace_back().ParseFromString(bytes);
  }
  // Dependencies first: add until everything resolves.
  for (std::size_t round = 0; round < files.size(); ++round) {
    for (const auto& f : files) {
      if (!pool.FindFileByName(f.name())) {
        bool deps_ready = true;
        for (const auto& d : f.dependency()) deps_ready = deps_ready && pool.FindFileByName(d);
        if (deps_ready) pool.BuildFile(f);
      }
    }
  }
  auto* service = pool.FindServiceByName("derpd.admin.v1.Admin");
  ASSERT_NE(service, nullptr);
  std::set<std::string> methods;
  for (int i = 0; i < service->method_count(); ++i) methods.insert(service->method(i)->name());
  for (const char* m : {"GetNodeStatus", "ListClients", "GetClient", "CloseClient", "WatchClients",
                        "GetMesh", "Drain", "Undrain"}) {
    EXPECT_TRUE(methods.count(m)) << m;
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());

  // Health: serving.
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext hctx;
  grpc::health::v1::HealthCheckRequest hreq;
  grpc::health::v1::HealthCheckResponse hresp;
  ASSERT_TRUE(health->Check(&hctx, hreq, &hresp).ok());
  EXPECT_EQ(hresp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

}  // namespace
}  // namespace derp::testing
