// Round trips of every gofer operation, client to in-process server over
// socketpairs, on a temporary tree; read-only mode; concurrency and limits.
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gofer/gofer_test_util.h"
#include "gtest/gtest.h"

namespace moat::gofer::testing {
namespace {

TEST_F(GoferTest, WalksSeveralComponentsAtOnce) {
  Start();
  auto w = client_->Walk(root_handle_, {"a", "b", "c.txt"});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->stop, WalkResponse::DONE);
  ASSERT_EQ(w->walked.size(), 3u);
  EXPECT_TRUE(S_ISDIR(w->walked[0].stat.st_mode));
  EXPECT_TRUE(S_ISDIR(w->walked[1].stat.st_mode));
  EXPECT_TRUE(S_ISREG(w->walked[2].stat.st_mode));
  EXPECT_EQ(w->walked[2].stat.st_size, 5);
  struct stat host;
  ASSERT_EQ(stat((root_ + "/a/b/c.txt").c_str(), &host), 0);
  EXPECT_EQ(w->walked[2].stat.st_ino, host.st_ino);
}

TEST_F(GoferTest, WalkStopsAtMissingComponent) {
  Start();
  auto w = client_->Walk(root_handle_, {"a", "nope", "x"});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->stop, WalkResponse::MISSING);
  EXPECT_EQ(w->stop_index, 1u);
  EXPECT_EQ(w->stop_error, ENOENT);
  EXPECT_EQ(w->walked.size(), 1u);
}

TEST_F(GoferTest, WalkStopsAtSymlinkAndReturnsIt) {
  Start();
  auto w = client_->Walk(root_handle_, {"a", "lnk", "c.txt"});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->stop, WalkResponse::SYMLINK);
  EXPECT_EQ(w->stop_index, 1u);
  ASSERT_EQ(w->walked.size(), 2u);
  EXPECT_TRUE(S_ISLNK(w->walked[1].stat.st_mode));
  auto target = client_->Readlink(w->walked[1].handle);
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(*target, "b");
  // Readlink of a non-symlink is EINVAL, as readlink(2).
  EXPECT_EQ(client_->Readlink(w->walked[0].handle).error(), EINVAL);
}

TEST_F(GoferTest, WalkThroughAFileIsNotDir) {
  Start();
  auto w = client_->Walk(root_handle_, {"file.txt", "x"});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->stop, WalkResponse::ERROR);
  EXPECT_EQ(w->stop_index, 1u);
  EXPECT_EQ(w->stop_error, ENOTDIR);
}

TEST_F(GoferTest, OpenDonatesAUsableFd) {
  Start();
  GoferHandle file = WalkAll({"a", "b", "c.txt"});
  auto fd = client_->Open(file, O_RDWR);
  ASSERT_TRUE(fd.ok()) << fd.error();
  ASSERT_TRUE(fd->valid());
  EXPECT_EQ(ReadFd(fd->get()), "hello");
  ASSERT_EQ(pwrite(fd->get(), "J", 1, 0), 1);
  EXPECT_EQ(ReadHostFile(root_ + "/a/b/c.txt"), "Jello");
  // Donated fds are close-on-exec.
  EXPECT_TRUE(fcntl(fd->get(), F_GETFD) & FD_CLOEXEC);
  // O_TRUNC is honoured.
  auto trunc = client_->Open(file, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(trunc.ok());
  EXPECT_EQ(ReadHostFile(root_ + "/a/b/c.txt"), "");
}

TEST_F(GoferTest, OpenDirectoryAndBadFlags) {
  Start();
  GoferHandle dir = WalkAll({"a"});
  auto rd = client_->Open(dir, O_RDONLY);
  ASSERT_TRUE(rd.ok());
  EXPECT_FALSE(rd->valid());  // Directories are read with Getdents.
  EXPECT_EQ(client_->Open(dir, O_RDWR).error(), EISDIR);
  GoferHandle file = WalkAll({"file.txt"});
  EXPECT_EQ(client_->Open(file, O_RDONLY | O_CREAT).error(), EINVAL);
  EXPECT_EQ(client_->Open(file, O_PATH).error(), EINVAL);
  EXPECT_EQ(client_->Open(file, O_ACCMODE).error(), EINVAL);
  EXPECT_EQ(client_->Open(999999, O_RDONLY).error(), EBADF);
}

TEST_F(GoferTest, CreateIsExclusiveAndDonatesTheFd) {
  Start();
  auto c = client_->Create(root_handle_, "new.txt", O_RDWR, 0640);
  ASSERT_TRUE(c.ok()) << c.error();
  ASSERT_TRUE(c->fd.valid());
  EXPECT_TRUE(S_ISREG(c->file.stat.st_mode));
  EXPECT_EQ(c->file.stat.st_mode & 0777, 0640u);
  ASSERT_EQ(write(c->fd.get(), "xyz", 3), 3);
  EXPECT_EQ(ReadHostFile(root_ + "/new.txt"), "xyz");
  auto st = client_->Stat(c->file.handle);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_size, 3);
  EXPECT_EQ(client_->Create(root_handle_, "new.txt", O_RDWR, 0640).error(),
            EEXIST);
  // An existing symlink is not followed: EEXIST as well.
  GoferHandle a = WalkAll({"a"});
  EXPECT_EQ(client_->Create(a, "lnk", O_RDWR, 0640).error(), EEXIST);
}

