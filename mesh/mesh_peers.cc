#include "mesh/mesh_peers.h"

#include <stdexcept>
#include <string_view>

namespace derp::mesh {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "host:port" → "host"; "[v6]:port" → "v6"; "v6" stays.
std::string host_part(std::string_view hostport) {
  if (hostport.starts_with("[")) {
    auto close = hostport.find(']');
    return std::string(hostport.substr(1, close == std::string_view::npos ? close : close - 1));
  }
  auto colon = hostport.find(':');
  if (colon != std::string_view::npos && hostport.find(':', colon + 1) == std::string_view::npos) {
    return std::string(hostport.substr(0, colon));
  }
  return std::string(hostport);
}

}  // namespace

std::vector<MeshPeer> parse_mesh_with(const std::string& list, const std::string& own_hostname) {
  std::vector<MeshPeer> out;
  std::string_view rest = list;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view entry = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (entry.empty()) continue;
    MeshPeer peer;
    peer.name = std::string(entry);
    std::string_view authority;
    if (entry.starts_with("http://") || entry.starts_with("https://")) {
      auto scheme_end = entry.find("://") + 3;
      auto slash = entry.find('/', scheme_end);
      authority =
          entry.substr(scheme_end, slash == std::string_view::npos ? slash : slash - scheme_end);
      peer.url = std::string(entry);
      if (slash == std::string_view::npos) peer.url += "/derp";
    } else {
      auto slash = entry.find('/');
      authority = entry.substr(0, slash);
      if (slash != std::string_view::npos) {
        std::string_view dial = entry.substr(slash + 1);
        if (dial.empty() || dial.find('/') != std::string_view::npos) {
          throw std::runtime_error("--mesh-with entry \"" + peer.name +
                                   "\": expected host, host:port or host/dialhost");
        }
        peer.dial_host = host_part(dial);
      }
      peer.url = "https://" + std::string(authority) + "/derp";
    }
    if (authority.empty()) {
      throw std::runtime_error("--mesh-with entry \"" + peer.name + "\" has no host");
    }
    peer.tls_server_name = host_part(authority);
    // This node itself. With a port the entry may be a sibling on the same host; the key check
    // at connect time catches a self-link that gets through.
    if (!own_hostname.empty() && authority == own_hostname) continue;
    out.push_back(std::move(peer));
  }
  return out;
}

std::vector<MeshPeer> parse_mesh_with_file(const std::string& text,
                                           const std::string& own_hostname) {
  std::string list;
  std::string_view rest = text;
  while (!rest.empty()) {
    auto newline = rest.find('\n');
    std::string_view line = rest.substr(0, newline);
    rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
    line = line.substr(0, line.find('#'));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) continue;
    list += std::string(line) + ",";
  }
  return parse_mesh_with(list, own_hostname);
}

std::string format_mesh_with_file(const std::vector<std::string>& names) {
  std::string out =
      "# This node's region siblings, one --mesh-with entry per line. derpd re-reads this file on\n"
      "# SIGHUP; derpctl mesh add/remove rewrite it.\n";
  for (const auto& n : names) out += n + "\n";
  return out;
}

}  // namespace derp::mesh
