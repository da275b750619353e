#include "tests/bench/derp_load_proc.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "relay/client/derp_url.h"
#include "relay/tls/test_ca.h"
#include "tests/support/child_process.h"

namespace derp::bench {

bool is_loopback_url(const std::string& url, std::string* why) {
  auto u = client::parse_derp_url(url);
  if (!u) {
    *why = "\"" + url + "\" is not an http://, https://, ws:// or wss:// URL";
    return false;
  }
  if (u->host == "localhost") return true;
  in_addr a4{};
  in6_addr a6{};
  if (::inet_pton(AF_INET, u->host.c_str(), &a4) == 1) {
    if ((ntohl(a4.s_addr) >> 24) == 127) return true;
  } else if (::inet_pton(AF_INET6, u->host.c_str(), &a6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&a6)) return true;
  }
  *why = "\"" + url + "\": only loopback targets (127.0.0.0/8, ::1, localhost) are allowed";
  return false;
}

namespace {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::optional<double> process_cpu_seconds(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return std::nullopt;
  // The command name may hold spaces and parentheses: fields restart after the last ')'.
  auto close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(text->substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields from 3 (state): utime is field 14, stime 15.
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::optional<long> process_rss_kib(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/status");
  if (!text) return std::nullopt;
  auto at = text->find("VmRSS:");
  if (at == std::string::npos) return std::nullopt;
  return std::strtol(text->c_str() + at + 6, nullptr, 10);
}

std::optional<std::uint64_t> process_context_switches(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return std::nullopt;
  std::uint64_t total = 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    auto text = read_file(dir + "/" + e->d_name + "/status");
    if (!text) continue;
    for (const char* key : {"voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:"}) {
      auto at = text->find(key);
      if (at != std::string::npos)
        total += std::strtoull(text->c_str() + at + std::strlen(key), nullptr, 10);
    }
  }
  ::closedir(d);
  return total;
}

double self_cpu_seconds() {
  rusage r{};
  ::getrusage(RUSAGE_SELF, &r);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(r.ru_utime) + s(r.ru_stime);
}

std::uint64_t raise_nofile_limit(std::uint64_t want) {
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  if (r.rlim_cur >= want) return r.rlim_cur;
  rlimit n = r;
  n.rlim_cur = want;
  if (n.rlim_max < want) n.rlim_max = want;
  if (::setrlimit(RLIMIT_NOFILE, &n) != 0) {
    n.rlim_max = r.rlim_max;  // not privileged: up to the hard limit
    n.rlim_cur = std::min<rlim_t>(want, r.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &n);
  }
  ::getrlimit(RLIMIT_NOFILE, &r);
  return r.rlim_cur;
}

std::string sibling_derpd(const char* argv0) {
  std::string self = argv0;
  auto slash = self.rfind('/');
  return slash == std::string::npos ? "derpd" : self.substr(0, slash + 1) + "derpd";
}

SpawnedDerpd::SpawnedDerpd(const std::string& binary, const std::vector<std::string>& extra,
                           bool tls) {
  char dir_template[] = "/tmp/derp-bench-XXXXXX";
  if (!::mkdtemp(dir_template)) throw std::runtime_error("mkdtemp failed");
  dir_ = dir_template;
  log_path_ = dir_ + "/derpd.log";
  std::vector<std::string> args{"-a", "127.0.0.1:0", "--stun=false",     "--http-port",
                                "-1", "-c",          dir_ + "/derpd.key"};
  if (tls) {
    auto pki = tls::write_test_pki(dir_, {"127.0.0.1"});
    ca_file_ = pki.ca_cert;
    for (const char* a : {"--certmode", "manual", "--hostname", "127.0.0.1", "--certdir"})
      args.emplace_back(a);
    args.push_back(dir_);
  }
  args.insert(args.end(), extra.begin(), extra.end());

  int stdout_fd = -1;
  url_ = testing::launch_derpd(binary, args, log_path_, std::chrono::seconds(20), pid_, stdout_fd)
             .derp_url;
  // derpd prints only the ready line on stdout.
  ::close(stdout_fd);
}

SpawnedDerpd::~SpawnedDerpd() {
  stop();
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

int SpawnedDerpd::stop() {
  return testing::stop_child(pid_, SIGTERM, std::chrono::seconds(10));
}

// ---- Histogram ----

int Histogram::index(std::int64_t ns) {
  if (ns < kSub) return ns < 0 ? 0 : static_cast<int>(ns);
  int msb = 63 - __builtin_clzll(static_cast<unsigned long long>(ns));
  int group = msb - 5;
  int sub = static_cast<int>((ns >> (msb - 6)) - kSub);
  int i = group * kSub + sub;
  return i < kBuckets ? i : kBuckets - 1;
}

std::int64_t Histogram::lower_bound(int i) {
  int group = i / kSub, sub = i % kSub;
  if (group == 0) return sub;
  return static_cast<std::int64_t>(kSub + sub) << (group - 1);
}

void Histogram::record(std::int64_t ns) {
  ++counts_[static_cast<std::size_t>(index(ns))];
  ++count_;
  if (ns > max_) max_ = ns;
}

void Histogram::merge(const Histogram& o) {
  for (int i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
  count_ += o.count_;
  if (o.max_ > max_) max_ = o.max_;
}

std::int64_t Histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_ - 1)) + 1;
  std::uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      // Midpoint of the bucket, capped by the largest value seen.
      std::int64_t lo = lower_bound(i), hi = lower_bound(i + 1);
      return std::min(max_, (lo + hi) / 2);
    }
  }
  return max_;
}

