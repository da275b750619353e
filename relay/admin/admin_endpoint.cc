#include "relay/admin/admin_endpoint.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "relay/admin/admin_service.h"

namespace derp::admin {
namespace {

namespace fs = std::filesystem;

std::string read_pem(const std::string& path, const char* flag) {
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error(std::string(flag) + " " + path + ": cannot read it (" +
                             std::strerror(errno) + ")");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// True when a process accepts connections on the unix socket at `path`.
bool socket_is_live(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return live;
}

// Creates the socket's folder and clears a stale socket; throws with what to do.
void prepare_socket_path(const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    throw std::runtime_error("admin socket " + path + ": path longer than " +
                             std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                             " bytes; choose a shorter --admin-socket");
  }
  fs::path dir = fs::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) {
      throw std::runtime_error("admin socket " + path + ": cannot create folder " + dir.string() +
                               ": " + ec.message() +
                               " — run as root, or pass --admin-socket in a folder you own");
    }
    fs::permissions(dir,
                    fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                        fs::perms::others_read | fs::perms::others_exec,
                    ec);
  }
  if (::access(dir.empty() ? "." : dir.c_str(), W_OK | X_OK) != 0) {
    throw std::runtime_error("admin socket " + path + ": folder " + dir.string() +
                             " is not writable (" + std::strerror(errno) +
                             ") — run as root, or pass --admin-socket in a folder you own");
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      throw std::runtime_error("admin socket " + path +
                               ": a file that is not a socket is in the way; remove it or pass "
                               "another --admin-socket");
    }
    if (socket_is_live(path)) {
      throw std::runtime_error("admin socket " + path +
                               " is in use by another process (another derpd?); stop it or pass "
                               "another --admin-socket");
    }
    ::unlink(path.c_str());  // left behind by a derpd that did not stop cleanly
  }
}

}  // namespace

AdminEndpoint::AdminEndpoint(AdminEndpointConfig config, server::Server& server, NodeFacts facts,
                             server::DrainController& drain)
    : config_(std::move(config)), drain_(drain) {
  validate_tcp_auth(config_);
  if (config_.socket_path.empty() && config_.tcp_listen.empty()) {
    throw std::runtime_error("the admin API needs --admin-socket or --admin-listen");
  }
  if (!config_.socket_path.empty()) {
    config_.socket_path = fs::absolute(config_.socket_path).lexically_normal().string();
    prepare_socket_path(config_.socket_path);
  }

  AuthPolicy auth;
  auth.token = config_.token;
  auth.mtls = !config_.tls_client_ca_file.empty();
  if (!config_.socket_path.empty()) {
    facts.listeners.push_back({"admin", "unix:" + config_.socket_path});
  }
  service_ = std::make_unique<AdminService>(server, drain_, facts, auth);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.RegisterService(service_.get());
  if (!config_.socket_path.empty()) {
    builder.AddListeningPort("unix:" + config_.socket_path, grpc::InsecureServerCredentials());
  }
  int tcp_port = 0;
  if (!config_.tcp_listen.empty()) {
    std::shared_ptr<grpc::ServerCredentials> creds;
    if (!config_.tls_cert_file.empty()) {
      grpc::SslServerCredentialsOptions ssl(
          config_.tls_client_ca_file.empty()
              ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
              : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
      if (!config_.tls_client_ca_file.empty()) {
        ssl.pem_root_certs = read_pem(config_.tls_client_ca_file, "--admin-tls-client-ca");
      }
      ssl.pem_key_cert_pairs.push_back({read_pem(config_.tls_key_file, "--admin-tls-key"),
                                        read_pem(config_.tls_cert_file, "--admin-tls-cert")});
      creds = grpc::SslServerCredentials(ssl);
    } else {
      creds = grpc::InsecureServerCredentials();
      spdlog::warn(
          "admin API on TCP {} without TLS: the bearer token travels in clear text; "
          "bind it to a private address or add --admin-tls-cert/--admin-tls-key",
          config_.tcp_listen);
    }
    builder.AddListeningPort(config_.tcp_listen, creds, &tcp_port);
  }
  // gRPC creates the unix socket inside BuildAndStart with the process umask: without a
  // restrictive one, the socket would be open to every local user until the chmod below.
  const mode_t previous_umask = ::umask(0117);
  grpc_server_ = builder.BuildAndStart();
  ::umask(previous_umask);
  if (!grpc_server_ || (!config_.tcp_listen.empty() && tcp_port == 0)) {
    std::string what =
        config_.tcp_listen.empty() ? "unix:" + config_.socket_path : config_.tcp_listen;
    grpc_server_.reset();
    throw std::runtime_error("admin API: cannot listen on " + what +
                             " (address in use, or not an address of this host?)");
  }
  if (!config_.socket_path.empty()) {
    if (::chmod(config_.socket_path.c_str(), 0660) != 0) {
      const std::string error = std::strerror(errno);
      grpc_server_->Shutdown();
      grpc_server_.reset();
      throw std::runtime_error("admin API: cannot set mode 0660 on " + config_.socket_path + ": " +
                               error);
    }
    addresses_.push_back("unix:" + config_.socket_path);
  }
  if (!config_.tcp_listen.empty()) {
    auto colon = config_.tcp_listen.rfind(':');
    addresses_.push_back(config_.tcp_listen.substr(0, colon) + ":" + std::to_string(tcp_port));
  }
  // Health follows the drain: not serving from the moment a drain starts until undrained.
  // The live state, not the published one: a step's progress can be published just after an
  // undrain's, and must not flip health back.
  drain_subscription_ = drain_.subscribe([this](const server::DrainProgress&) {
    set_health(drain_.progress().state == server::DrainState::kServing);
  });
  set_health(drain_.progress().state == server::DrainState::kServing);
}

AdminEndpoint::~AdminEndpoint() {
  drain_.unsubscribe(drain_subscription_);
  service_->shut_down();
  grpc_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  grpc_server_->Wait();
  if (!config_.socket_path.empty()) ::unlink(config_.socket_path.c_str());
}

void AdminEndpoint::set_health(bool serving) {
  if (!grpc_server_) return;
  if (auto* health = grpc_server_->GetHealthCheckService()) {
    health->SetServingStatus(serving);
  }
}

}  // namespace derp::admin
