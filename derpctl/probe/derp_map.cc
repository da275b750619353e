#include "derpctl/probe/derp_map.h"

#include <algorithm>
#include <boost/algorithm/string/predicate.hpp>
#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <nlohmann/json.hpp>
#include <set>

#include "relay/client/derp_url.h"

namespace derpctl::probe {
namespace {

using Json = nlohmann::ordered_json;

// Go's encoding/json refuses a value of the wrong type with an error; so do we, naming the field.
struct FieldError {
  std::string text;
};

void read(const Json& v, const std::string& where, std::string& out) {
  if (v.is_null()) return;
  if (!v.is_string()) throw FieldError{where + " must be a string, not " + v.type_name()};
  out = v.get<std::string>();
}

void read(const Json& v, const std::string& where, int& out) {
  if (v.is_null()) return;
  if (!v.is_number_integer() || v.get<std::int64_t>() < INT32_MIN ||
      v.get<std::int64_t>() > INT32_MAX) {
    throw FieldError{where + " must be a whole number, not " +
                     (v.is_number() ? std::string("fractional or out of range") : v.type_name())};
  }
  out = static_cast<int>(v.get<std::int64_t>());
}

void read(const Json& v, const std::string& where, bool& out) {
  if (v.is_null()) return;
  if (!v.is_boolean()) throw FieldError{where + " must be true or false, not " + v.type_name()};
  out = v.get<bool>();
}

// Calls `on(name, value)` for each field; `on` matches names with iequals. Of several fields that
// match one name, the later wins, as in Go.
template <typename F>
void each_field(const Json& object, const std::string& where, F&& on) {
  if (object.is_null()) return;
  if (!object.is_object())
    throw FieldError{where + " must be an object, not " + object.type_name()};
  for (const auto& [name, value] : object.items()) on(name, value);
}

DerpNode read_node(const Json& j, const std::string& where) {
  DerpNode n;
  each_field(j, where, [&](const std::string& k, const Json& v) {
    const std::string at = where + "." + k;
    if (boost::iequals(k, "Name"))
      read(v, at, n.name);
    else if (boost::iequals(k, "RegionID"))
      read(v, at, n.region_id);
    else if (boost::iequals(k, "HostName"))
      read(v, at, n.host_name);
    else if (boost::iequals(k, "CertName"))
      read(v, at, n.cert_name);
    else if (boost::iequals(k, "IPv4"))
      read(v, at, n.ipv4);
    else if (boost::iequals(k, "IPv6"))
      read(v, at, n.ipv6);
    else if (boost::iequals(k, "STUNPort"))
      read(v, at, n.stun_port);
    else if (boost::iequals(k, "STUNOnly"))
      read(v, at, n.stun_only);
    else if (boost::iequals(k, "DERPPort"))
      read(v, at, n.derp_port);
    else if (boost::iequals(k, "InsecureForTests"))
      read(v, at, n.insecure_for_tests);
  });
  return n;
}

DerpRegion read_region(const Json& j, const std::string& where) {
  DerpRegion r;
  each_field(j, where, [&](const std::string& k, const Json& v) {
    const std::string at = where + "." + k;
    if (boost::iequals(k, "RegionID"))
      read(v, at, r.id);
    else if (boost::iequals(k, "RegionCode"))
      read(v, at, r.code);
    else if (boost::iequals(k, "RegionName"))
      read(v, at, r.name);
    else if (boost::iequals(k, "Avoid"))
      read(v, at, r.avoid);
    else if (boost::iequals(k, "Nodes")) {
      r.nodes.clear();
      if (v.is_null()) return;
      if (!v.is_array()) throw FieldError{at + " must be an array, not " + v.type_name()};
      for (std::size_t i = 0; i < v.size(); ++i) {
        r.nodes.push_back(read_node(v[i], at + "[" + std::to_string(i) + "]"));
      }
    }
  });
  return r;
}

std::string check(DerpMap& map) {
  std::set<std::string> names;
  for (auto& region : map.regions) {
    const std::string where = "region " + std::to_string(region.id);
    if (region.code.empty()) region.code = std::to_string(region.id);
    for (auto& node : region.nodes) {
      if (node.name.empty()) return where + " has a node without a Name";
      if (!names.insert(node.name).second) return "node name \"" + node.name + "\" is used twice";
      if (node.host_name.empty()) return "node \"" + node.name + "\" has no HostName";
      if (node.region_id != 0 && node.region_id != region.id) {
        return "node \"" + node.name + "\" says RegionID " + std::to_string(node.region_id) +
               " but is listed in " + where;
      }
      node.region_id = region.id;
      if (node.stun_port < -1 || node.stun_port > 65535) {
        return "node \"" + node.name + "\" has STUNPort " + std::to_string(node.stun_port);
      }
      if (node.derp_port < 0 || node.derp_port > 65535) {
        return "node \"" + node.name + "\" has DERPPort " + std::to_string(node.derp_port);
      }
    }
  }
  return {};
}

}  // namespace

std::string DerpNode::derp_url() const {
  const bool v6 = host_name.find(':') != std::string::npos;
  std::string host = v6 ? "[" + host_name + "]" : host_name;
  const int port = effective_derp_port();
  const bool default_port = plain_http ? port == 80 : port == 443;
  return std::string(plain_http ? "http://" : "https://") + host +
         (default_port ? "" : ":" + std::to_string(port)) + "/derp";
}

DerpMapResult parse_derp_map(std::string_view text) {
  DerpMapResult r;
  if (text.size() > kMaxDerpMapBytes) {
    r.error = "the DERP map is larger than 4 MiB";
    return r;
  }
  auto j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    r.error = "the DERP map is not valid JSON";
    return r;
  }
  try {
    each_field(j, "the DERP map", [&](const std::string& k, const Json& v) {
      if (!boost::iequals(k, "Regions")) return;
      r.map.regions.clear();
      each_field(v, "Regions", [&](const std::string& key, const Json& region_json) {
        int id = 0;
        auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
        if (ec != std::errc() || end != key.data() + key.size()) {
          throw FieldError{"Regions key \"" + key + "\" is not a region number"};
        }
        auto region = read_region(region_json, "Regions." + key);
        if (region.id != id) {
          throw FieldError{"Regions." + key + " has RegionID " + std::to_string(region.id)};
        }
        std::erase_if(r.map.regions, [&](const DerpRegion& old) { return old.id == id; });
        r.map.regions.push_back(std::move(region));
      });
    });
  } catch (const FieldError& e) {
    r.error = e.text;
    r.map = {};
    return r;
  }
  std::sort(r.map.regions.begin(), r.map.regions.end(),
            [](const DerpRegion& a, const DerpRegion& b) { return a.id < b.id; });
  if (r.map.regions.empty()) {
    r.error = "the DERP map has no regions";
  } else {
    r.error = check(r.map);
  }
  if (!r.error.empty()) r.map = {};
  return r;
}

