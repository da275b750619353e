// The certificate rows `derpctl status` and `derpctl cert` print.
#pragma once

#include "derpctl/output.h"
#include "derpd/admin/v1/admin.pb.h"

namespace derpctl {

void add_cert_rows(const derpd::admin::v1::TlsCertificate& c, Table& t);

}  // namespace derpctl
