#include "relay/main/mesh_control.h"

#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "relay/files/atomic_file.h"

namespace derp::main {

MeshControl::MeshControl(server::Server& server, bool have_mesh_key,
                         mesh::MeshLinkOptions link_options, std::string own_hostname,
                         const std::string& mesh_with, std::string mesh_with_file)
    : hostname_(std::move(own_hostname)), file_(std::move(mesh_with_file)) {
  flag_peers_ = mesh::parse_mesh_with(mesh_with, hostname_);
  std::vector<mesh::MeshPeer> from_file;
  if (!file_.empty()) from_file = read_file();
  if (!have_mesh_key) {
    if (!mesh_with.empty() || !file_.empty()) {
      throw std::runtime_error(std::string(mesh_with.empty() ? "--mesh-with-file" : "--mesh-with") +
                               " needs the region's mesh key: pass --mesh-psk-file FILE (64 hex "
                               "digits)");
    }
    return;
  }
  membership_ = std::make_unique<mesh::MeshMembership>(server, std::move(link_options));
}

MeshControl::~MeshControl() = default;

namespace {
std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}
}  // namespace

std::vector<mesh::MeshPeer> MeshControl::read_file() {
  auto text = read_text(file_);
  if (!text) {
    throw std::runtime_error("--mesh-with-file " + file_ +
                             ": cannot read it (create it, even empty, or drop the flag)");
  }
  file_text_ = *text;
  try {
    return mesh::parse_mesh_with_file(*text, hostname_);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("--mesh-with-file " + file_ + ": " + e.what());
  }
}

std::vector<mesh::MeshPeer> MeshControl::wanted(
    const std::vector<mesh::MeshPeer>& from_file) const {
  std::vector<mesh::MeshPeer> all = flag_peers_;
  for (const auto& p : from_file) {
    if (!from_flag(p.name)) all.push_back(p);
  }
  return all;
}

bool MeshControl::from_flag(const std::string& name) const {
  for (const auto& p : flag_peers_) {
    if (p.name == name || p.url == name) return true;
  }
  return false;
}

void MeshControl::start() {
  if (!membership_) return;
  std::lock_guard lock(change_mu_);
  auto change =
      membership_->set_peers(wanted(file_.empty() ? std::vector<mesh::MeshPeer>{} : read_file()));
  if (!change.added.empty()) {
    spdlog::info("meshing with {} sibling(s): {}", change.added.size(),
                 fmt::join(change.added, ", "));
  }
}

void MeshControl::reload() {
  if (!membership_ || file_.empty()) return;
  std::lock_guard lock(change_mu_);
  std::vector<mesh::MeshPeer> from_file;
  try {
    from_file = read_file();
  } catch (const std::runtime_error& e) {
    spdlog::error("mesh siblings not reloaded, the links stay as they are: {}", e.what());
    return;
  }
  auto change = membership_->set_peers(wanted(from_file));
  if (change.added.empty() && change.removed.empty()) {
    spdlog::info("mesh siblings reloaded from {}: no change", file_);
    return;
  }
  spdlog::info("mesh siblings reloaded from {}: added [{}], removed [{}]", file_,
               fmt::join(change.added, ", "), fmt::join(change.removed, ", "));
}

void MeshControl::reload_if_changed() {
  if (!membership_ || file_.empty()) return;
  {
    std::lock_guard lock(change_mu_);
    auto text = read_text(file_);
    if (!text || *text == file_text_) return;
  }
  reload();
}

std::string MeshControl::save() {
  std::string out;
  std::vector<std::string> entries;
  for (const auto& name : membership_->names()) {
    if (!from_flag(name)) entries.push_back(name);
  }
  try {
    auto text = mesh::format_mesh_with_file(entries);
    files::write_file_atomically(file_, text, 0644);
    file_text_ = text;
  } catch (const std::runtime_error& e) {
    out = e.what();
  }
  return out;
}

admin::MeshChangeResult MeshControl::change(const std::string& entry, bool add) {
  using Error = admin::MeshChangeResult::Error;
  admin::MeshChangeResult r;
  if (!membership_) {
    r.error = Error::kNoMeshKey;
    r.message = "this node has no mesh key: restart it with --mesh-psk-file FILE to mesh";
    return r;
  }
  std::lock_guard lock(change_mu_);
  try {
    if (add) {
      auto peers = mesh::parse_mesh_with(entry, hostname_);
      if (peers.size() != 1) {
        r.error = Error::kBadEntry;
        r.message = peers.empty() ? "\"" + entry + "\" names this node itself (--hostname)"
                                  : "one sibling at a time, not a list";
        return r;
      }
      membership_->add(peers.front());
    } else {
      membership_->remove(entry);
    }
  } catch (const mesh::MembershipError& e) {
    using Kind = mesh::MembershipError::Kind;
    r.error = e.kind() == Kind::kAlreadyMember ? Error::kAlreadyMember
              : e.kind() == Kind::kNotMember   ? Error::kNotMember
                                               : Error::kFull;
    r.message = e.what();
    return r;
  } catch (const std::runtime_error& e) {
    r.error = Error::kBadEntry;
    r.message = e.what();
    return r;
  }
  r.peers = membership_->names();
  if (file_.empty()) {
    r.message =
        "not persisted: the node has no --mesh-with-file, so a restart goes back to "
        "--mesh-with";
  } else if (!add && from_flag(entry)) {
    r.message = "\"" + entry +
                "\" is in --mesh-with: it comes back on restart or SIGHUP "
                "unless removed there";
  } else if (auto error = save(); !error.empty()) {
    r.error = Error::kNotSaved;
    r.message = "the link changed but " + error;
    spdlog::error("mesh: {}", r.message);
  } else {
    r.persisted_to = file_;
  }
  return r;
}

std::vector<std::shared_ptr<mesh::MeshLink>> MeshControl::links() const {
  if (!membership_) return {};
  return membership_->links();
}

std::vector<std::string> MeshControl::names() const {
  if (!membership_) return {};
  return membership_->names();
}

void MeshControl::stop() {
  if (membership_) membership_->stop_all();
}

}  // namespace derp::main
