// Secret files are written so that nothing planted beside them can redirect the write, and an
// operator is told when one can be read by others.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "relay/files/atomic_file.h"
#include "relay/files/secret_permissions.h"

namespace derp::files {
namespace {

namespace fs = std::filesystem;

struct TempFolder {
  TempFolder() {
    std::string tmpl = (fs::temp_directory_path() / "atomic-file-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempFolder() { fs::remove_all(path); }
  fs::path path;
};

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  ::lstat(p.c_str(), &st);
  return st.st_mode & 07777;
}

TEST(AtomicFile, WritesTheDataWithTheModeWhateverTheUmask) {
  TempFolder dir;
  const mode_t old_umask = ::umask(0);
  write_file_atomically(dir.path / "key", "secret", 0600);
  ::umask(old_umask);
  EXPECT_EQ(read(dir.path / "key"), "secret");
  EXPECT_EQ(mode_of(dir.path / "key"), 0600u);
  // Nothing left beside it.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()), 1);
}

TEST(AtomicFile, ASymlinkAtTheOldTemporaryNameIsNotFollowed) {
  TempFolder dir;
  const fs::path victim = dir.path / "victim";
  std::ofstream(victim) << "untouched";
  fs::permissions(victim, fs::perms(0644));
  // The name the old code wrote through.
  fs::create_symlink(victim, dir.path / ("key.tmp." + std::to_string(::getpid())));
  write_file_atomically(dir.path / "key", "secret", 0600);
  EXPECT_EQ(read(victim), "untouched");
  EXPECT_EQ(read(dir.path / "key"), "secret");
}

TEST(AtomicFile, ASymlinkAtThePathIsReplacedNotFollowed) {
  TempFolder dir;
  const fs::path victim = dir.path / "victim";
  std::ofstream(victim) << "untouched";
  fs::create_symlink(victim, dir.path / "key");
  write_file_atomically(dir.path / "key", "secret", 0600);
  EXPECT_EQ(read(victim), "untouched");
  EXPECT_FALSE(fs::is_symlink(dir.path / "key"));
  EXPECT_EQ(read(dir.path / "key"), "secret");
}

TEST(AtomicFile, AMissingFolderIsAClearError) {
  TempFolder dir;
  try {
    write_file_atomically(dir.path / "missing" / "key", "secret", 0600);
    FAIL() << "wrote into a folder that does not exist";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write " + (dir.path / "missing/key").string() +
                                         " (create): No such file or directory"),
              std::string::npos)
        << e.what();
  }
}

TEST(SecretPermissions, OnlyTheOwnerMayRead) {
  TempFolder dir;
  const fs::path secret = dir.path / "mesh.key";
  write_file_atomically(secret, "00", 0600);
  EXPECT_EQ(secret_file_exposure(secret), "");
  fs::permissions(secret, fs::perms(0640));
  EXPECT_EQ(secret_file_exposure(secret),
            "is readable by group or others (mode 640); chmod 600 it");
  fs::permissions(secret, fs::perms(0604));
  EXPECT_NE(secret_file_exposure(secret), "");
  // Through a symlink, the file read is what counts.
  fs::permissions(secret, fs::perms(0600));
  fs::create_symlink(secret, dir.path / "link");
  EXPECT_EQ(secret_file_exposure(dir.path / "link"), "");
  EXPECT_EQ(secret_file_exposure(dir.path / "missing"), "");
}

}  // namespace
}  // namespace derp::files
