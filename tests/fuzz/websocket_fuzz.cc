// Client bytes after a valid WebSocket upgrade, read the way derpd reads them: Beast's server-side
// WebSocket parser with derpd's message limit (1 MiB), binary-only. Beast's in-memory test stream
// stands in for the socket (a real one adds nothing to parsing and would slow the fuzzer).
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace beast = boost::beast;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static constexpr std::string_view kUpgrade =
      "GET /derp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Key: 2+8SvPoc1aCu1n+nKY8Fxg==\r\nSec-WebSocket-Protocol: derp\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  // Once, not per input: an io_context costs an epoll set, an eventfd and a timerfd.
  static boost::asio::io_context io;
  // The peer takes what the server writes (the 101, pongs, the close). Without one every write
  // fails, the accept with it, and no input byte was ever parsed as a frame: for a while this
  // target fuzzed nothing but its own fixed upgrade request.
  beast::test::stream socket(io);
  beast::test::stream peer(io);
  socket.connect(peer);
  socket.append(kUpgrade);
  socket.append(std::string_view(reinterpret_cast<const char*>(data), size));
  socket.close_remote();  // reads end after the input
  beast::websocket::stream<beast::test::stream&> ws(socket);
  ws.read_message_max(1 << 20);
  beast::error_code ec;
  ws.accept(ec);
  // The upgrade is fixed and valid: an accept that fails means the harness is broken, and a
  // broken harness must not pass quietly.
  if (ec) std::abort();
  beast::flat_buffer buffer;
  std::size_t total = 0;
  while (!ec && total < (4u << 20)) {
    std::size_t n = ws.read_some(buffer, 16384, ec);
    total += n;
    if (!ec && ws.got_text()) break;  // derpd closes with 1003 here
    buffer.consume(buffer.size());
  }
  return 0;
}
