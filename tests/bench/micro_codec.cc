// Micro-benchmarks of the DERP frame codec's hot path (relay/protocol/frame.h): what the server
// does per relayed packet (header, SendPacket parse, RecvPacket prefix + copy) and what a client
// does per sent packet (append_send_packet).
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "relay/protocol/frame.h"

namespace {

using namespace derp::protocol;

NodePublic some_key(std::uint8_t seed) {
  NodePublic k;
  for (std::size_t i = 0; i < k.bytes.size(); ++i)
    k.bytes[i] = static_cast<std::uint8_t>(seed + i * 7);
  return k;
}

std::vector<std::uint8_t> send_frame(std::size_t packet_len) {
  std::vector<std::uint8_t> packet(packet_len, 0xab), out;
  append_send_packet(out, some_key(1), packet);
  return out;
}

void BM_ParseFrameHeader(benchmark::State& state) {
  auto frame = send_frame(1200);
  for (auto _ : state) {
    auto h = parse_frame_header(frame);
    benchmark::DoNotOptimize(h);
  }
}
BENCHMARK(BM_ParseFrameHeader);

void BM_ParseSendPacket(benchmark::State& state) {
  auto frame = send_frame(static_cast<std::size_t>(state.range(0)));
  Bytes payload = Bytes(frame).subspan(kFrameHeaderLen);
  for (auto _ : state) {
    auto f = parse_send_packet(payload);
    benchmark::DoNotOptimize(f);
  }
}
BENCHMARK(BM_ParseSendPacket)->Arg(64)->Arg(1200)->Arg(9000);

// Header + SendPacket parse + RecvPacket prefix + payload copy into a pooled-size buffer: the
// codec work of relaying one packet.
void BM_RelayOnePacket(benchmark::State& state) {
  const auto len = static_cast<std::size_t>(state.range(0));
  auto frame = send_frame(len);
  std::vector<std::uint8_t> out(kFrameHeaderLen + kKeyLen + len);
  const NodePublic src = some_key(9);
  for (auto _ : state) {
    auto h = parse_frame_header(frame);
    auto f = parse_send_packet(Bytes(frame).subspan(kFrameHeaderLen, h->length));
    write_recv_packet_prefix(out.data(), src, f.value.packet.size());
    std::memcpy(out.data() + kFrameHeaderLen + kKeyLen, f.value.packet.data(),
                f.value.packet.size());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(len));
}
BENCHMARK(BM_RelayOnePacket)->Arg(64)->Arg(1200)->Arg(9000);

void BM_WriteRecvPacketPrefix(benchmark::State& state) {
  std::uint8_t out[kFrameHeaderLen + kKeyLen];
  const NodePublic src = some_key(3);
  for (auto _ : state) {
    write_recv_packet_prefix(out, src, 1200);
    benchmark::DoNotOptimize(out);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_WriteRecvPacketPrefix);

// A batching sender: append_send_packet into a reused vector, 32 packets per batch.
void BM_AppendSendPacket(benchmark::State& state) {
  const auto len = static_cast<std::size_t>(state.range(0));
  std::vector<std::uint8_t> packet(len, 0x5a), out;
  const NodePublic dst = some_key(5);
  out.reserve(32 * (kFrameHeaderLen + kKeyLen + len));
  for (auto _ : state) {
    out.clear();
    for (int i = 0; i < 32; ++i) append_send_packet(out, dst, packet);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 32);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * 32 *
                          static_cast<std::int64_t>(len));
}
BENCHMARK(BM_AppendSendPacket)->Arg(64)->Arg(1200)->Arg(9000);

}  // namespace