TEST_F(GoferTest, MkdirMknodSymlinkLink) {
  Start();
  auto d = client_->Mkdir(root_handle_, "dir", 0750);
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_TRUE(S_ISDIR(d->stat.st_mode));
  EXPECT_EQ(client_->Mkdir(root_handle_, "dir", 0750).error(), EEXIST);
  // The new handle is a usable directory handle.
  auto inner = client_->Mkdir(d->handle, "inner", 0700);
  ASSERT_TRUE(inner.ok());
  struct stat host;
  ASSERT_EQ(stat((root_ + "/dir/inner").c_str(), &host), 0);

  auto fifo = client_->Mknod(root_handle_, "fifo", S_IFIFO | 0600);
  ASSERT_TRUE(fifo.ok()) << fifo.error();
  EXPECT_TRUE(S_ISFIFO(fifo->stat.st_mode));
  auto reg = client_->Mknod(root_handle_, "reg", 0600);
  ASSERT_TRUE(reg.ok());
  EXPECT_TRUE(S_ISREG(reg->stat.st_mode));
  EXPECT_EQ(client_->Mknod(root_handle_, "dev", S_IFCHR | 0600).error(), EPERM);
  EXPECT_EQ(client_->Mknod(root_handle_, "blk", S_IFBLK | 0600).error(), EPERM);
  // A FIFO is never opened on the host.
  EXPECT_EQ(client_->Open(fifo->handle, O_RDONLY).error(), EPERM);

  auto sl = client_->Symlink(root_handle_, "sl", "some/where");
  ASSERT_TRUE(sl.ok());
  EXPECT_TRUE(S_ISLNK(sl->stat.st_mode));
  auto target = client_->Readlink(sl->handle);
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(*target, "some/where");
  EXPECT_EQ(client_->Symlink(root_handle_, "empty", "").error(), ENOENT);

  GoferHandle file = WalkAll({"file.txt"});
  auto linked = client_->Link(file, d->handle, "hard");
  ASSERT_TRUE(linked.ok()) << linked.error();
  EXPECT_EQ(linked->st_nlink, 2u);
  EXPECT_EQ(ReadHostFile(root_ + "/dir/hard"), "data");
  EXPECT_EQ(client_->Link(d->handle, root_handle_, "dirlink").error(), EPERM);
}

TEST_F(GoferTest, UnlinkAndRmdir) {
  Start();
  GoferHandle a = WalkAll({"a"});
  EXPECT_EQ(client_->Unlink(a, "b", 0).error(), EISDIR);
  EXPECT_EQ(client_->Unlink(a, "b", AT_REMOVEDIR).error(), ENOTEMPTY);
  GoferHandle b = WalkAll({"a", "b"});
  ASSERT_TRUE(client_->Unlink(b, "c.txt", 0).ok());
  ASSERT_TRUE(client_->Unlink(a, "b", AT_REMOVEDIR).ok());
  ASSERT_TRUE(client_->Unlink(a, "lnk", 0).ok());
  struct stat host;
  EXPECT_NE(lstat((root_ + "/a/b").c_str(), &host), 0);
  EXPECT_NE(lstat((root_ + "/a/lnk").c_str(), &host), 0);
  EXPECT_EQ(client_->Unlink(a, "gone", 0).error(), ENOENT);
  EXPECT_EQ(client_->Unlink(a, "x", 0x1000).error(), EINVAL);
}

TEST_F(GoferTest, RenameWithRenameat2Flags) {
  Start();
  GoferHandle b = WalkAll({"a", "b"});
  ASSERT_TRUE(client_->Rename(root_handle_, "file.txt", b, "moved", 0).ok());
  EXPECT_EQ(ReadHostFile(root_ + "/a/b/moved"), "data");
  EXPECT_EQ(
      client_->Rename(b, "moved", b, "c.txt", RENAME_NOREPLACE).error(),
      EEXIST);
  ASSERT_TRUE(client_->Rename(b, "moved", b, "c.txt", RENAME_EXCHANGE).ok());
  EXPECT_EQ(ReadHostFile(root_ + "/a/b/c.txt"), "data");
  EXPECT_EQ(ReadHostFile(root_ + "/a/b/moved"), "hello");
  EXPECT_EQ(client_->Rename(b, "moved", b, "x", RENAME_WHITEOUT).error(),
            EINVAL);
}

