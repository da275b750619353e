#include "relay/tls/tls_socket.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <stdexcept>
#include <vector>

#include "relay/transport/send_backlog.h"
#include "relay/transport/socket_calls.h"

namespace derp::tls {

namespace asio = boost::asio;

namespace {

// OpenSSL pulls up to this much ciphertext per recv(); the buffer exists only while a read is in
// progress (SSL_MODE_RELEASE_BUFFERS), so it costs nothing on idle connections.
constexpr std::size_t kReadAheadBytes = 64 * 1024;
// The per-thread ciphertext collector gives its memory back past this size.
constexpr std::size_t kRetainedCiphertextBytes = 256 * 1024;

struct SocketBioState {
  int fd = -1;
  bool drained = false;  // the last recv() found the socket empty
  bool eof = false;
  int error = 0;  // errno of a failed recv()
};

// Everything OpenSSL writes during one call on this thread; sent right after the call returns.
thread_local std::vector<std::uint8_t> t_ciphertext;

int socket_bio_read(BIO* bio, char* out, int len) {
  auto* st = static_cast<SocketBioState*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  IoResult r = transport::recv_nonblocking(st->fd, reinterpret_cast<std::uint8_t*>(out),
                                           static_cast<std::size_t>(len), st->drained);
  if (r.bytes > 0) return static_cast<int>(r.bytes);
  if (r.wait == IoWait::kReadable) {
    BIO_set_retry_read(bio);
    return -1;
  }
  if (r.error == asio::error::eof) {
    st->eof = true;
    return 0;
  }
  st->error = r.error.value();
  return -1;
}

// Never refuses: records are gathered and leave in one send() once the SSL call returns.
int socket_bio_write(BIO*, const char* data, int len) {
  auto* p = reinterpret_cast<const std::uint8_t*>(data);
  t_ciphertext.insert(t_ciphertext.end(), p, p + len);
  return len;
}

long socket_bio_ctrl(BIO* bio, int cmd, long, void* ptr) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_C_GET_FD: {  // SSL_get_fd(): the ClientHello callback asks for the local address
      const int fd = static_cast<SocketBioState*>(BIO_get_data(bio))->fd;
      if (ptr != nullptr) *static_cast<int*>(ptr) = fd;
      return fd;
    }
    case BIO_CTRL_EOF:  // lets OpenSSL tell an unexpected EOF from other failures
      return static_cast<SocketBioState*>(BIO_get_data(bio))->eof ? 1 : 0;
    default:
      return 0;  // no kTLS, nothing pending inside the BIO
  }
}

int socket_bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

BIO_METHOD* socket_bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "derp socket");
    if (!m || BIO_meth_set_read(m, socket_bio_read) != 1 ||
        BIO_meth_set_write(m, socket_bio_write) != 1 ||
        BIO_meth_set_ctrl(m, socket_bio_ctrl) != 1 ||
        BIO_meth_set_create(m, socket_bio_create) != 1) {
      throw std::runtime_error("cannot create the OpenSSL socket BIO method");
    }
    return m;
  }();
  return method;
}

}  // namespace

struct TlsSocket::Impl {
  std::shared_ptr<asio::ssl::context> context;
  SSL* ssl = nullptr;
  SocketBioState bio;
  transport::SendBacklog backlog;

  ~Impl() { SSL_free(ssl); }

  // Turns a failed SSL call into what the caller waits for, or the error that ends it.
  IoResult failure(int ret) {
    IoResult r;
    switch (SSL_get_error(ssl, ret)) {
      case SSL_ERROR_WANT_READ:
        r.wait = IoWait::kReadable;
        break;
      case SSL_ERROR_WANT_WRITE:
        r.wait = IoWait::kWritable;
        break;
      case SSL_ERROR_ZERO_RETURN:
        r.error = asio::error::eof;
        break;
      case SSL_ERROR_SYSCALL:
        r.error = bio.error ? boost::system::error_code(bio.error, boost::system::system_category())
                            : boost::system::error_code(asio::error::eof);
        break;
      default:
        if (bio.eof) {
          r.error = asio::error::eof;  // closed mid-record: no close_notify, same as a clean end
        } else if (unsigned long e = ERR_peek_last_error()) {
          r.error = boost::system::error_code(static_cast<int>(e), asio::error::get_ssl_category());
        } else {
          r.error = asio::ssl::error::stream_truncated;
        }
    }
    ERR_clear_error();
    return r;
  }

  // Runs one SSL call (which returns 1 on success and sets its byte count), then sends whatever
  // OpenSSL wrote during it.
  template <class SslCall>
  IoResult call(SslCall ssl_call) {
    if (bio.fd < 0) return IoResult{0, IoWait::kNone, asio::error::bad_descriptor};
    ERR_clear_error();
    std::size_t n = 0;
    int ret = ssl_call(ssl, n);
    IoResult r;
    if (ret == 1) {
      r.bytes = n;
    } else {
      r = failure(ret);
    }
    send_ciphertext(r);
    return r;
  }