DerpMapResult single_node_map(const std::string& url, int stun_port) {
  DerpMapResult r;
  auto parsed =
      derp::client::parse_derp_url(url.find("://") == std::string::npos ? "https://" + url : url);
  if (!parsed || parsed->websocket) {
    r.error = "--node wants https://HOST[:PORT] or http://HOST:PORT, not \"" + url + "\"";
    return r;
  }
  DerpNode node;
  node.name = parsed->host;
  node.region_id = 1;
  node.host_name = parsed->host;
  node.derp_port = parsed->port;
  node.plain_http = !parsed->tls;
  node.stun_port = stun_port;
  boost::system::error_code ec;
  const auto literal = boost::asio::ip::make_address(parsed->host, ec);
  if (!ec) {
    node.ipv4 = literal.is_v4() ? parsed->host : "none";
    node.ipv6 = literal.is_v6() ? parsed->host : "none";
  }
  DerpRegion region;
  region.id = 1;
  region.code = "node";
  region.name = "--node " + url;
  region.nodes.push_back(node);
  r.map.regions.push_back(std::move(region));
  return r;
}

void fill_node_addresses(DerpNode& node, const std::vector<std::string>& resolved) {
  if (!node.ipv4.empty() || !node.ipv6.empty()) return;
  node.ipv4 = node.ipv6 = "none";
  bool v4 = false, v6 = false;
  for (const auto& text : resolved) {
    boost::system::error_code ec;
    const auto a = boost::asio::ip::make_address(text, ec);
    if (ec) continue;
    if (a.is_v4() && !v4) {
      node.ipv4 = text;
      v4 = true;
    } else if (a.is_v6() && !v6) {
      node.ipv6 = text;
      v6 = true;
    }
  }
}

}  // namespace derpctl::probe
