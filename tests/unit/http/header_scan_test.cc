// The request-header limits count the whole header, however it is split into reads.
#include <gtest/gtest.h>

#include <string>

#include "relay/http/header_scan.h"

namespace derp::http {
namespace {

const std::string kUpgrade =
    "GET /derp HTTP/1.1\r\nHost: derp.example.com\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n"
    "Derp-Version: 2\r\n\r\n";

HeaderScan scan_all(const std::string& bytes, HeaderLimits limits = {}) {
  HeaderScanner scanner(limits);
  return scanner.scan(bytes);
}

// Feeds `bytes` in pieces of `piece` bytes, as reads would deliver them.
HeaderScan scan_in_pieces(const std::string& bytes, std::size_t piece, HeaderLimits limits = {}) {
  HeaderScanner scanner(limits);
  HeaderScan last;
  for (std::size_t n = piece;; n += piece) {
    last = scanner.scan(std::string_view(bytes).substr(0, std::min(n, bytes.size())));
    if (last.result != HeaderScanResult::kNeedMore || n >= bytes.size()) return last;
  }
}

std::string fields(std::size_t n, const std::string& field = "a:\r\n") {
  std::string out = "GET / HTTP/1.1\r\n";
  for (std::size_t i = 0; i < n; ++i) out += field;
  return out + "\r\n";
}

TEST(HeaderScan, FindsTheEndOfATailscaleUpgradeWhateverTheReads) {
  for (std::size_t piece : {1u, 2u, 3u, 7u, 64u, 4096u}) {
    auto scan = scan_in_pieces(kUpgrade + "\x02rest-of-stream", piece);
    EXPECT_EQ(scan.result, HeaderScanResult::kComplete) << piece;
    EXPECT_EQ(scan.length, kUpgrade.size()) << piece;
    EXPECT_EQ(scan.fields, 4u) << piece;
  }
}

TEST(HeaderScan, WaitsForMoreUntilTheBlankLine) {
  EXPECT_EQ(scan_all("GET / HTTP/1.1\r\nHost: x\r\n").result, HeaderScanResult::kNeedMore);
  EXPECT_EQ(scan_all("GET / HTTP/1.1\r\nHost: x\r\n\r").result, HeaderScanResult::kNeedMore);
  EXPECT_EQ(scan_all("").result, HeaderScanResult::kNeedMore);
}

TEST(HeaderScan, EmptyLinesBeforeTheRequestLineAreNotTheEnd) {
  auto scan = scan_all("\r\n\r\nGET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(scan.result, HeaderScanResult::kComplete);
  EXPECT_EQ(scan.length, 22u);
  EXPECT_EQ(scan.fields, 0u);
}

TEST(HeaderScan, FieldLimitCountsEveryLineHoweverSmall) {
  EXPECT_EQ(scan_all(fields(100)).result, HeaderScanResult::kComplete);
  EXPECT_EQ(scan_all(fields(101)).result, HeaderScanResult::kTooManyFields);
  // The attack Beast's own limit let through: thousands of tiny fields in one burst.
  EXPECT_EQ(scan_all(fields(12000)).result, HeaderScanResult::kTooManyFields);
  EXPECT_EQ(scan_in_pieces(fields(12000), 65536).result, HeaderScanResult::kTooManyFields);
}

TEST(HeaderScan, ByteLimitCountsTheWholeHeader) {
  HeaderLimits limits{.max_bytes = 1024, .max_fields = 100};
  const std::string big_field = "X-Big: " + std::string(2000, 'b') + "\r\n";
  EXPECT_EQ(scan_all(fields(1, big_field), limits).result, HeaderScanResult::kTooManyBytes);
  EXPECT_EQ(scan_in_pieces(fields(1, big_field), 100, limits).result,
            HeaderScanResult::kTooManyBytes);
  // Exactly at the limit is accepted; one byte more is not.
  std::string exact = fields(1, "X: " + std::string(1024 - 23, 'x') + "\r\n");
  ASSERT_EQ(exact.size(), 1024u);
  EXPECT_EQ(scan_all(exact, limits).result, HeaderScanResult::kComplete);
  std::string over = fields(1, "X: " + std::string(1024 - 22, 'x') + "\r\n");
  EXPECT_EQ(scan_all(over, limits).result, HeaderScanResult::kTooManyBytes);
}

TEST(HeaderScan, ALineEndSplitBetweenReadsIsFound) {
  HeaderScanner scanner;
  const std::string req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  const auto cr = req.size() - 1;  // the last "\r" arrives alone
  EXPECT_EQ(scanner.scan(std::string_view(req).substr(0, cr)).result, HeaderScanResult::kNeedMore);
  auto scan = scanner.scan(req);
  EXPECT_EQ(scan.result, HeaderScanResult::kComplete);
  EXPECT_EQ(scan.length, req.size());
}

}  // namespace
}  // namespace derp::http