  void send_ciphertext(IoResult& r) {
    if (t_ciphertext.empty()) return;
    boost::system::error_code ec;
    backlog.send(bio.fd, t_ciphertext.data(), t_ciphertext.size(), ec);
    t_ciphertext.clear();
    if (t_ciphertext.capacity() > kRetainedCiphertextBytes) {
      std::vector<std::uint8_t>().swap(t_ciphertext);
    }
    if (ec && !r.failed()) r.error = ec;
  }
};

TlsSocket::TlsSocket(asio::ip::tcp::socket socket, std::shared_ptr<asio::ssl::context> context,
                     TlsRole role)
    : impl_(std::make_unique<Impl>()), socket_(std::move(socket)) {
  impl_->context = std::move(context);
  impl_->bio.fd = socket_.native_handle();
  impl_->ssl = SSL_new(impl_->context->native_handle());
  BIO* bio = impl_->ssl ? BIO_new(socket_bio_method()) : nullptr;
  if (!bio) {
    ERR_clear_error();
    throw std::runtime_error("cannot create a TLS session (out of memory?)");
  }
  BIO_set_data(bio, &impl_->bio);
  SSL_set_bio(impl_->ssl, bio, bio);
  if (role == TlsRole::kServer) {
    SSL_set_accept_state(impl_->ssl);
  } else {
    SSL_set_connect_state(impl_->ssl);
  }
  SSL_set_read_ahead(impl_->ssl, 1);
  SSL_set_default_read_buffer_len(impl_->ssl, kReadAheadBytes);
}

TlsSocket::TlsSocket(TlsSocket&& other) noexcept = default;
TlsSocket::~TlsSocket() = default;

// Someone may have closed the socket (the pre-upgrade guard, a WebSocket close) and the number
// may already belong to another connection: OpenSSL must never touch a stale descriptor.
TlsSocket::Impl& TlsSocket::io() {
  impl_->bio.fd = socket_.is_open() ? socket_.native_handle() : -1;
  return *impl_;
}

IoResult TlsSocket::handshake_step() {
  return io().call([](SSL* ssl, std::size_t& n) {
    n = 0;
    return SSL_do_handshake(ssl);
  });
}

IoResult TlsSocket::read(std::uint8_t* buf, std::size_t len) {
  if (len == 0) return {};
  // SSL_read returns one record at most, and a Tailscale client sends one record per packet.
  // Reading one per turn of the event loop made every packet a turn of its own, a wake-up of its
  // receiver's writer and a write of its own. So every record already received (and whatever the
  // socket holds) is read now, up to `len`, as a plain socket's recv would.
  // Whatever OpenSSL writes meanwhile (the answer to a KeyUpdate) is sent by call().
  IoResult total;
  for (;;) {
    std::uint8_t* at = buf + total.bytes;
    const std::size_t room = len - total.bytes;
    IoResult r =
        io().call([at, room](SSL* ssl, std::size_t& n) { return SSL_read_ex(ssl, at, room, &n); });
    if (r.failed() && total.bytes > 0) {
      // Hand over what was read first, without the error: Beast-style callers drop the bytes
      // of a read that fails (a Restarting frame followed by close_notify in one segment).
      // The next call meets the end or the error again.
      break;
    }
    total.bytes += r.bytes;
    total.error = r.error;
    total.wait = r.wait;
    if (r.failed() || r.wait != IoWait::kNone || total.bytes == len || !more_to_read()) break;
  }
  // Bytes already read may come with a wait; the caller processes them first.
  return total;
}

SSL* TlsSocket::native_handle() const {
  return impl_->ssl;
}

bool TlsSocket::more_to_read() const {
  return SSL_has_pending(impl_->ssl) == 1 || !impl_->bio.drained;
}

IoResult TlsSocket::write(const std::uint8_t* data, std::size_t len) {
  if (len == 0) return {};
  IoResult r =
      io().call([data, len](SSL* ssl, std::size_t& n) { return SSL_write_ex(ssl, data, len, &n); });
  if (!r.failed() && output_pending()) r.wait = IoWait::kWritable;
  return r;
}

IoResult TlsSocket::flush() {
  Impl& impl = io();
  if (impl.bio.fd < 0) return IoResult{0, IoWait::kNone, asio::error::bad_descriptor};
  return impl.backlog.flush(impl.bio.fd);
}

bool TlsSocket::output_pending() const {
  return impl_->backlog.pending();
}

std::chrono::steady_clock::time_point TlsSocket::output_pending_since() const {
  return impl_->backlog.pending_since();
}

IoResult TlsSocket::write_goodbye() {
  return io().call([](SSL* ssl, std::size_t& n) {
    n = 0;
    // 0 means "sent, the peer's close_notify not yet seen": all we ask for.
    int ret = SSL_shutdown(ssl);
    return ret >= 0 ? 1 : ret;
  });
}

void TlsSocket::close() {
  transport::close_socket(socket_);
}

void teardown(boost::beast::role_type, TlsSocket& socket, boost::system::error_code& ec) {
  ec = {};
  socket.close();
}

}  // namespace derp::tls
