// Micro-benchmarks of the per-packet registry lookup (relay/server/client_registry.h) with 10k and
// 100k keys, hits and misses, from one and two threads (the shard locks are shared_mutexes).
//
// Keys are registered as mesh routes (add_forwarder): add() of a local connection needs a live
// ClientSession, and the lookup does the same work (shard pick, shared lock, hash find) either way;
// a local hit also walks the key's one member, a few cycles more.
#include <benchmark/benchmark.h>

#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include "relay/server/client_registry.h"

namespace {

using derp::protocol::NodePublic;
using derp::server::ClientRegistry;

std::vector<NodePublic> random_keys(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<NodePublic> keys(n);
  for (auto& k : keys)
    for (std::size_t i = 0; i < k.bytes.size(); i += 8) {
      std::uint64_t v = rng();
      __builtin_memcpy(k.bytes.data() + i, &v, 8);
    }
  return keys;
}

struct Fixture {
  std::unique_ptr<ClientRegistry> registry;
  std::vector<NodePublic> present, absent;
};

// One registry per size, shared by the threads of a run.
Fixture& fixture(std::size_t n) {
  static std::mutex mu;
  static std::vector<std::pair<std::size_t, std::unique_ptr<Fixture>>> all;
  std::lock_guard lock(mu);
  for (auto& [size, f] : all)
    if (size == n) return *f;
  auto f = std::make_unique<Fixture>();
  f->registry = std::make_unique<ClientRegistry>([](std::uint32_t, derp::server::WorkerMessage) {});
  f->present = random_keys(n, 42);
  f->absent = random_keys(n, 4242);
  for (auto& k : f->present) f->registry->add_forwarder(k, 1);
  all.emplace_back(n, std::move(f));
  return *all.back().second;
}

void lookup(benchmark::State& state, bool hit) {
  Fixture& f = fixture(static_cast<std::size_t>(state.range(0)));
  const auto& keys = hit ? f.present : f.absent;
  // Each thread walks the keys from its own offset in a scattered order (stride coprime to n).
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7919 % keys.size();
  const std::size_t stride = 104729 % keys.size();
  for (auto _ : state) {
    auto r = f.registry->lookup(keys[i]);
    benchmark::DoNotOptimize(r);
    i += stride;
    if (i >= keys.size()) i -= keys.size();
  }
}

void BM_RegistryLookupHit(benchmark::State& state) {
  lookup(state, true);
}
void BM_RegistryLookupMiss(benchmark::State& state) {
  lookup(state, false);
}
BENCHMARK(BM_RegistryLookupHit)->Arg(10'000)->Arg(100'000)->Threads(1)->Threads(2);
BENCHMARK(BM_RegistryLookupMiss)->Arg(10'000)->Arg(100'000)->Threads(1)->Threads(2);

}  // namespace
