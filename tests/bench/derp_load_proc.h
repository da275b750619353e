// Helpers shared by derp-load and derp-idle: loopback checks, a spawned derpd, /proc readers,
// a latency histogram and a tiny flag parser.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace derp::bench {

// True when `url` is a DERP URL whose host is a loopback literal (127.0.0.0/8, ::1) or
// "localhost". `why` says what is wrong otherwise.
bool is_loopback_url(const std::string& url, std::string* why);

// utime+stime of every thread of `pid`, in seconds (/proc/<pid>/stat); nullopt when gone.
std::optional<double> process_cpu_seconds(pid_t pid);
// VmRSS of `pid` in KiB (/proc/<pid>/status); nullopt when gone.
std::optional<long> process_rss_kib(pid_t pid);
// Voluntary + involuntary context switches of every thread (/proc/<pid>/task/*/status).
std::optional<std::uint64_t> process_context_switches(pid_t pid);
// This process's own CPU seconds (getrusage).
double self_cpu_seconds();

// Raises RLIMIT_NOFILE (soft and, when allowed, hard) to at least `want`; returns the new soft
// limit. Children started afterwards inherit it.
std::uint64_t raise_nofile_limit(std::uint64_t want);

// A derpd started for a measurement: listens on 127.0.0.1:<free port> with STUN and the port-80
// listener off, a fresh key file, and `extra` flags. With `tls`, writes an ECDSA P-256 test PKI
// (relay/tls/test_ca.h) and runs with --certmode manual --hostname 127.0.0.1; ca_file() is the CA.
// The derpd binary next to the running tool (argv[0]'s folder), the default for --derpd.
std::string sibling_derpd(const char* argv0);

class SpawnedDerpd {
 public:
  SpawnedDerpd(const std::string& binary, const std::vector<std::string>& extra, bool tls);
  ~SpawnedDerpd();
  SpawnedDerpd(const SpawnedDerpd&) = delete;
  SpawnedDerpd& operator=(const SpawnedDerpd&) = delete;
  pid_t pid() const { return pid_; }
  const std::string& url() const { return url_; }  // as printed by derpd ("http(s)://…/derp")
  const std::string& ca_file() const { return ca_file_; }
  const std::string& log_path() const { return log_path_; }
  int stop();  // SIGTERM, then SIGKILL after 10 s; returns the wait status

 private:
  pid_t pid_ = -1;
  std::string dir_;
  std::string url_;
  std::string ca_file_;
  std::string log_path_;
};

// Latency histogram: 1/64 relative precision from 64 ns to ~1 minute. Single writer.
class Histogram {
 public:
  void record(std::int64_t ns);
  void merge(const Histogram& other);
  std::uint64_t count() const { return count_; }
  std::int64_t max() const { return max_; }
  // Value at quantile q (0..1), in ns; 0 when empty.
  std::int64_t quantile(double q) const;

 private:
  static constexpr int kSub = 64;
  static constexpr int kBuckets = 40 * kSub;
  static int index(std::int64_t ns);
  static std::int64_t lower_bound(int index);
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::int64_t max_ = 0;
};

// A flag parser for the bench tools: --name value, --name=value, and boolean --name.
class Flags {
 public:
  Flags(std::string tool, std::string usage) : tool_(std::move(tool)), usage_(std::move(usage)) {}
  void number(const std::string& name, double* out, double lo, double hi);
  void integer(const std::string& name, long long* out, long long lo, long long hi);
  void text(const std::string& name, std::string* out);
  void list(const std::string& name, std::vector<std::string>* out);   // repeatable, comma-split
  void words(const std::string& name, std::vector<std::string>* out);  // repeatable, space-split
  void flag(const std::string& name, bool* out);
  void parse(int argc, char** argv);
  [[noreturn]] void fail(const std::string& why) const;

 private:
  struct Spec {
    bool takes_value = true;
    std::function<void(const std::string&)> set;
  };
  std::string tool_, usage_;
  std::map<std::string, Spec> specs_;
};

}  // namespace derp::bench
