// The node's side of --admit-file: loads the rules, hands them to the admission checks, re-reads
// them on SIGHUP, and edits them for the admin API (`derpctl admit`), writing the file each time.
// A new deny rule also closes the connected clients it matches (mesh peers excepted).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "relay/admin/node_facts.h"
#include "relay/admission/admission.h"
#include "relay/admission/admit_list.h"
#include "relay/server/server.h"

namespace derp::main {

class AdmitControl {
 public:
  // A missing file is an empty list (the file is created at the first change). Throws
  // std::runtime_error naming the file and line for one that does not parse.
  AdmitControl(server::Server& server, std::shared_ptr<admission::Admission> admission,
               std::string path);

  // SIGHUP: reads the file again; on an error the rules stay as they were (logged).
  void reload();
  admin::AdmitRulesResult list() const;
  admin::AdmitRulesResult change(admin::AdmitAction action, const std::string& target);

 private:
  admin::AdmitRulesResult result_locked() const;
  std::size_t close_matching(const admission::AdmitRule& rule);

  server::Server& server_;
  std::shared_ptr<admission::Admission> admission_;
  const std::string path_;
  mutable std::mutex mu_;
  admission::AdmitList rules_;
};

}  // namespace derp::main
