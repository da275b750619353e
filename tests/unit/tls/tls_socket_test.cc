// TlsSocket against Asio's own TLS client over real loopback sockets: bulk data both ways with a
// socket small enough to fill (the backlog path), readiness-driven reads, and the ways a
// connection ends (garbage instead of a ClientHello, a peer that closes).
#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <thread>
#include <vector>

#include "relay/tls/client_context.h"
#include "relay/tls/server_context.h"
#include "relay/tls/test_ca.h"
#include "relay/tls/tls_socket.h"
#include "tests/unit/tls/tls_harness.h"

namespace derp::tls {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr std::size_t kBulkBytes = 4 * 1024 * 1024;

std::uint8_t pattern(std::size_t i) {
  return static_cast<std::uint8_t>((i * 131) ^ (i >> 13));
}

// A server TlsSocket on its own thread and io_context, and a blocking Asio TLS client.
class TlsSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_test_pki(dir_.path(), {"localhost"});
    store_ = std::make_unique<CertStore>(ServerTlsConfig{"manual", dir_.path(), "localhost", {}},
                                         protocol::NodePrivate::generate().public_key());
  }

  // Accepts one connection and hands the server side to `serve` on the server thread; returns
  // once `serve`'s work is done or after 20 s (a hang fails the test).
  template <class Serve, class Client>
  void run(Serve serve, Client client, int server_sndbuf = 0) {
    tcp::acceptor acceptor(server_io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    auto endpoint = acceptor.local_endpoint();
    std::thread server([&] {
      tcp::socket sock(server_io_);
      acceptor.accept(sock);
      if (server_sndbuf > 0) {
        ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_SNDBUF, &server_sndbuf,
                     sizeof(server_sndbuf));
      }
      auto tls = std::make_shared<TlsSocket>(std::move(sock), store_->current());
      serve(tls);
      server_io_.run_for(std::chrono::seconds(20));
      EXPECT_TRUE(server_io_.stopped()) << "server side did not finish within 20 s";
    });
    auto client_ctx = make_client_context(false, "");
    asio::ssl::stream<tcp::socket> stream(client_io_, *client_ctx);
    if (server_sndbuf > 0) {
      // Small buffers on both ends: 64 KiB writes cannot all fit, whatever the timing.
      stream.next_layer().open(tcp::v4());
      ::setsockopt(stream.next_layer().native_handle(), SOL_SOCKET, SO_RCVBUF, &server_sndbuf,
                   sizeof(server_sndbuf));
    }
    stream.next_layer().connect(endpoint);
    SSL_set_tlsext_host_name(stream.native_handle(), "localhost");
    client(stream);
    server.join();
  }

  testing::TempDir dir_;
  std::unique_ptr<CertStore> store_;
  asio::io_context server_io_;
  asio::io_context client_io_;
};

// Writes `total` pattern bytes in 64 KiB steps, waiting for writability whenever ciphertext is
// left over; counts how often that happened.
struct BulkWriter : std::enable_shared_from_this<BulkWriter> {
  std::shared_ptr<TlsSocket> tls;
  std::size_t total = 0, offered = 0;
  int backlogs = 0;
  boost::system::error_code error;
  std::vector<std::uint8_t> chunk = std::vector<std::uint8_t>(64 * 1024);

  void step() {
    if (tls->output_pending()) {
      auto f = tls->flush();
      if (f.failed()) return fail(f.error);
      if (tls->output_pending()) return wait();
    }
    while (offered < total) {
      std::size_t n = std::min(chunk.size(), total - offered);
      for (std::size_t i = 0; i < n; ++i) chunk[i] = pattern(offered + i);
      auto r = tls->write(chunk.data(), n);
      if (r.failed()) return fail(r.error);
      EXPECT_EQ(r.bytes, n) << "write() takes all plaintext";
      offered += n;
      if (tls->output_pending()) {
        ++backlogs;
        return wait();
      }
    }
  }
  void wait() {
    tls->socket().async_wait(tcp::socket::wait_write,
                             [self = shared_from_this()](boost::system::error_code ec) {
                               if (ec) return self->fail(ec);
                               self->step();
                             });
  }
  void fail(boost::system::error_code ec) { error = ec; }
};

