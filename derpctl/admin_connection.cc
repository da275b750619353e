#include "derpctl/admin_connection.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace derpctl {
namespace {

std::string read_file(const std::string& path, const std::string& flag) {
  std::ifstream in(path);
  if (!in) {
    throw CommandError(flag + " " + path + ": cannot read it (" + std::strerror(errno) + ")");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string read_token(const std::string& path) {
  std::string text = read_file(path, "--token-file");
  auto nl = text.find('\n');
  if (nl != std::string::npos) text.resize(nl);
  auto first = text.find_first_not_of(" \t\r");
  auto last = text.find_last_not_of(" \t\r");
  if (first == std::string::npos) {
    throw CommandError("--token-file " + path +
                       ": the first line is empty; it must hold the "
                       "token of derpd's --admin-token-file");
  }
  return text.substr(first, last - first + 1);
}

// Connects once to the unix socket so the error names the real cause.
void probe_unix_socket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    ::close(fd);
    throw CommandError("admin socket path " + path + " is too long for a unix socket");
  }
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  ::close(fd);
  if (rc == 0) return;
  std::string base = "cannot reach admin socket " + path + ": ";
  switch (err) {
    case EACCES:
    case EPERM:
      throw CommandError(base + "permission denied — run as root or add yourself to group derpd");
    case ENOENT:
      throw CommandError(base +
                         "no such file — is derpd running? It creates the socket at "
                         "start (--admin-socket); pass --admin unix:PATH if it uses "
                         "another path");
    case ECONNREFUSED:
      throw CommandError(base +
                         "nobody is listening (a socket left by a derpd that stopped?) — "
                         "start derpd, or check --admin");
    default:
      throw CommandError(base + std::strerror(err));
  }
}

}  // namespace

AdminConnection::AdminConnection(const Globals& g, std::string address)
    : globals_(g), address_(std::move(address)) {
  std::string target;
  if (address_.rfind("unix://", 0) == 0) {
    socket_path_ = address_.substr(7);
  } else if (address_.rfind("unix:", 0) == 0) {
    socket_path_ = address_.substr(5);
  }
  if (!socket_path_.empty()) {
    probe_unix_socket(socket_path_);
    target = "unix:" + socket_path_;
  } else {
    if (address_.find(':') == std::string::npos) {
      throw CommandError("--admin " + address_ + ": expected unix:PATH or HOST:PORT", kUsage);
    }
    target = address_;
  }
  if (!g.token_file.empty()) token_ = read_token(g.token_file);

  std::shared_ptr<grpc::ChannelCredentials> creds;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  if (socket_path_.empty() && (!g.tls_ca.empty() || !g.tls_cert.empty())) {
    grpc::SslCredentialsOptions ssl;
    if (!g.tls_ca.empty()) ssl.pem_root_certs = read_file(g.tls_ca, "--tls-ca");
    if (!g.tls_cert.empty()) {
      if (g.tls_key.empty()) throw CommandError("--tls-cert needs --tls-key", kUsage);
      ssl.pem_cert_chain = read_file(g.tls_cert, "--tls-cert");
      ssl.pem_private_key = read_file(g.tls_key, "--tls-key");
    }
    if (!g.tls_server_name.empty()) {
      args.SetSslTargetNameOverride(g.tls_server_name);
    }
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  channel_ = grpc::CreateCustomChannel(target, creds, args);
  stub_ = pb::Admin::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> AdminConnection::context(bool streaming) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
  if (!streaming) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(static_cast<long>(globals_.timeout_s * 1000)));
  }
  return ctx;
}

std::string AdminConnection::describe_error(const grpc::Status& s, const std::string& what) const {
  std::string where =
      socket_path_.empty() ? "admin API at " + address_ : "admin socket " + socket_path_;
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return "cannot reach " + where + ": " + s.error_message() +
             (socket_path_.empty() ? " — is derpd running with --admin-listen " + address_ + "?"
                                   : " — is derpd running?");
    case grpc::StatusCode::UNAUTHENTICATED:
      return where + " refused " + what + ": " + s.error_message() +
             " — pass --token-file with the token of derpd's --admin-token-file";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return what + " on " + where + " took longer than " +
             std::to_string(static_cast<int>(globals_.timeout_s)) +
             " s — the node may be overloaded; retry with --timeout";
    case grpc::StatusCode::UNIMPLEMENTED:
      return where + " does not know " + what + " — is derpd older than derpctl?";
    default:
      return what + " failed: " + s.error_message();
  }
}

void AdminConnection::check(const grpc::Status& s, const std::string& what) const {
  if (s.ok()) return;
  int code = s.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? kUsage : kError;
  throw CommandError(describe_error(s, what), code);
}

}  // namespace derpctl
