// ListClients' filtering, sorting and keyset paging, over plain snapshots.
#include <gtest/gtest.h>

#include "relay/admin/client_query.h"

namespace derp::admin {
namespace {

using server::SessionSnapshot;

std::vector<SessionSnapshot> make_clients(std::size_t n) {
  std::vector<SessionSnapshot> v;
  for (std::size_t i = 0; i < n; ++i) {
    SessionSnapshot s;
    s.conn_id = i + 1;
    s.key.bytes[0] = static_cast<std::uint8_t>(i % 256);
    s.key.bytes[1] = static_cast<std::uint8_t>(i / 256);
    s.key.bytes[2] = static_cast<std::uint8_t>(i / 65536);
    s.bytes_in = (i * 7919) % 1000;
    s.info.remote_ip[10] = s.info.remote_ip[11] = 0xff;
    s.info.remote_ip[12] = 10;
    s.info.remote_ip[15] = static_cast<std::uint8_t>(i % 4);
    s.info.remote_text = "10.0.0." + std::to_string(i % 4) + ":" + std::to_string(1000 + i);
    s.can_mesh = i == 3;
    v.push_back(s);
  }
  return v;
}

TEST(ClientQuery, PagesCoverEveryClientOnceIn100k) {
  auto all = make_clients(100000);
  ClientQuery q;
  q.sort = ClientSort::kBytes;
  q.descending = true;
  q.page_size = kMaxPageSize;
  std::vector<std::uint64_t> seen;
  std::uint64_t last_bytes = UINT64_MAX;
  for (int pages = 0;; ++pages) {
    ASSERT_LT(pages, 20);
    auto page = select_clients(all, q);
    EXPECT_EQ(page.total_matching, 100000u);
    for (const auto& c : page.clients) {
      EXPECT_LE(c.bytes_in, last_bytes);
      last_bytes = c.bytes_in;
      seen.push_back(c.conn_id);
    }
    if (page.next_page_token.empty()) break;
    q.page_token = page.next_page_token;
  }
  std::sort(seen.begin(), seen.end());
  ASSERT_EQ(seen.size(), 100000u);
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end());
}

TEST(ClientQuery, FiltersByKeyPrefixIpAndMesh) {
  auto all = make_clients(1000);
  ClientQuery q;
  q.key_prefix = "nodekey:0A";
  auto page = select_clients(all, q);
  for (const auto& c : page.clients) EXPECT_EQ(c.key.to_hex().substr(0, 2), "0a");
  EXPECT_EQ(page.total_matching, 4u);  // i % 256 == 10 for i < 1000

  q = {};
  q.remote_ip = "10.0.0.2";
  EXPECT_EQ(select_clients(all, q).total_matching, 250u);
  q.remote_ip = "::ffff:10.0.0.2";
  EXPECT_EQ(select_clients(all, q).total_matching, 250u);

  q = {};
  q.mesh_peers_only = true;
  ASSERT_EQ(select_clients(all, q).clients.size(), 1u);
}

TEST(ClientQuery, BadInputSaysWhichField) {
  auto all = make_clients(3);
  ClientQuery q;
  q.key_prefix = "zz";
  EXPECT_THROW(select_clients(all, q), BadQuery);
  q = {};
  q.remote_ip = "10.0.0";
  EXPECT_THROW(select_clients(all, q), BadQuery);
  q = {};
  q.page_token = "garbage";
  EXPECT_THROW(select_clients(all, q), BadQuery);
  q = {};
  q.page_size = kMaxPageSize + 1;
  EXPECT_THROW(select_clients(all, q), BadQuery);
  // A token made for another sort order is refused, not misread.
  q = {};
  q.page_size = 1;
  auto token = select_clients(all, q).next_page_token;
  ASSERT_FALSE(token.empty());
  q.page_token = token;
  q.sort = ClientSort::kKey;
  EXPECT_THROW(select_clients(all, q), BadQuery);
}

TEST(ClientQuery, RemoteIpOfBothFamilies) {
  EXPECT_EQ(remote_ip_of("192.0.2.1:443"), "192.0.2.1");
  EXPECT_EQ(remote_ip_of("[2001:db8::1]:443"), "2001:db8::1");
}

}  // namespace
}  // namespace derp::admin
