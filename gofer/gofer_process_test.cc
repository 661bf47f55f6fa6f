// The gofer as a process: the client fails with EIO promptly when the gofer
// dies or stalls, and RunGoferProcess serves real requests from inside its
// pivot_root and under its seccomp filter.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gofer/gofer_test_util.h"
#include "gofer/process.h"
#include "gofer/seccomp_policy.h"
#include "gofer/wire.h"
#include "gtest/gtest.h"

namespace moat::gofer::testing {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Waits for `pid` and returns its wait status.
int Reap(pid_t pid) {
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return status;
}

TEST_F(GoferTest, StoppedServerGivesEioPromptly) {
  Start();
  GoferHandle file = WalkAll({"file.txt"});
  server_->Stop();  // Shuts its ends down, as a crash would close them.
  auto start = Clock::now();
  EXPECT_EQ(client_->Stat(file).error(), EIO);
  EXPECT_EQ(client_->Walk(root_handle_, {"a"}).error(), EIO);
  EXPECT_EQ(client_->Open(file, O_RDONLY).error(), EIO);
  EXPECT_LT(SecondsSince(start), 1.0);
  EXPECT_EQ(client_->live_channels(), 0u);
}

TEST_F(GoferTest, KilledGoferProcessGivesEioEvenMidRequest) {
  std::vector<UniqueFd> client_ends, server_ends;
  MakeChannels(3, &client_ends, &server_ends);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // A gofer that takes requests and never answers them.
    for (;;) pause();
  }
  server_ends.clear();
  GoferClient client(std::move(client_ends), absl::Seconds(30));
  std::thread killer([pid] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    kill(pid, SIGKILL);
  });
  auto start = Clock::now();
  // In flight when the gofer dies: EOF wakes it, not the 30 s timeout.
  EXPECT_EQ(client.Attach().error(), EIO);
  EXPECT_LT(SecondsSince(start), 1.0);
  killer.join();
  EXPECT_TRUE(WIFSIGNALED(Reap(pid)));
  start = Clock::now();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(client.Attach().error(), EIO);
  EXPECT_LT(SecondsSince(start), 1.0);
  EXPECT_EQ(client.live_channels(), 0u);
}

TEST(GoferClientTimeoutTest, StalledGoferHitsTheBackstop) {
  std::vector<UniqueFd> client_ends, server_ends;
  MakeChannels(1, &client_ends, &server_ends);
  GoferClient client(std::move(client_ends), absl::Milliseconds(200));
  auto start = Clock::now();
  EXPECT_EQ(client.Attach().error(), EIO);  // Nobody reads server_ends.
  double took = SecondsSince(start);
  EXPECT_GE(took, 0.15);
  EXPECT_LT(took, 1.0);
  EXPECT_EQ(client.live_channels(), 0u);
}

TEST(GoferSeccompTest, SyscallOutsideTheListKills) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (!InstallGoferSeccompFilter().ok()) _exit(2);
    syscall(SYS_getppid);  // Not on the list.
    _exit(0);
  }
  int status = Reap(pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGSYS);
}

// Forks `moat gofer`'s body on root_ and returns its pid.
pid_t ForkGoferProcess(const std::string& root, bool read_only,
                       std::vector<UniqueFd>* client_ends) {
  std::vector<UniqueFd> server_ends;
  MakeChannels(2, client_ends, &server_ends);
  pid_t pid = fork();
  if (pid == 0) {
    client_ends->clear();
    GoferProcessOptions options{.root = root, .read_only = read_only};
    for (UniqueFd& fd : server_ends) options.channel_fds.push_back(fd.release());
    absl::Status s = RunGoferProcess(options);
    if (!s.ok()) {
      fprintf(stderr, "RunGoferProcess: %s\n", s.ToString().c_str());
      _exit(1);
    }
    _exit(0);
  }
  return pid;
}