TEST_F(TlsSocketTest, BulkWriteThroughAFullSocketArrivesIntactAndInOrder) {
  auto writer = std::make_shared<BulkWriter>();
  run(
      [&](std::shared_ptr<TlsSocket> tls) {
        writer->tls = tls;
        writer->total = kBulkBytes;
        tls->async_handshake([writer](boost::system::error_code ec) {
          if (ec) return writer->fail(ec);
          writer->step();
        });
      },
      [&](asio::ssl::stream<tcp::socket>& client) {
        client.handshake(asio::ssl::stream_base::client);
        std::vector<std::uint8_t> got(kBulkBytes);
        asio::read(client, asio::buffer(got));
        for (std::size_t i = 0; i < got.size(); ++i) {
          ASSERT_EQ(got[i], pattern(i)) << "at byte " << i;
        }
      },
      /*server_sndbuf=*/4096);
  EXPECT_FALSE(writer->error) << writer->error.message();
  EXPECT_EQ(writer->offered, kBulkBytes);
  EXPECT_GT(writer->backlogs, 0) << "the socket never filled: the backlog path was not exercised";
  EXPECT_FALSE(writer->tls->output_pending());
}

TEST_F(TlsSocketTest, ReadsEverythingTheClientSendsThenSeesItsEof) {
  std::size_t received = 0;
  bool mismatch = false;
  boost::system::error_code end;
  std::vector<std::uint8_t> buf(64 * 1024);
  std::function<void(std::shared_ptr<TlsSocket>)> pump = [&](std::shared_ptr<TlsSocket> tls) {
    for (;;) {
      auto r = tls->read(buf.data(), buf.size());
      for (std::size_t i = 0; i < r.bytes; ++i) mismatch |= buf[i] != pattern(received + i);
      received += r.bytes;
      if (r.failed()) {
        end = r.error;
        return;
      }
      if (r.wait == IoWait::kReadable || !tls->more_to_read()) {
        tls->socket().async_wait(tcp::socket::wait_read, [&, tls](boost::system::error_code ec) {
          if (!ec) pump(tls);
        });
        return;
      }
    }
  };
  run(
      [&](std::shared_ptr<TlsSocket> tls) {
        tls->async_handshake([&, tls](boost::system::error_code ec) {
          ASSERT_FALSE(ec) << ec.message();
          pump(tls);
        });
      },
      [&](asio::ssl::stream<tcp::socket>& client) {
        client.handshake(asio::ssl::stream_base::client);
        std::vector<std::uint8_t> data(kBulkBytes);
        for (std::size_t i = 0; i < data.size(); ++i) data[i] = pattern(i);
        // Odd-sized writes, so records and reads never line up.
        for (std::size_t off = 0; off < data.size();) {
          std::size_t n = std::min<std::size_t>(7919, data.size() - off);
          asio::write(client, asio::buffer(data.data() + off, n));
          off += n;
        }
        client.next_layer().shutdown(tcp::socket::shutdown_send);
      });
  EXPECT_EQ(received, kBulkBytes);
  EXPECT_FALSE(mismatch);
  EXPECT_EQ(end, asio::error::eof) << end.message();
}

// A Tailscale client sends one record per packet; derpd reads every record already received in
// one call. When close_notify arrived with them, the records come first, without the error (a
// caller that drops the bytes of a failed read would lose the last packets, e.g. a Restarting
// frame before the goodbye), and the end comes with the next call.
TEST_F(TlsSocketTest, ReadsEveryBufferedRecordAndReportsTheEndOnTheNextCall) {
  constexpr int kRecords = 5;
  constexpr std::size_t kRecordBytes = 100;
  // TLS 1.3 AES-GCM: 5-byte header, content type byte, 16-byte tag; close_notify is 2 bytes.
  constexpr int kCiphertext = kRecords * (kRecordBytes + 22) + (2 + 22);
  IoResult first, second;
  run(
      [&](std::shared_ptr<TlsSocket> tls) {
        tls->async_handshake([&, tls](boost::system::error_code ec) {
          ASSERT_FALSE(ec) << ec.message();
          // Wait until every record and the close_notify are in the socket (state, not time).
          int queued = 0;
          const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
          while (queued < kCiphertext && std::chrono::steady_clock::now() < deadline) {
            ::ioctl(tls->socket().native_handle(), FIONREAD, &queued);
            if (queued < kCiphertext) std::this_thread::yield();
          }
          ASSERT_GE(queued, kCiphertext);
          std::vector<std::uint8_t> buf(16 * 1024);
          first = tls->read(buf.data(), buf.size());
          second = tls->read(buf.data(), buf.size());
          tls->close();
        });
      },
      [&](asio::ssl::stream<tcp::socket>& client) {
        client.handshake(asio::ssl::stream_base::client);
        const std::vector<std::uint8_t> record(kRecordBytes, 0x5a);
        for (int i = 0; i < kRecords; ++i) asio::write(client, asio::buffer(record));
        boost::system::error_code ignored;
        client.shutdown(ignored);  // sends close_notify; returns once the server closes
      });
  EXPECT_EQ(first.bytes, kRecords * kRecordBytes) << "every buffered record in one read";
  EXPECT_FALSE(first.failed()) << first.error.message();
  EXPECT_EQ(second.bytes, 0u);
  EXPECT_EQ(second.error, asio::error::eof) << second.error.message();
}

