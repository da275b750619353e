// derpctl cert renew: an ACME node obtains a new certificate now (derpctl status shows the one
// served and the last renewal).
#include "derpctl/cert.h"

#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>

#include "derpctl/admin_connection.h"
#include "derpctl/command.h"

namespace derpctl {

void add_cert_rows(const pb::TlsCertificate& c, Table& t) {
  t.add({"tls mode", c.certmode().empty() ? "manual" : c.certmode()});
  if (!c.present()) {
    t.add({"tls certificate", "none yet: waiting for the CA (TLS handshakes are refused)"});
  } else {
    std::string sans;
    for (const auto& s : c.sans()) sans += (sans.empty() ? "" : ", ") + s;
    t.add({"tls subject", c.subject()});
    t.add({"tls names", sans.empty() ? "none" : sans});
    t.add({"tls issuer", c.issuer()});
    t.add({"tls expires", format_time(c.not_after())});
  }
  if (!c.acme_directory().empty()) t.add({"acme directory", c.acme_directory()});
  if (c.has_last_renewal_attempt()) {
    t.add({"last renewal", format_time(c.last_renewal_attempt()) +
                               (c.last_renewal_ok() ? " ok: " : " FAILED: ") +
                               c.last_renewal_result()});
  } else if (!c.acme_directory().empty()) {
    t.add({"last renewal", "none since start"});
  }
  if (c.has_next_renewal_check())
    t.add({"next renewal check", format_time(c.next_renewal_check())});
}

namespace {

int run_renew(const Globals& g) {
  AdminConnection conn(g, g.admin);
  pb::RenewCertificateResponse reply;
  // A renewal waits for the CA's validation: the server answers within 5 minutes.
  auto ctx = conn.context(/*streaming=*/true);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(6));
  conn.check(conn.stub().RenewCertificate(ctx.get(), {}, &reply), "RenewCertificate");
  if (g.output != Output::kTable) {
    std::cout << to_json(reply).dump(g.output == Output::kJson ? 2 : -1) << '\n';
    return reply.ok() ? kOk : kError;
  }
  if (!reply.ok()) {
    std::cerr << "derpctl: renewal failed: " << reply.result()
              << "\nderpctl: the node keeps serving its current certificate\n";
    return kError;
  }
  std::cout << "renewed: " << reply.result() << '\n';
  Table t({"FIELD", "VALUE"});
  add_cert_rows(reply.tls(), t);
  t.print(std::cout);
  return kOk;
}

}  // namespace

void add_cert_commands(CLI::App& app, Globals& g, Action& action) {
  auto* cert = app.add_subcommand("cert", "The node's TLS certificate (see also: status)");
  cert->require_subcommand(1);
  auto* renew = cert->add_subcommand(
      "renew",
      "ACME nodes (--certmode letsencrypt/gcp): obtain a new certificate now, due or not. New "
      "connections get it; open ones keep theirs. Exit status 1 when the CA did not issue");
  renew->callback([&] { action = [&] { return run_renew(g); }; });
}

}  // namespace derpctl
