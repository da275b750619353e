// The --mesh-with list (protocol §5.1): which siblings to dial and how.
#pragma once

#include <string>
#include <vector>

namespace derp::mesh {

struct MeshPeer {
  std::string name;             // the entry as the operator wrote it, for logs and health
  std::string url;              // https://host[:port]/derp, or the given http(s):// URL
  std::string tls_server_name;  // SNI and the name verified in the sibling's certificate
  std::string dial_host;        // connect here instead (the "host/dialhost" form); "" = host
};

// Parses "host1,host2:8443,host3/10.0.0.3,http://127.0.0.2:3340". Entries naming this node's own
// hostname are skipped (a sibling that turns out to be this node is also caught by key).
// Throws std::runtime_error naming the bad entry.
std::vector<MeshPeer> parse_mesh_with(const std::string& list, const std::string& own_hostname);

// --mesh-with-file: the same entries, one per line (commas separate too); "#" starts a comment.
// Throws std::runtime_error as parse_mesh_with.
std::vector<MeshPeer> parse_mesh_with_file(const std::string& text,
                                           const std::string& own_hostname);
// What derpctl mesh add/remove write back to that file: a header, then one entry per line.
std::string format_mesh_with_file(const std::vector<std::string>& names);

}  // namespace derp::mesh
