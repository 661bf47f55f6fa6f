// Test fixture for the gofer: a temporary directory tree served by an
// in-process GoferServer over socketpairs, with a GoferClient on the other
// ends. Also small host helpers (write/read files, remove trees).
#ifndef MOAT_GOFER_GOFER_TEST_UTIL_H_
#define MOAT_GOFER_GOFER_TEST_UTIL_H_

#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gofer/client.h"
#include "gofer/server.h"
#include "gtest/gtest.h"

namespace moat::gofer::testing {

inline void WriteHostFile(const std::string& path, const std::string& data) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                   0644));
  ASSERT_TRUE(fd.valid()) << path;
  ASSERT_EQ(write(fd.get(), data.data(), data.size()),
            static_cast<ssize_t>(data.size()));
}

inline std::string ReadHostFile(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return "<missing>";
  std::string out(4096, '\0');
  ssize_t n = read(fd.get(), out.data(), out.size());
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

inline std::string ReadFd(int fd) {
  std::string out(4096, '\0');
  ssize_t n = pread(fd, out.data(), out.size(), 0);
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

inline void RemoveTree(const std::string& path) {
  nftw(
      path.c_str(),
      [](const char* p, const struct stat*, int, struct FTW*) {
        return remove(p) == 0 ? 0 : 0;
      },
      16, FTW_DEPTH | FTW_PHYS);
}

// A fresh directory under $TMPDIR (or /tmp).
inline std::string MakeTempDir() {
  const char* base = getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr ? base : "/tmp") +
                     "/moat_gofer_test.XXXXXX";
  char* made = mkdtemp(tmpl.data());
  EXPECT_NE(made, nullptr);
  return tmpl;
}

// Client and server ends of `n` SOCK_SEQPACKET channels.
inline void MakeChannels(size_t n, std::vector<UniqueFd>* client,
                         std::vector<UniqueFd>* server) {
  for (size_t i = 0; i < n; ++i) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    client->emplace_back(sv[0]);
    server->emplace_back(sv[1]);
  }
}

// The tree every test starts from, under base_/root:
//   a/b/c.txt = "hello"   file.txt = "data"   a/lnk -> b
// and base_/outside/secret = "SECRET", which must stay out of reach.
class GoferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = MakeTempDir();
    root_ = base_ + "/root";
    outside_ = base_ + "/outside";
    ASSERT_EQ(mkdir(root_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(outside_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root_ + "/a").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root_ + "/a/b").c_str(), 0755), 0);
    WriteHostFile(root_ + "/a/b/c.txt", "hello");
    WriteHostFile(root_ + "/file.txt", "data");
    ASSERT_EQ(symlink("b", (root_ + "/a/lnk").c_str()), 0);
    WriteHostFile(outside_ + "/secret", "SECRET");
  }

  void TearDown() override {
    client_.reset();
    server_.reset();
    RemoveTree(base_);
  }

  // Starts the server on root_ with `channels` channels.
  void Start(GoferServerOptions options = {}, size_t channels = 2,
             absl::Duration timeout = absl::Seconds(5)) {
    UniqueFd root(open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root.valid());
    auto server = GoferServer::Create(std::move(root), std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    std::vector<UniqueFd> client_ends, server_ends;
    MakeChannels(channels, &client_ends, &server_ends);
    for (UniqueFd& fd : server_ends) server_->AddChannel(std::move(fd));
    client_ = std::make_unique<GoferClient>(std::move(client_ends), timeout);
    auto attached = client_->Attach();
    ASSERT_TRUE(attached.ok()) << attached.error();
    root_handle_ = attached->handle;
  }

  // Walks `names` from the root and expects every component walked.
  GoferHandle WalkAll(std::vector<std::string> names) {
    auto w = client_->Walk(root_handle_, names);
    EXPECT_TRUE(w.ok()) << w.error();
    if (!w.ok()) return 0;
    EXPECT_EQ(w->stop, WalkResponse::DONE);
    EXPECT_EQ(w->walked.size(), names.size());
    return w->walked.empty() ? 0 : w->walked.back().handle;
  }

  std::string base_, root_, outside_;
  std::unique_ptr<GoferServer> server_;
  std::unique_ptr<GoferClient> client_;
  GoferHandle root_handle_ = 0;
};

}  // namespace moat::gofer::testing

#endif  // MOAT_GOFER_GOFER_TEST_UTIL_H_
