// Datagram-in / classification-out and request-in / reply-out tables from protocol §7 and §12.8.
#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#include "stun/binding_codec.h"

namespace derp::stun {
namespace {

std::vector<std::uint8_t> hex(std::string_view s) {
  std::vector<std::uint8_t> out;
  int hi = -1;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    const int v =
        std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::tolower(c) - 'a' + 10;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

template <std::size_t N>
std::vector<std::uint8_t> vec(const std::array<std::uint8_t, N>& a) {
  return {a.begin(), a.end()};
}

const TxId kTxid = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

// §12.8
constexpr std::string_view kSpecRequest =
    "00 01 00 14 21 12 a4 42 01 02 03 04 05 06 07 08 09 0a 0b 0c"
    "80 22 00 08 74 61 69 6c 6e 6f 64 65 80 28 00 04 b3 2c 37 0f";
constexpr std::string_view kSpecResponseV4 =
    "01 01 00 0c 21 12 a4 42 01 02 03 04 05 06 07 08 09 0a 0b 0c"
    "00 20 00 08 00 01 f5 23 e1 12 a6 43";
constexpr std::string_view kSpecResponseV4Mapped =
    "01 01 00 18 21 12 a4 42 01 02 03 04 05 06 07 08 09 0a 0b 0c"
    "00 20 00 14 00 02 f5 23 21 12 a4 42 01 02 03 04 05 06 f8 f7"
    "c9 0a 09 0d";
constexpr std::string_view kSpecResponseV6 =
    "01 01 00 18 21 12 a4 42 01 02 03 04 05 06 07 08 09 0a 0b 0c"
    "00 20 00 14 00 02 f5 23 01 13 a9 fa 01 02 03 04 05 06 07 08"
    "09 0a 0b 0d";

const Endpoint kV4 = Endpoint::v4({192, 0, 2, 1}, 54321);
const Endpoint kV4Mapped =
    Endpoint::v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}, 54321);
const Endpoint kV6 =
    Endpoint::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 54321);

// ---- requests ----

TEST(StunRequest, SpecVectorIsTailscaleForm) {
  const auto req = hex(kSpecRequest);
  const ParsedRequest p = parse_binding_request(req);
  EXPECT_EQ(p.kind, RequestKind::kTailscale);
  EXPECT_EQ(p.reason, DropReason::kNone);
  EXPECT_EQ(p.txid, kTxid);
}

TEST(StunRequest, WriterProducesSpecBytes) {
  EXPECT_EQ(vec(make_tailscale_request(kTxid)), hex(kSpecRequest));
  EXPECT_EQ(fingerprint(Bytes(hex(kSpecRequest)).first(32)), 0xb32c370fu);
}

TEST(StunRequest, HeaderOnlyRequestIsGeneric) {
  // What coturn's turnutils_stunclient sends (captured).
  const auto req = hex("000100002112a4426682eee14b4d84032ee252d4");
  const ParsedRequest p = parse_binding_request(req);
  EXPECT_EQ(p.kind, RequestKind::kGeneric);
  EXPECT_EQ(vec(make_generic_request(p.txid)), req);
}

struct RequestCase {
  const char* description;
  std::vector<std::uint8_t> bytes;
  RequestKind kind;
  DropReason reason;
};

class StunRequestTable : public ::testing::TestWithParam<RequestCase> {};

TEST_P(StunRequestTable, Classifies) {
  const auto& c = GetParam();
  const ParsedRequest p = parse_binding_request(c.bytes);
  EXPECT_EQ(p.kind, c.kind) << c.description;
  EXPECT_EQ(p.reason, c.reason) << c.description << ": got " << to_string(p.reason);
}

constexpr std::string_view kHdr = "21 12 a4 42 01 02 03 04 05 06 07 08 09 0a 0b 0c";

// A request with the given type, length field and attribute bytes.
std::vector<std::uint8_t> request(std::string_view type, std::string_view len,
                                  std::string_view attrs = "") {
  return hex(std::string(type) + " " + std::string(len) + " " + std::string(kHdr) + " " +
             std::string(attrs));
}

// Appends a valid FINGERPRINT (the length field must already count it).
std::vector<std::uint8_t> with_fingerprint(std::vector<std::uint8_t> b) {
  const std::uint32_t fp = fingerprint(b);  // covers everything before the attribute
  b.insert(b.end(), {0x80, 0x28, 0x00, 0x04});
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<std::uint8_t>(fp >> shift));
  return b;
}

std::vector<std::uint8_t> spec_request_with(void (*edit)(std::vector<std::uint8_t>&)) {
  auto b = hex(kSpecRequest);
  edit(b);
  return b;
}