// ---- Flags ----

[[noreturn]] void Flags::fail(const std::string& why) const {
  std::fprintf(stderr, "%s: %s\n%s", tool_.c_str(), why.c_str(), usage_.c_str());
  std::exit(2);
}

void Flags::number(const std::string& name, double* out, double lo, double hi) {
  specs_[name] = {true, [this, name, out, lo, hi](const std::string& v) {
                    char* end = nullptr;
                    double d = std::strtod(v.c_str(), &end);
                    if (end == v.c_str() || *end || d < lo || d > hi)
                      fail("--" + name + " " + v + ": must be a number in [" + std::to_string(lo) +
                           ", " + std::to_string(hi) + "]");
                    *out = d;
                  }};
}

void Flags::integer(const std::string& name, long long* out, long long lo, long long hi) {
  specs_[name] = {true, [this, name, out, lo, hi](const std::string& v) {
                    char* end = nullptr;
                    long long d = std::strtoll(v.c_str(), &end, 10);
                    if (end == v.c_str() || *end || d < lo || d > hi)
                      fail("--" + name + " " + v + ": must be an integer in [" +
                           std::to_string(lo) + ", " + std::to_string(hi) + "]");
                    *out = d;
                  }};
}

void Flags::text(const std::string& name, std::string* out) {
  specs_[name] = {true, [out](const std::string& v) { *out = v; }};
}

void Flags::list(const std::string& name, std::vector<std::string>* out) {
  specs_[name] = {true, [out](const std::string& v) {
                    std::stringstream s(v);
                    std::string item;
                    while (std::getline(s, item, ','))
                      if (!item.empty()) out->push_back(item);
                  }};
}

void Flags::words(const std::string& name, std::vector<std::string>* out) {
  specs_[name] = {true, [out](const std::string& v) {
                    std::istringstream s(v);
                    std::string item;
                    while (s >> item) out->push_back(item);
                  }};
}

void Flags::flag(const std::string& name, bool* out) {
  specs_[name] = {false,
                  [out](const std::string& v) { *out = v.empty() || v == "true" || v == "1"; }};
}

void Flags::parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(usage_.c_str(), stdout);
      std::exit(0);
    }
    if (arg.rfind("--", 0) != 0) fail("unexpected argument " + arg);
    std::string name = arg.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto it = specs_.find(name);
    if (it == specs_.end()) fail("unknown flag --" + name);
    if (it->second.takes_value && !has_value) {
      if (i + 1 >= argc) fail("--" + name + " needs a value");
      value = argv[++i];
    }
    it->second.set(value);
  }
}

}  // namespace derp::bench
