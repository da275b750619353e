#include "derpctl/probe/map_source.h"

#include "relay/client/http_call.h"
#include "relay/files/small_file.h"
#include "relay/tls/client_context.h"

namespace derpctl::probe {

boost::asio::awaitable<DerpMapResult> load_derp_map(Executor ex, std::string where,
                                                    std::string ca_file,
                                                    std::chrono::milliseconds timeout) {
  const bool url = where.starts_with("http://") || where.starts_with("https://");
  std::string text;
  DerpMapResult failed;
  if (url) {
    derp::client::HttpCall call;
    call.timeout = timeout;
    call.max_body = kMaxDerpMapBytes;
    call.headers.emplace_back("Accept", "application/json");
    // Named, not temporaries in the co_await: gcc 12 destroys such temporaries twice.
    auto tls = derp::tls::make_client_context(true, ca_file);
    auto answer = co_await derp::client::call_url(ex, where, call, tls);
    if (!answer.reached) {
      failed.error = "fetching the DERP map from " + where + ": " + answer.error;
    } else if (answer.status != 200) {
      failed.error =
          "fetching the DERP map from " + where + ": HTTP status " + std::to_string(answer.status);
    } else if (answer.body_too_large) {
      failed.error = "the DERP map at " + where + " is larger than 4 MiB";
    } else {
      text = std::move(answer.body);
    }
  } else {
    const std::string path = where.starts_with("file://") ? where.substr(7) : where;
    auto file = derp::files::read_small_file(path, kMaxDerpMapBytes);
    if (!file.text) {
      failed.error = "reading the DERP map: " + file.error;
    } else {
      text = std::move(*file.text);
    }
  }
  if (!failed.error.empty()) co_return failed;
  auto parsed = parse_derp_map(text);
  if (!parsed.error.empty()) parsed.error = where + ": " + parsed.error;
  co_return parsed;
}

std::optional<DerpMap> MapKeeper::after_load(const DerpMapResult& fresh,
                                             std::chrono::steady_clock::time_point now) {
  if (fresh.error.empty()) {
    last_ = fresh.map;
    loaded_at_ = now;
    return last_;
  }
  if (last_ && now - loaded_at_ < kMapReuseLimit) return last_;
  return std::nullopt;
}

}  // namespace derpctl::probe
