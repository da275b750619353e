// Plain HTTP/1.1 over a loopback socket for endpoint tests, /debug/varz parsing, and running the
// derpd binary to completion (flag tests).
#pragma once

#include "tests/support/http_get.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/derpd_process.h"
#include "tests/support/raw_socket.h"

namespace derp::testing {

struct HttpResponse {
  int status = 0;
  std::string head;                            // status line and headers, as received
  std::map<std::string, std::string> headers;  // lowercased names
  std::string body;
  bool has(const std::string& lower_name) const { return headers.contains(lower_name); }
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

inline HttpResponse parse_http_head(const std::string& head) {
  HttpResponse r;
  r.head = head;
  auto line_end = head.find("\r\n");
  std::string status_line = head.substr(0, line_end);
  if (status_line.size() >= 12 && status_line.starts_with("HTTP/1.")) {
    r.status = std::stoi(status_line.substr(9, 3));
  }
  std::size_t pos = line_end + 2;
  while (pos < head.size()) {
    auto end = head.find("\r\n", pos);
    if (end == std::string::npos || end == pos) break;
    std::string line = head.substr(pos, end - pos);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      r.headers[lower(line.substr(0, colon))] = value;
    }
    pos = end + 2;
  }
  return r;
}

// Sends `request` verbatim (it should carry "Connection: close") and reads the response to EOF.
inline HttpResponse http_exchange(std::uint16_t port, const std::string& request) {
  RawSocket s(port);
  if (!s.send_all(request)) throw std::runtime_error("HTTP request not sent");
  auto head = s.read_http_head();
  if (!head) throw std::runtime_error("no HTTP response head for: " + request);
  HttpResponse r = parse_http_head(*head);
  std::string body(s.buffered().begin(), s.buffered().end());
  s.take(s.buffered().size());
  for (;;) {
    if (s.fill(1, std::chrono::seconds(5)) != RawSocket::Status::kOk) break;
    body.append(s.buffered().begin(), s.buffered().end());
    s.take(s.buffered().size());
  }
  r.body = std::move(body);
  return r;
}

inline HttpResponse http_request(std::uint16_t port, const std::string& method,
                                 const std::string& target, const std::string& extra_headers = "") {
  return http_exchange(port, method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                                 extra_headers + "Connection: close\r\n\r\n");
}

// /debug/varz (or the same text at --metrics-listen's /metrics) as a map from "name{labels}" to
// value.
inline std::map<std::string, double> fetch_varz(std::uint16_t port,
                                                const std::string& path = "/debug/varz") {
  auto r = http_request(port, "GET", path);
  if (r.status != 200) throw std::runtime_error(path + " answered " + std::to_string(r.status));
  std::map<std::string, double> out;
  std::size_t pos = 0;
  while (pos < r.body.size()) {
    auto end = r.body.find('\n', pos);
    if (end == std::string::npos) end = r.body.size();
    std::string line = r.body.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

inline double varz_value(const std::map<std::string, double>& m, const std::string& name) {
  auto it = m.find(name);
  if (it == m.end()) throw std::runtime_error("/debug/varz has no " + name);
  return it->second;
}

inline double varz(std::uint16_t port, const std::string& name) {
  return varz_value(fetch_varz(port), name);
}

// Polls /debug/varz until `pred` holds for metric `name`; false after `timeout`. This waits on
// state the server reports, not on time.
inline bool wait_varz(std::uint16_t port, const std::string& name,
                      const std::function<bool(double)>& pred,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred(varz(port, name))) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

inline std::string packets_dropped(const std::string& reason, const std::string& kind) {
  return "derp_packets_dropped{reason=\"" + reason + "\",kind=\"" + kind + "\"}";
}

// A port that was free a moment ago (see free_port in http_get.h).
inline std::uint16_t pick_free_port() {
  return free_port();
}

struct ProcessResult {
  int exit_code = -1;  // -1: killed after the timeout (it did not exit by itself)
  std::string output;  // stdout and stderr together
};

// Runs `binary` with `args` to completion (killed after `timeout`) and captures its output.
inline ProcessResult run_to_exit(const std::string& bin, std::vector<std::string> args,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = spawn_child(bin, args, out[1], out[1]);
  ::close(out[1]);
  ProcessResult result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool killed = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(out[0], buf, sizeof(buf));
    if (n <= 0) break;
    result.output.append(buf, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = (!killed && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  return result;
}

// Runs derpd with `args` to completion and captures its output.
inline ProcessResult run_derpd_to_exit(
    std::vector<std::string> args, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  return run_to_exit(DerpdProcess::binary(), std::move(args), timeout);
}

}  // namespace derp::testing
