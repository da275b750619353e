// derp/<region>/<node>/tls (protocol §10): a TLS dial to HostName:DERPPort with the verification
// a Tailscale client does, then derpprobe's date checks on every certificate that is not
// self-identified (the meta certificate is). Revocation (CRL) is not checked: see docs/admin.md.
#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <ctime>

#include "derpctl/probe/probe_clients.h"
#include "derpctl/probe/probes.h"
#include "relay/tls/client_context.h"
#include "relay/tls/probe_checks.h"
#include "relay/tls/tls_socket.h"

namespace derpctl::probe {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += (out.empty() ? "" : "; ") + l;
  return out;
}

// Closes the TLS socket it points at; the socket moves into the TlsSocket after the connect.
struct TlsCloser {
  std::shared_ptr<derp::tls::TlsSocket> socket;
  void close() {
    if (socket) socket->close();
  }
};

}  // namespace

asio::awaitable<ProbeOutcome> probe_tls(Executor ex, const ProbeSpec& spec, const ProbeOptions& o,
                                        ProbeContext& ctx) {
  const DerpNode& node = spec.from;
  ctx.step("resolving " + dial_address(node));
  auto resolver = std::make_shared<tcp::resolver>(ex);
  ctx.cancel_on_timeout(resolver);
  const std::string host = dial_address(node);
  const std::string port = std::to_string(node.effective_derp_port());
  auto endpoints = co_await resolver->async_resolve(host, port, asio::use_awaitable);

  ctx.step("connecting to " + host + ":" + port);
  auto socket = std::make_shared<tcp::socket>(ex);
  ctx.close_on_timeout(socket);
  co_await asio::async_connect(*socket, endpoints, asio::use_awaitable);

  ctx.step("TLS handshake");
  const bool verify = !node.insecure_for_tests;
  auto closer = std::make_shared<TlsCloser>();
  ctx.close_on_timeout(closer);
  closer->socket = std::make_shared<derp::tls::TlsSocket>(
      std::move(*socket), derp::tls::make_client_context(verify, o.ca_file),
      derp::tls::TlsRole::kClient);
  SSL* ssl = closer->socket->native_handle();
  derp::tls::prepare_client_ssl(ssl, node.host_name, verify, node.cert_name);
  std::string failure;
  try {
    co_await closer->socket->async_handshake(asio::use_awaitable);
  } catch (const boost::system::system_error& e) {
    if (ctx.timed_out()) throw;  // the deadline closed it: the runner says "timed out"
    failure = e.code().message();
  }
  ProbeOutcome out;
  if (!failure.empty()) {
    if (auto why = derp::tls::verify_failure(ssl); !why.empty()) failure = why;
    out.reason = "TLS handshake with " + node.host_name + " failed: " + failure;
    co_return out;
  }
  const std::int64_t now = std::time(nullptr);
  auto problems = derp::tls::check_peer_cert_dates(ssl, now, derp::tls::kProbeMinRemainingSeconds);
  if (!problems.empty()) {
    out.reason = join(problems);
    co_return out;
  }
  out.good = true;
  const std::int64_t left = derp::tls::peer_leaf_not_after(ssl) - now;
  out.reason = "certificate valid for " + std::to_string(left / 86400) + " more days";
  out.figures.emplace_back("cert_days_left", static_cast<double>(left) / 86400.0);
  closer->socket->close();
  co_return out;
}

}  // namespace derpctl::probe
