// libFuzzer target: an --admit-file as the node reads it (operators edit it by hand), and what
// the node writes back must parse to the same rules.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "relay/admission/admit_list.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string error;
  auto list = derp::admission::parse_admit_list(
      std::string_view(reinterpret_cast<const char*>(data), size), error);
  if (!list) return 0;
  auto again = derp::admission::parse_admit_list(derp::admission::format_admit_list(*list), error);
  if (!again || again->rules.size() != list->rules.size()) __builtin_trap();
  for (std::size_t i = 0; i < list->rules.size(); ++i) {
    if (again->rules[i].text() != list->rules[i].text()) __builtin_trap();
  }
  return 0;
}