INSTANTIATE_TEST_SUITE_P(
    Spec7, StunRequestTable,
    ::testing::Values(
        RequestCase{"protocol §12.8 request", hex(kSpecRequest), RequestKind::kTailscale,
                    DropReason::kNone},
        RequestCase{"Tailscale form with a wrong header length: reference ignores it",
                    with_fingerprint(spec_request_with([](auto& b) {
                      b[3] = 0x99;
                      b.resize(32);
                    })),
                    RequestKind::kTailscale, DropReason::kNone},
        RequestCase{"generic, header only", request("00 01", "00 00"), RequestKind::kGeneric,
                    DropReason::kNone},
        RequestCase{"generic with SOFTWARE other than tailnode",
                    request("00 01", "00 0c", "80 22 00 07 63 6f 74 75 72 6e 21 00"),
                    RequestKind::kGeneric, DropReason::kNone},
        RequestCase{"generic with valid FINGERPRINT", with_fingerprint(request("00 01", "00 08")),
                    RequestKind::kGeneric, DropReason::kNone},
        RequestCase{"generic with unknown attributes",
                    request("00 01", "00 08", "00 24 00 04 6e 00 1e ff"), RequestKind::kGeneric,
                    DropReason::kNone},
        RequestCase{"empty", {}, RequestKind::kMalformed, DropReason::kShort},
        RequestCase{"19 bytes", spec_request_with([](auto& b) { b.resize(19); }),
                    RequestKind::kMalformed, DropReason::kShort},
        RequestCase{"top bits set (e.g. RTP/DTLS)", request("80 01", "00 00"),
                    RequestKind::kMalformed, DropReason::kBadHeaderBits},
        RequestCase{"top bit 0x40 set", request("40 01", "00 00"), RequestKind::kMalformed,
                    DropReason::kBadHeaderBits},
        RequestCase{"bad cookie (RFC 3489)",
                    hex("00 01 00 00 00 00 00 00 01 02 03 04 05 06 07 08 09 0a 0b 0c"),
                    RequestKind::kMalformed, DropReason::kBadCookie},
        RequestCase{"Binding indication", request("00 11", "00 00"), RequestKind::kMalformed,
                    DropReason::kNotBindingRequest},
        RequestCase{"Binding success response", request("01 01", "00 00"), RequestKind::kMalformed,
                    DropReason::kNotBindingRequest},
        RequestCase{"Allocate request", request("00 03", "00 00"), RequestKind::kMalformed,
                    DropReason::kNotBindingRequest},
        RequestCase{"1..3 trailing bytes after header", request("00 01", "00 00", "80 22"),
                    RequestKind::kMalformed, DropReason::kAttributeOverrun},
        RequestCase{"attribute length past end",
                    request("00 01", "00 08", "80 22 00 08 74 61 69 6c"), RequestKind::kMalformed,
                    DropReason::kAttributeOverrun},
        RequestCase{"attribute padding past end", request("00 01", "00 07", "80 22 00 03 61 62 63"),
                    RequestKind::kMalformed, DropReason::kAttributeOverrun},
        RequestCase{"Tailscale form truncated before fingerprint value",
                    spec_request_with([](auto& b) { b.resize(36); }), RequestKind::kMalformed,
                    DropReason::kAttributeOverrun},
        RequestCase{"tailnode without FINGERPRINT",
                    request("00 01", "00 0c", "80 22 00 08 74 61 69 6c 6e 6f 64 65"),
                    RequestKind::kMalformed, DropReason::kNoFingerprint},
        RequestCase{"tailnode with FINGERPRINT not last",
                    request("00 01", "00 18",
                            "80 22 00 08 74 61 69 6c 6e 6f 64 65 80 28 00 04 b3 2c 37 0f "
                            "80 22 00 00"),
                    RequestKind::kMalformed, DropReason::kNoFingerprint},
        RequestCase{"tailnode with wrong FINGERPRINT",
                    spec_request_with([](auto& b) { b[39] ^= 1; }), RequestKind::kMalformed,
                    DropReason::kBadFingerprint},
        RequestCase{"tailnode with a flipped txid bit",
                    spec_request_with([](auto& b) { b[19] ^= 1; }), RequestKind::kMalformed,
                    DropReason::kBadFingerprint},
        RequestCase{
            "tailnode with 8-byte FINGERPRINT",
            request("00 01", "00 18",
                    "80 22 00 08 74 61 69 6c 6e 6f 64 65 80 28 00 08 b3 2c 37 0f 00 00 00 00"),
            RequestKind::kMalformed, DropReason::kBadFingerprint},
        RequestCase{"generic with wrong header length", request("00 01", "00 04"),
                    RequestKind::kMalformed, DropReason::kBadLength},
        RequestCase{"generic with length not counting the attributes",
                    request("00 01", "00 00", "80 22 00 00"), RequestKind::kMalformed,
                    DropReason::kBadLength},
        RequestCase{"generic with wrong FINGERPRINT",
                    request("00 01", "00 08", "80 28 00 04 00 00 00 00"), RequestKind::kMalformed,
                    DropReason::kBadFingerprint},
        RequestCase{"generic with FINGERPRINT not last",
                    request("00 01", "00 0c", "80 28 00 04 00 00 00 00 80 22 00 00"),
                    RequestKind::kMalformed, DropReason::kBadFingerprint}));

TEST(StunRequest, TxidIsReportedForMalformedStun) {
  const ParsedRequest p = parse_binding_request(request("00 01", "00 04"));
  EXPECT_EQ(p.txid, kTxid);
}

