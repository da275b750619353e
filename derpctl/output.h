// derpctl's output: aligned tables for people; JSON (one document) or JSON lines for scripts,
// using the proto3 JSON mapping with the .proto's field names (64-bit integers are strings there).
#pragma once

#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace derpctl {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : rows_{std::move(headers)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

nlohmann::json to_json(const google::protobuf::Message& m);

std::string format_time(const google::protobuf::Timestamp& t);  // "2024-05-01 12:00:03Z"
std::string format_age(const google::protobuf::Timestamp& t);   // "3m12s ago"
std::string format_seconds(std::int64_t seconds);               // "1d2h", "3m12s", "45s"
std::string format_bytes(std::uint64_t n);                      // "1.2 MiB"
std::string short_key(const std::string& nodekey);              // "nodekey:1234abcd…"
// Each key cut to the shortest prefix (at least 8 hex digits) that no other key of `keys` shares,
// so a table row stays narrow and the prefix still names one client ("nodekey:44f17604…").
std::vector<std::string> unique_key_prefixes(const std::vector<std::string>& keys);

}  // namespace derpctl
