// Filtering, sorting and paging of client snapshots for ListClients, with no gRPC in sight. A node
// can hold 100k clients: one call sorts them once (n log n on the admin thread, never a worker's)
// and returns one page; the page token is a keyset cursor (the last row's sort value and
// connection id), so the next page starts after that row even when clients came or went.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "relay/server/client_session.h"

namespace derp::admin {

enum class ClientSort { kConnectedAt, kKey, kRemote, kBytes, kPackets, kLastActivity, kQueueDepth };

struct ClientQuery {
  std::string key_prefix;  // "nodekey:ab", "AB", "": lowercase hex prefix after normalising
  std::string remote_ip;   // exact IP, either family; "" for any
  ClientSort sort = ClientSort::kConnectedAt;
  bool descending = false;
  std::uint32_t page_size = 0;  // 0: kDefaultPageSize
  std::string page_token;
  bool mesh_peers_only = false;
};

inline constexpr std::uint32_t kDefaultPageSize = 1000;
inline constexpr std::uint32_t kMaxPageSize = 10000;

struct ClientPage {
  std::vector<server::SessionSnapshot> clients;
  std::string next_page_token;  // "" on the last page
  std::size_t total_matching = 0;
};

// A request the caller got wrong: the text says which field and why (→ INVALID_ARGUMENT).
class BadQuery : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

ClientPage select_clients(std::vector<server::SessionSnapshot> all, const ClientQuery& q);

// The IP part of "ip:port" / "[ip6]:port".
std::string remote_ip_of(const std::string& remote_text);

}  // namespace derp::admin
