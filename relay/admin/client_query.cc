#include "relay/admin/client_query.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <charconv>
#include <tuple>

namespace derp::admin {
namespace {

using server::SessionSnapshot;

std::string normalise_key_prefix(const std::string& in) {
  std::string p = in;
  if (p.rfind("nodekey:", 0) == 0) p = p.substr(8);
  for (char& c : p) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      throw BadQuery("key_prefix \"" + in +
                     "\": expected hex digits, optionally after \"nodekey:\"");
    }
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (p.size() > 64) throw BadQuery("key_prefix \"" + in + "\": longer than a key");
  return p;
}

std::optional<std::array<std::uint8_t, 16>> parse_ip_filter(const std::string& text) {
  if (text.empty()) return std::nullopt;
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(text, ec);
  if (ec) throw BadQuery("remote_ip \"" + text + "\": not an IPv4 or IPv6 address");
  if (a.is_v4())
    return boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, a.to_v4()).to_bytes();
  return a.to_v6().to_bytes();
}

// The value a row sorts by: a number or a string (for key and remote), then the connection id.
struct SortKey {
  std::uint64_t num = 0;
  std::string str;
  std::uint64_t conn_id = 0;
  friend bool operator<(const SortKey& a, const SortKey& b) {
    return std::tie(a.num, a.str, a.conn_id) < std::tie(b.num, b.str, b.conn_id);
  }
};

std::uint64_t since_epoch_ns(std::chrono::system_clock::time_point t) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

SortKey sort_key(const SessionSnapshot& s, ClientSort sort) {
  SortKey k;
  k.conn_id = s.conn_id;
  switch (sort) {
    case ClientSort::kConnectedAt:
      break;  // connection ids grow with connection time
    case ClientSort::kKey:
      k.str = s.key.to_hex();
      break;
    case ClientSort::kRemote:
      k.str = s.info.remote_text;
      break;
    case ClientSort::kBytes:
      k.num = s.bytes_in + s.bytes_out;
      break;
    case ClientSort::kPackets:
      k.num = s.packets_in + s.packets_out;
      break;
    case ClientSort::kLastActivity:
      k.num = since_epoch_ns(s.last_activity);
      break;
    case ClientSort::kQueueDepth:
      k.num = s.queue_depth;
      break;
  }
  return k;
}

// Token: "v1|<sort>|<desc>|<num>|<conn_id>|<str>". Opaque to callers.
std::string encode_token(const ClientQuery& q, const SortKey& k) {
  return "v1|" + std::to_string(static_cast<int>(q.sort)) + "|" + (q.descending ? "1" : "0") + "|" +
         std::to_string(k.num) + "|" + std::to_string(k.conn_id) + "|" + k.str;
}

SortKey decode_token(const ClientQuery& q) {
  const std::string& t = q.page_token;
  auto bad = [&](const char* why) {
    return BadQuery("page_token: " + std::string(why) +
                    "; pass the next_page_token of the previous response with the same sort");
  };
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (int i = 0; i < 5; ++i) {
    auto bar = t.find('|', start);
    if (bar == std::string::npos) throw bad("malformed");
    parts.push_back(t.substr(start, bar - start));
    start = bar + 1;
  }
  parts.push_back(t.substr(start));
  if (parts[0] != "v1") throw bad("malformed");
  if (parts[1] != std::to_string(static_cast<int>(q.sort)) ||
      parts[2] != (q.descending ? "1" : "0")) {
    throw bad("made for another sort order");
  }
  SortKey k;
  auto num = [&](const std::string& s, std::uint64_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec != std::errc() || p != s.data() + s.size()) throw bad("malformed");
  };
  num(parts[3], k.num);
  num(parts[4], k.conn_id);
  k.str = parts[5];
  return k;
}

}  // namespace

std::string remote_ip_of(const std::string& remote_text) {
  if (!remote_text.empty() && remote_text.front() == '[') {
    auto close = remote_text.find(']');
    return remote_text.substr(1, close == std::string::npos ? std::string::npos : close - 1);
  }
  auto colon = remote_text.rfind(':');
  return colon == std::string::npos ? remote_text : remote_text.substr(0, colon);
}

ClientPage select_clients(std::vector<SessionSnapshot> all, const ClientQuery& q) {
  if (q.page_size > kMaxPageSize) {
    throw BadQuery("page_size " + std::to_string(q.page_size) + ": at most " +
                   std::to_string(kMaxPageSize) + "; follow next_page_token for more");
  }
  const std::string prefix = normalise_key_prefix(q.key_prefix);
  const auto ip = parse_ip_filter(q.remote_ip);
  std::optional<SortKey> after;
  if (!q.page_token.empty()) after = decode_token(q);

  std::vector<std::pair<SortKey, std::size_t>> rows;
  rows.reserve(all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto& s = all[i];
    if (q.mesh_peers_only && !s.can_mesh) continue;
    if (!prefix.empty() && s.key.to_hex().compare(0, prefix.size(), prefix) != 0) continue;
    if (ip && s.info.remote_ip != *ip) continue;
    rows.emplace_back(sort_key(s, q.sort), i);
  }
  ClientPage page;
  page.total_matching = rows.size();
  auto before = [&](const SortKey& a, const SortKey& b) { return q.descending ? b < a : a < b; };
  std::sort(rows.begin(), rows.end(),
            [&](const auto& a, const auto& b) { return before(a.first, b.first); });

  auto first = rows.begin();
  if (after) {
    first =
        std::upper_bound(rows.begin(), rows.end(), *after,
                         [&](const SortKey& k, const auto& row) { return before(k, row.first); });
  }
  const std::size_t size = q.page_size == 0 ? kDefaultPageSize : q.page_size;
  auto last = first + static_cast<std::ptrdiff_t>(std::min<std::size_t>(
                          size, static_cast<std::size_t>(rows.end() - first)));
  page.clients.reserve(static_cast<std::size_t>(last - first));
  for (auto it = first; it != last; ++it) page.clients.push_back(std::move(all[it->second]));
  if (last != rows.end() && last != first)
    page.next_page_token = encode_token(q, (last - 1)->first);
  return page;
}

}  // namespace derp::admin
