#include "tests/support/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <regex>
#include <sstream>

#include "tests/support/http_get.h"

extern char** environ;

namespace derp::testing {

namespace {

std::string join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

bool process_alive(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

// Kills the processes inside namespace `name` (as listed by `ip netns pids`) and waits a moment
// for them to go. Only ever called on this test's own namespaces.
void kill_inside(const std::string& name) {
  std::string out;
  if (run_command({"ip", "netns", "pids", name}, &out) != 0) return;
  std::istringstream in(out);
  pid_t pid;
  std::vector<pid_t> pids;
  while (in >> pid) {
    if (pid > 1 && pid != ::getpid()) pids.push_back(pid);
  }
  for (pid_t p : pids) ::kill(p, SIGKILL);
  for (pid_t p : pids) {
    for (int i = 0; i < 200 && process_alive(p); ++i) {
      ::waitpid(p, nullptr, WNOHANG);  // reaps it when it is our child
      ::usleep(10000);
    }
  }
}

}  // namespace

int run_command(const std::vector<std::string>& argv, std::string* output) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
  std::vector<std::string> args = argv;
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, cargs[0], &actions, nullptr, cargs.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    if (output) *output = "cannot run " + argv[0] + ": " + std::strerror(rc);
    return 127 << 8;
  }
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (output) *output = std::move(text);
  return status;
}

std::string netns_unavailable_reason() {
  if (::geteuid() != 0) return "needs root to create network namespaces (CI runs it as root)";
  std::string name = "derptest-probe-" + std::to_string(::getpid());
  std::string out;
  if (run_command({"ip", "netns", "add", name}, &out) != 0) {
    return "`ip netns add` failed: " + out;
  }
  run_command({"ip", "netns", "del", name});
  return {};
}

void remove_stale_namespaces(const std::string& prefix) {
  std::error_code ec;
  std::vector<std::string> stale;
  for (const auto& entry : std::filesystem::directory_iterator("/var/run/netns", ec)) {
    std::string name = entry.path().filename().string();
    static const std::regex owned(R"(^(.*)-(\d+)-.*$)");
    std::smatch m;
    if (!std::regex_match(name, m, owned) || m[1] != prefix) continue;
    pid_t owner = static_cast<pid_t>(std::stol(m[2]));
    if (owner != ::getpid() && !process_alive(owner)) stale.push_back(name);
  }
  for (const auto& name : stale) {
    kill_inside(name);
    run_command({"ip", "netns", "del", name});
  }
}

NetNamespace::NetNamespace(std::string name) : name_(std::move(name)) {
  std::string out;
  if (run_command({"ip", "netns", "add", name_}, &out) != 0) {
    throw std::runtime_error("ip netns add " + name_ + " failed: " + out);
  }
  fd_ = ::open(("/var/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    int err = errno;
    run_command({"ip", "netns", "del", name_});
    throw std::runtime_error("cannot open /var/run/netns/" + name_ + ": " + std::strerror(err));
  }
}

NetNamespace::~NetNamespace() {
  kill_inside(name_);
  if (fd_ >= 0) ::close(fd_);
  run_command({"ip", "netns", "del", name_});
}

void NetNamespace::ip(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"ip", "-n", name_};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out;
  if (run_command(argv, &out) != 0) throw std::runtime_error(join(argv) + " failed: " + out);
}

void NetNamespace::enter_on_this_thread() const {
  if (::setns(fd_, CLONE_NEWNET) != 0) {
    throw std::runtime_error("setns into " + name_ + " failed: " + std::strerror(errno));
  }
}

std::unique_ptr<DerpdProcess> start_derpd_in(const NetNamespace& ns,
                                             std::vector<std::string> args) {
  return ns.run([&] { return std::make_unique<DerpdProcess>(std::move(args)); });
}

long long varz_in(const NetNamespace& ns, const std::string& host, std::uint16_t port,
                  const std::string& name) {
  return ns.run([&]() -> long long {
    std::string body;
    try {
      body = http_get(port, "/debug/varz", host);
    } catch (const std::exception&) {
      return -1;
    }
    std::smatch m;
    std::regex re("\n" + name + " (-?[0-9]+)");
    if (std::regex_search(body, m, re)) return std::stoll(m[1]);
    return -1;
  });
}

}  // namespace derp::testing