TEST_F(GoferTest, RunGoferProcessServesUnderItsSeccompFilter) {
  if (geteuid() != 0) GTEST_SKIP() << "pivot_root/chroot need root";
  std::vector<UniqueFd> client_ends;
  pid_t pid = ForkGoferProcess(root_, false, &client_ends);
  ASSERT_GT(pid, 0);
  {
    GoferClient client(std::move(client_ends), absl::Seconds(5));
    auto root = client.Attach();
    ASSERT_TRUE(root.ok()) << root.error();
    GoferHandle r = root->handle;
    auto w = client.Walk(r, {"a", "b", "c.txt"});
    ASSERT_TRUE(w.ok());
    ASSERT_EQ(w->stop, WalkResponse::DONE);
    auto fd = client.Open(w->walked[2].handle, O_RDONLY);
    ASSERT_TRUE(fd.ok()) << fd.error();
    EXPECT_EQ(ReadFd(fd->get()), "hello");
    auto c = client.Create(r, "made", O_RDWR, 0644);
    ASSERT_TRUE(c.ok()) << c.error();
    ASSERT_EQ(write(c->fd.get(), "out", 3), 3);
    auto d = client.Mkdir(r, "dir", 0755);
    ASSERT_TRUE(d.ok()) << d.error();
    ASSERT_TRUE(client.Mknod(d->handle, "fifo", S_IFIFO | 0600).ok());
    auto s = client.Symlink(d->handle, "sl", "/etc/passwd");
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(*client.Readlink(s->handle), "/etc/passwd");
    ASSERT_TRUE(client.Link(c->file.handle, d->handle, "hard").ok());
    auto dents = client.Getdents(d->handle, 0);
    ASSERT_TRUE(dents.ok()) << dents.error();
    EXPECT_EQ(dents->size(), 3u);
    SetStatFields f;
    f.mode = 0600;
    f.size = 1;
    f.uid = 1000;
    f.mtime = timespec{0, UTIME_NOW};
    ASSERT_TRUE(client.SetStat(c->file.handle, f).ok());
    ASSERT_TRUE(client.Fsync(c->file.handle, false).ok());
    ASSERT_TRUE(client.Fsync(d->handle, true).ok());
    ASSERT_TRUE(client.StatFs(r).ok());
    ASSERT_TRUE(client.Stat(r).ok());
    ASSERT_TRUE(client.Rename(d->handle, "hard", r, "hard2", 0).ok());
    ASSERT_TRUE(client.Unlink(r, "hard2", 0).ok());
    ASSERT_TRUE(client.Unlink(d->handle, "fifo", 0).ok());
    EXPECT_EQ(client.Walk(r, {".."}).error(), EINVAL);
    // Many handles at once, and concurrent channels, under the filter.
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&client, r] {
        for (int i = 0; i < 50; ++i) {
          auto x = client.Walk(r, {"a", "b"});
          if (x.ok()) {
            std::vector<GoferHandle> hs;
            for (auto& h : x->walked) hs.push_back(h.handle);
            (void)client.Close(hs);
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    ASSERT_TRUE(client.Close(std::vector<GoferHandle>{r}).ok());
    EXPECT_EQ(client.live_channels(), 2u);
  }  // Closing the channels ends the gofer.
  int status = Reap(pid);
  ASSERT_TRUE(WIFEXITED(status)) << "gofer died by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(ReadHostFile(root_ + "/made"), "o");
  struct stat host;
  ASSERT_EQ(stat((root_ + "/made").c_str(), &host), 0);
  EXPECT_EQ(host.st_uid, 1000u);
}

TEST_F(GoferTest, RunGoferProcessReadOnly) {
  if (geteuid() != 0) GTEST_SKIP() << "pivot_root/chroot need root";
  std::vector<UniqueFd> client_ends;
  pid_t pid = ForkGoferProcess(root_, true, &client_ends);
  ASSERT_GT(pid, 0);
  {
    GoferClient client(std::move(client_ends), absl::Seconds(5));
    auto root = client.Attach();
    ASSERT_TRUE(root.ok());
    EXPECT_EQ(client.Mkdir(root->handle, "x", 0755).error(), EROFS);
    auto w = client.Walk(root->handle, {"file.txt"});
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(client.Open(w->walked[0].handle, O_RDWR).error(), EROFS);
    auto fd = client.Open(w->walked[0].handle, O_RDONLY);
    ASSERT_TRUE(fd.ok());
    EXPECT_EQ(ReadFd(fd->get()), "data");
  }
  int status = Reap(pid);
  ASSERT_TRUE(WIFEXITED(status)) << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// The real `moat gofer` (jemalloc and all) under its filter, when the moat
// binary has been built beside this test.
TEST_F(GoferTest, MoatGoferSubcommandServes) {
  if (geteuid() != 0) GTEST_SKIP() << "pivot_root/chroot need root";
  if (access(MOAT_BINARY, X_OK) != 0) {
    GTEST_SKIP() << MOAT_BINARY << " not built";
  }
  std::vector<UniqueFd> client_ends, server_ends;
  MakeChannels(2, &client_ends, &server_ends);
  std::string fds = absl::StrCat("--fds=", server_ends[0].get(), ",",
                                 server_ends[1].get());
  std::string root = "--root=" + root_;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    for (UniqueFd& fd : server_ends) fcntl(fd.get(), F_SETFD, 0);
    execl(MOAT_BINARY, "moat", "gofer", root.c_str(), fds.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  server_ends.clear();
  {
    GoferClient client(std::move(client_ends), absl::Seconds(5));
    auto r = client.Attach();
    ASSERT_TRUE(r.ok()) << r.error();
    auto w = client.Walk(r->handle, {"a", "b", "c.txt"});
    ASSERT_TRUE(w.ok());
    auto fd = client.Open(w->walked[2].handle, O_RDWR);
    ASSERT_TRUE(fd.ok());
    EXPECT_EQ(ReadFd(fd->get()), "hello");
    auto c = client.Create(r->handle, "via_cli", O_RDWR, 0644);
    ASSERT_TRUE(c.ok());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&client, h = r->handle] {
        for (int i = 0; i < 50; ++i) {
          auto x = client.Getdents(h, 0);
          EXPECT_TRUE(x.ok());
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(client.live_channels(), 2u);
  }
  int status = Reap(pid);
  ASSERT_TRUE(WIFEXITED(status)) << "moat gofer died by signal "
                                 << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  struct stat host;
  EXPECT_EQ(stat((root_ + "/via_cli").c_str(), &host), 0);
}

}  // namespace
}  // namespace moat::gofer::testing