TEST_F(TlsSocketTest, GarbageInsteadOfAClientHelloFailsTheHandshake) {
  boost::system::error_code result;
  bool done = false;
  run(
      [&](std::shared_ptr<TlsSocket> tls) {
        tls->async_handshake([&, tls](boost::system::error_code ec) {
          result = ec;
          done = true;
        });
      },
      [&](asio::ssl::stream<tcp::socket>& client) {
        asio::write(client.next_layer(), asio::buffer(std::string("GET / HTTP/1.1\r\n\r\n")));
      });
  EXPECT_TRUE(done);
  EXPECT_TRUE(result) << "a handshake on HTTP text must fail";
  EXPECT_NE(result, asio::error::eof) << "the error names the TLS failure: " << result.message();
}

TEST_F(TlsSocketTest, AsyncOpsCarryHttpBothWays) {
  std::string request;
  run(
      [&](std::shared_ptr<TlsSocket> tls) {
        tls->async_handshake([&, tls](boost::system::error_code ec) {
          ASSERT_FALSE(ec);
          auto buf = std::make_shared<std::array<char, 64>>();
          asio::async_read(*tls, asio::buffer(*buf, 5),
                           [&, tls, buf](boost::system::error_code rec, std::size_t n) {
                             ASSERT_FALSE(rec);
                             request.assign(buf->data(), n);
                             asio::async_write(*tls, asio::buffer(std::string_view("world")),
                                               [tls](boost::system::error_code, std::size_t) {});
                           });
        });
      },
      [&](asio::ssl::stream<tcp::socket>& client) {
        client.handshake(asio::ssl::stream_base::client);
        asio::write(client, asio::buffer(std::string_view("hello")));
        std::array<char, 5> reply;
        asio::read(client, asio::buffer(reply));
        EXPECT_EQ(std::string(reply.data(), 5), "world");
      });
  EXPECT_EQ(request, "hello");
}

TEST_F(TlsSocketTest, NeverTouchesADescriptorClosedUnderIt) {
  IoResult read, write, flush;
  tcp::socket squatter(server_io_);
  run(
      [&](std::shared_ptr<TlsSocket> tls) {
        tls->async_handshake([&, tls](boost::system::error_code ec) {
          ASSERT_FALSE(ec);
          // What the pre-upgrade guard does: close the TCP socket behind the TLS layer's back.
          // The number may be reused by the next accept at once, so every step must refuse.
          const int old_fd = tls->next_layer().native_handle();
          tls->next_layer().close();
          // Linux hands out the lowest free number: this socket now has the old one.
          squatter.open(tcp::v4());
          EXPECT_EQ(squatter.native_handle(), old_fd);
          std::uint8_t buf[16] = {};
          read = tls->read(buf, sizeof(buf));
          write = tls->write(buf, sizeof(buf));
          flush = tls->flush();
        });
      },
      [&](asio::ssl::stream<tcp::socket>& client) {
        client.handshake(asio::ssl::stream_base::client);
      });
  EXPECT_EQ(read.error, asio::error::bad_descriptor);
  EXPECT_EQ(write.error, asio::error::bad_descriptor);
  EXPECT_EQ(flush.error, asio::error::bad_descriptor);
}

}  // namespace
}  // namespace derp::tls