TEST(StunRequest, EveryReasonHasAName) {
  for (int r = 0; r < static_cast<int>(DropReason::kCount); ++r)
    EXPECT_NE(to_string(static_cast<DropReason>(r)), "unknown") << r;
}

// ---- responses ----

struct ResponseCase {
  const char* description;
  Endpoint source;
  V4Mapped mapped;
  std::string_view expected_hex;
};

class StunResponseTable : public ::testing::TestWithParam<ResponseCase> {};

TEST_P(StunResponseTable, WritesSpecBytes) {
  const auto& c = GetParam();
  std::array<std::uint8_t, kMaxResponseSize> out{};
  const std::size_t n = write_binding_response(kTxid, c.source, out, c.mapped);
  EXPECT_EQ(std::vector<std::uint8_t>(out.begin(), out.begin() + n), hex(c.expected_hex))
      << c.description;
}

INSTANTIATE_TEST_SUITE_P(
    Spec12_8, StunResponseTable,
    ::testing::Values(ResponseCase{"192.0.2.1:54321, family 1", kV4, V4Mapped::kUnmap,
                                   kSpecResponseV4},
                      ResponseCase{"::ffff:192.0.2.1 un-mapped (ours)", kV4Mapped, V4Mapped::kUnmap,
                                   kSpecResponseV4},
                      ResponseCase{"::ffff:192.0.2.1 kept (reference dual-stack quirk)", kV4Mapped,
                                   V4Mapped::kKeep, kSpecResponseV4Mapped},
                      ResponseCase{"plain IPv4 with kKeep is still family 1", kV4, V4Mapped::kKeep,
                                   kSpecResponseV4},
                      ResponseCase{"[2001:db8::1]:54321", kV6, V4Mapped::kUnmap, kSpecResponseV6}));

struct ClientParseCase {
  const char* description;
  std::string_view response_hex;
  Endpoint expected;
};

class StunResponseParse : public ::testing::TestWithParam<ClientParseCase> {};

TEST_P(StunResponseParse, ClientsReadTheMappedAddress) {
  const auto& c = GetParam();
  const auto bytes = hex(c.response_hex);
  const auto r = parse_binding_response(bytes);
  ASSERT_TRUE(r) << c.description;
  EXPECT_EQ(r->txid, kTxid);
  EXPECT_EQ(r->mapped, c.expected) << c.description;
}

INSTANTIATE_TEST_SUITE_P(
    Spec12_8, StunResponseParse,
    ::testing::Values(ClientParseCase{"v4", kSpecResponseV4, kV4},
                      ClientParseCase{"v4-mapped is read as 192.0.2.1:54321", kSpecResponseV4Mapped,
                                      kV4},
                      ClientParseCase{"v6", kSpecResponseV6, kV6},
                      ClientParseCase{"MAPPED-ADDRESS fallback",
                                      "01 01 00 0c 21 12 a4 42 01 02 03 04 05 06 07 08 09 0a 0b 0c"
                                      "00 01 00 08 00 01 d4 31 c0 00 02 01",
                                      kV4},
                      ClientParseCase{"trailing bytes ignored",
                                      "01 01 00 0c 21 12 a4 42 01 02 03 04 05 06 07 08 09 0a 0b 0c"
                                      "00 20 00 08 00 01 f5 23 e1 12 a6 43 ff ff",
                                      kV4}));

TEST(StunResponse, ClientRejectsBadResponses) {
  auto bad = [](std::string_view h) { return !parse_binding_response(hex(h)).has_value(); };
  EXPECT_TRUE(bad(""));
  EXPECT_TRUE(bad(kSpecRequest));  // a request, not a response
  EXPECT_TRUE(
      bad("01 01 00 10 21 12 a4 42 01 02 03 04 05 06 07 08 09 0a 0b 0c"
          "00 20 00 08 00 01 f5 23 e1 12 a6 43"));  // length past datagram
  EXPECT_TRUE(bad("01 01 00 00 21 12 a4 42 01 02 03 04 05 06 07 08 09 0a 0b 0c"));  // no address
}

// The amplification rule: the reply's size depends only on the source's family.
TEST(StunResponse, SizeNeverDependsOnTheRequest) {
  std::array<std::uint8_t, kMaxResponseSize> out{};
  EXPECT_EQ(write_binding_response(kTxid, kV4, out), kResponseSizeV4);
  EXPECT_EQ(write_binding_response(kTxid, kV4Mapped, out), kResponseSizeV4);
  EXPECT_EQ(write_binding_response(kTxid, kV6, out), kResponseSizeV6);
  EXPECT_LE(kResponseSizeV4, kTailscaleRequestSize);
}

TEST(StunResponse, RoundTripsThroughClientParser) {
  for (const Endpoint& e :
       {kV4, kV6, Endpoint::v4({127, 0, 0, 1}, 1),
        Endpoint::v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 65535)}) {
    std::array<std::uint8_t, kMaxResponseSize> out{};
    const std::size_t n = write_binding_response(kTxid, e, out);
    const auto r = parse_binding_response(Bytes(out).first(n));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->mapped, e);
    EXPECT_EQ(r->txid, kTxid);
  }
}

}  // namespace
}  // namespace derp::stun
