// The node's region membership: siblings from --mesh-with and --mesh-with-file linked through
// mesh::MeshMembership, the file re-read on SIGHUP, and derpctl mesh add/remove (written back to
// the file when the node has one). Scaling a region needs no restart of the nodes already in it.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mesh/mesh_membership.h"
#include "relay/admin/node_facts.h"

namespace derp::main {

class MeshControl {
 public:
  // Throws std::runtime_error with operator text: a malformed list or file, or siblings without
  // the mesh key. Without a mesh key there is no membership at all (enabled() is false).
  MeshControl(server::Server& server, bool have_mesh_key, mesh::MeshLinkOptions link_options,
              std::string own_hostname, const std::string& mesh_with, std::string mesh_with_file);
  ~MeshControl();

  bool enabled() const { return membership_ != nullptr; }
  // Links to every listed sibling; the server must be running.
  void start();
  // SIGHUP: re-reads --mesh-with-file and links or unlinks what changed. A file that no longer
  // parses is logged and changes nothing.
  void reload();
  // The periodic check (every 30 s, with the certificate's): reloads when the file's text changed.
  // A Kubernetes ConfigMap update reaches a mounted file this way, with no signal to send.
  void reload_if_changed();
  admin::MeshChangeResult change(const std::string& entry, bool add);
  std::vector<std::shared_ptr<mesh::MeshLink>> links() const;
  std::vector<std::string> names() const;
  void stop();

 private:
  std::vector<mesh::MeshPeer> read_file();
  std::vector<mesh::MeshPeer> wanted(const std::vector<mesh::MeshPeer>& from_file) const;
  bool from_flag(const std::string& name) const;
  std::string save();  // "" or why the file could not be written

  std::string hostname_;
  std::vector<mesh::MeshPeer> flag_peers_;
  std::string file_;
  std::string file_text_;  // as last read
  std::unique_ptr<mesh::MeshMembership> membership_;
  std::mutex change_mu_;  // one change at a time: each is a read-modify-write of the file
};

}  // namespace derp::main