TEST_F(GoferTest, GetdentsListsEverythingInPages) {
  Start();
  auto d = client_->Mkdir(root_handle_, "many", 0755);
  ASSERT_TRUE(d.ok());
  std::set<std::string> want;
  for (int i = 0; i < 300; ++i) {
    std::string name = absl::StrCat("file_", i, std::string(100, 'x'));
    WriteHostFile(root_ + "/many/" + name, "");
    want.insert(name);
  }
  ASSERT_TRUE(client_->Mkdir(d->handle, "sub", 0755).ok());
  want.insert("sub");
  std::set<std::string> got;
  int64_t offset = 0;
  int pages = 0;
  for (;;) {
    auto page = client_->Getdents(d->handle, offset, 50);
    ASSERT_TRUE(page.ok()) << page.error();
    if (page->empty()) break;
    ASSERT_LE(page->size(), 50u);
    ++pages;
    for (const DirEntry& e : *page) {
      EXPECT_NE(e.name, ".");
      EXPECT_NE(e.name, "..");
      EXPECT_EQ(e.type, e.name == "sub" ? DT_DIR : DT_REG);
      EXPECT_NE(e.ino, 0u);
      EXPECT_TRUE(got.insert(e.name).second) << "duplicate " << e.name;
    }
    offset = page->back().next_offset;
  }
  EXPECT_EQ(got, want);
  EXPECT_GE(pages, 7);
  // Without a count, a page is bounded by the message size, not the caller.
  auto big = client_->Getdents(d->handle, 0, 0);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->size(), 301u);
  EXPECT_EQ(client_->Getdents(WalkAll({"file.txt"}), 0).error(), ENOTDIR);
}

TEST_F(GoferTest, SetStatChangesEachFieldInOneCall) {
  Start();
  GoferHandle file = WalkAll({"file.txt"});
  SetStatFields f;
  f.mode = 0600;
  f.size = 2;
  f.mtime = timespec{1000, 5};
  f.atime = timespec{0, UTIME_OMIT};
  auto st = client_->SetStat(file, f);
  ASSERT_TRUE(st.ok()) << st.error();
  EXPECT_EQ(st->st_mode & 07777, 0600u);
  EXPECT_EQ(st->st_size, 2);
  EXPECT_EQ(st->st_mtim.tv_sec, 1000);
  EXPECT_EQ(st->st_mtim.tv_nsec, 5);
  EXPECT_EQ(ReadHostFile(root_ + "/file.txt"), "da");
  struct stat host;
  ASSERT_EQ(stat((root_ + "/file.txt").c_str(), &host), 0);
  EXPECT_EQ(host.st_mode & 07777, 0600u);
  EXPECT_EQ(host.st_mtim.tv_sec, 1000);

  SetStatFields now;
  now.atime = timespec{0, UTIME_NOW};
  auto st2 = client_->SetStat(file, now);
  ASSERT_TRUE(st2.ok());
  EXPECT_GT(st2->st_atim.tv_sec, 1000);
  EXPECT_EQ(st2->st_mtim.tv_sec, 1000);  // UTIME_OMIT'd above, untouched now.

  if (geteuid() == 0) {
    SetStatFields owner;
    owner.uid = 1234;
    owner.gid = 5678;
    auto st3 = client_->SetStat(file, owner);
    ASSERT_TRUE(st3.ok());
    EXPECT_EQ(st3->st_uid, 1234u);
    EXPECT_EQ(st3->st_gid, 5678u);
  }
  SetStatFields bad_size;
  bad_size.size = 1;
  EXPECT_EQ(client_->SetStat(WalkAll({"a"}), bad_size).error(), EISDIR);
}

TEST_F(GoferTest, CreateWithOwner) {
  if (geteuid() != 0) GTEST_SKIP() << "chown needs root";
  Start();
  auto c = client_->Create(root_handle_, "owned", O_WRONLY, 0600,
                           NewOwner{4321, 8765});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->file.stat.st_uid, 4321u);
  EXPECT_EQ(c->file.stat.st_gid, 8765u);
  auto d = client_->Mkdir(root_handle_, "owned_dir", 0700, NewOwner{11, 12});
  ASSERT_TRUE(d.ok());
  struct stat host;
  ASSERT_EQ(stat((root_ + "/owned_dir").c_str(), &host), 0);
  EXPECT_EQ(host.st_uid, 11u);
}

