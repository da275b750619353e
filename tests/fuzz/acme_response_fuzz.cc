// libFuzzer target: what an ACME server (or anyone answering in its place: the directory URL is
// configurable) sends back. Every parser either returns its object or says why; an order's and
// a problem's texts stay printable.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "relay/acme/messages.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace derp::acme;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto check = [](const auto& parsed) {
    if (parsed.value.has_value() == !parsed.error.empty()) __builtin_trap();
  };
  check(parse_directory(text));
  check(parse_account(text));
  auto order = parse_order(text);
  check(order);
  if (order.value && order.value->error) (void)order.value->error->text();
  auto authz = parse_authorization(text);
  check(authz);
  if (authz.value) (void)authz.value->challenge("tls-alpn-01");
  check(parse_challenge(text));
  auto problem = parse_problem(text);
  check(problem);
  if (problem.value) (void)problem.value->text();
  return 0;
}
