// A unique scratch directory under /tmp for the file-system syscall tests,
// removed with everything in it when the test ends. Uses libc (mkdtemp,
// opendir/readdir, unlinkat), which itself exercises the syscalls under
// test, so a broken getdents or unlinkat shows up as leftover files.
#ifndef MOAT_TESTS_SYSCALLS_TEMP_DIR_H_
#define MOAT_TESTS_SYSCALLS_TEMP_DIR_H_

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace moat_test {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/moat-fs-test-XXXXXX";
    if (mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    if (!path_.empty()) RemoveTree(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const {
    return path_ + "/" + name;
  }

  // Removes `path` and everything under it (best effort).
  static void RemoveTree(const std::string& path) {
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
      chmod(path.c_str(), 0700);
      if (DIR* d = opendir(path.c_str())) {
        while (struct dirent* e = readdir(d)) {
          if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
          }
          RemoveTree(path + "/" + e->d_name);
        }
        closedir(d);
      }
      rmdir(path.c_str());
    } else {
      unlink(path.c_str());
    }
  }

 private:
  std::string path_;
};

// Writes `data` to a new file at `path` (mode 0644).
inline bool WriteFile(const std::string& path, const std::string& data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = write(fd, data.data(), data.size()) ==
            static_cast<ssize_t>(data.size());
  close(fd);
  return ok;
}

}  // namespace moat_test

#define ASSERT_TEMP_DIR(d) ASSERT_TRUE((d).ok()) << "mkdtemp under /tmp failed"

#endif  // MOAT_TESTS_SYSCALLS_TEMP_DIR_H_