TEST_F(GoferTest, StatFsAndFsync) {
  Start();
  auto fs = client_->StatFs(root_handle_);
  ASSERT_TRUE(fs.ok());
  struct statfs host;
  ASSERT_EQ(statfs(root_.c_str(), &host), 0);
  EXPECT_EQ(fs->f_type, host.f_type);
  EXPECT_EQ(fs->f_namelen, host.f_namelen);
  EXPECT_TRUE(client_->Fsync(WalkAll({"file.txt"}), false).ok());
  EXPECT_TRUE(client_->Fsync(WalkAll({"file.txt"}), true).ok());
  EXPECT_TRUE(client_->Fsync(root_handle_, false).ok());
  auto lnk = client_->Walk(root_handle_, {"a", "lnk"});
  ASSERT_TRUE(lnk.ok());
  EXPECT_EQ(client_->Fsync(lnk->walked.back().handle, false).error(), EINVAL);
}

TEST_F(GoferTest, CloseReleasesHandles) {
  Start();
  size_t before = server_->handle_count();
  auto w = client_->Walk(root_handle_, {"a", "b", "c.txt"});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(server_->handle_count(), before + 3);
  std::vector<GoferHandle> handles;
  for (const auto& h : w->walked) handles.push_back(h.handle);
  handles.push_back(123456789);  // Unknown: ignored.
  ASSERT_TRUE(client_->Close(handles).ok());
  EXPECT_EQ(server_->handle_count(), before);
  EXPECT_EQ(client_->Stat(handles[0]).error(), EBADF);
}

TEST_F(GoferTest, ReadOnlyRefusesEveryMutation) {
  GoferServerOptions options;
  options.read_only = true;
  Start(std::move(options));
  GoferHandle file = WalkAll({"file.txt"});
  GoferHandle a = WalkAll({"a"});
  EXPECT_EQ(client_->Create(root_handle_, "n", O_RDWR, 0644).error(), EROFS);
  EXPECT_EQ(client_->Mkdir(root_handle_, "n", 0755).error(), EROFS);
  EXPECT_EQ(client_->Mknod(root_handle_, "n", S_IFIFO | 0644).error(), EROFS);
  EXPECT_EQ(client_->Symlink(root_handle_, "n", "t").error(), EROFS);
  EXPECT_EQ(client_->Link(file, root_handle_, "n").error(), EROFS);
  EXPECT_EQ(client_->Unlink(root_handle_, "file.txt", 0).error(), EROFS);
  EXPECT_EQ(client_->Unlink(a, "b", AT_REMOVEDIR).error(), EROFS);
  EXPECT_EQ(client_->Rename(root_handle_, "file.txt", a, "x", 0).error(),
            EROFS);
  SetStatFields f;
  f.mode = 0777;
  EXPECT_EQ(client_->SetStat(file, f).error(), EROFS);
  EXPECT_EQ(client_->Open(file, O_RDWR).error(), EROFS);
  EXPECT_EQ(client_->Open(file, O_WRONLY).error(), EROFS);
  EXPECT_EQ(client_->Open(file, O_RDONLY | O_TRUNC).error(), EROFS);
  auto rd = client_->Open(file, O_RDONLY);
  ASSERT_TRUE(rd.ok());
  EXPECT_EQ(ReadFd(rd->get()), "data");
  EXPECT_TRUE(client_->Getdents(root_handle_, 0).ok());
  EXPECT_EQ(ReadHostFile(root_ + "/file.txt"), "data");
}

TEST_F(GoferTest, ConcurrentRequestsOnSeveralChannels) {
  Start({}, 4);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        auto w = client_->Walk(root_handle_, {"a", "b", "c.txt"});
        if (!w.ok() || w->walked.size() != 3) {
          ++failures;
          continue;
        }
        auto fd = client_->Open(w->walked[2].handle, O_RDONLY);
        if (!fd.ok() || ReadFd(fd->get()) != "hello") ++failures;
        std::vector<GoferHandle> hs;
        for (const auto& h : w->walked) hs.push_back(h.handle);
        if (!client_->Close(hs).ok()) ++failures;
      }
      (void)t;
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(server_->handle_count(), 1u);  // Only the root's.
}

TEST_F(GoferTest, HandleTableIsBounded) {
  GoferServerOptions options;
  options.max_handles = 3;  // The root plus two.
  Start(std::move(options));
  auto w = client_->Walk(root_handle_, {"a", "b", "c.txt"});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->stop, WalkResponse::ERROR);
  EXPECT_EQ(w->stop_index, 2u);
  EXPECT_EQ(w->stop_error, ENFILE);
  EXPECT_EQ(w->walked.size(), 2u);
  EXPECT_EQ(client_->Attach().error(), ENFILE);
}

}  // namespace
}  // namespace moat::gofer::testing
