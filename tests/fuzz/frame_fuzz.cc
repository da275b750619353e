// Feeds arbitrary bytes through the frame header and every payload parser, server and client side.
#include <cstdint>
#include <vector>

#include "relay/protocol/frame.h"

using namespace derp::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Bytes in(data, size);
  while (auto header = parse_frame_header(in)) {
    Bytes rest = in.subspan(kFrameHeaderLen);
    Bytes payload = rest.first(std::min<std::size_t>(header->length, rest.size()));
    (void)parse_client_info(payload);
    (void)parse_send_packet(payload);
    (void)parse_forward_packet(payload);
    (void)parse_note_preferred(payload);
    (void)parse_ping(payload);
    (void)parse_close_peer(payload);
    (void)check_watch_conns(payload);
    (void)parse_server_key(payload);
    (void)parse_recv_packet(payload);
    (void)parse_peer_gone(payload);
    (void)parse_peer_present(payload);
    (void)parse_pong(payload);
    (void)parse_restarting(payload);
    (void)looks_like_disco(payload);
    in = rest.subspan(payload.size());
  }
  return 0;
}
