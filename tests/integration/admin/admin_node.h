// A real derpd with its admin API on a unix socket in a fresh folder, for the admin tests.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/admin/derpctl_runner.h"
#include "tests/support/derpd_process.h"

namespace derp::testing {

struct AdminNode {
  explicit AdminNode(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"-a", "127.0.0.1:0",       "--stun-port",    "0",
                                  "-c", dir.path() + "/key", "--admin-socket", socket_path()};
    args.insert(args.end(), extra.begin(), extra.end());
    derpd = std::make_unique<DerpdProcess>(args);
  }
  std::string socket_path() const { return dir.path() + "/admin.sock"; }
  std::string admin() const { return "unix:" + socket_path(); }
  // derpctl --admin <this node> <args…>
  DerpctlResult ctl(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--admin", admin()});
    return run_derpctl(std::move(args));
  }

  TempDir dir;
  std::unique_ptr<DerpdProcess> derpd;
};

// The status code of GET `path` on 127.0.0.1:port (plain HTTP), or 0 when the request failed.
inline int http_status(std::uint16_t port, const std::string& path) {
  namespace asio = boost::asio;
  try {
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), port});
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    asio::write(s, asio::buffer(req));
    std::string resp;
    boost::system::error_code ec;
    char buf[1024];
    for (;;) {
      auto n = s.read_some(asio::buffer(buf), ec);
      resp.append(buf, n);
      if (ec || resp.find("\r\n") != std::string::npos) break;
    }
    if (resp.rfind("HTTP/1.1 ", 0) != 0) return 0;
    return std::stoi(resp.substr(9, 3));
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace derp::testing
