// Escape attempts and hostile peers: bad names, symlinks out of the root,
// names swapped for symlinks between requests, and malformed messages in
// both directions. The gofer must neither leave its root nor stop serving;
// the client must neither hang nor keep fds it did not ask for.
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gofer/gofer_test_util.h"
#include "gofer/wire.h"
#include "gtest/gtest.h"

namespace moat::gofer::testing {
namespace {

TEST_F(GoferTest, NamesMustBeSingleComponents) {
  Start();
  const std::string bad[] = {"..", ".", "", "a/b", "/etc", std::string("a\0b", 3)};
  for (const std::string& name : bad) {
    SCOPED_TRACE(::testing::PrintToString(name));
    EXPECT_EQ(client_->Walk(root_handle_, {name}).error(), EINVAL);
    EXPECT_EQ(client_->Walk(root_handle_, {"a", name}).error(), EINVAL);
    EXPECT_EQ(client_->Create(root_handle_, name, O_RDWR, 0644).error(),
              EINVAL);
    EXPECT_EQ(client_->Mkdir(root_handle_, name, 0755).error(), EINVAL);
    EXPECT_EQ(client_->Mknod(root_handle_, name, S_IFIFO | 0644).error(),
              EINVAL);
    EXPECT_EQ(client_->Symlink(root_handle_, name, "t").error(), EINVAL);
    EXPECT_EQ(client_->Unlink(root_handle_, name, 0).error(), EINVAL);
    EXPECT_EQ(client_->Rename(root_handle_, name, root_handle_, "x", 0).error(),
              EINVAL);
    EXPECT_EQ(
        client_->Rename(root_handle_, "file.txt", root_handle_, name, 0).error(),
        EINVAL);
    EXPECT_EQ(client_->Link(WalkAll({"file.txt"}), root_handle_, name).error(),
              EINVAL);
  }
  EXPECT_EQ(client_->Walk(root_handle_, {std::string(256, 'n')}).error(),
            ENAMETOOLONG);
  EXPECT_EQ(ReadHostFile(root_ + "/file.txt"), "data");
}

TEST_F(GoferTest, SymlinkOutOfTheRootIsReportedNeverFollowed) {
  ASSERT_EQ(symlink("/etc/passwd", (root_ + "/passwd").c_str()), 0);
  ASSERT_EQ(symlink((outside_ + "/secret").c_str(), (root_ + "/abs").c_str()),
            0);
  ASSERT_EQ(symlink("../outside/secret", (root_ + "/rel").c_str()), 0);
  ASSERT_EQ(symlink(outside_.c_str(), (root_ + "/dirlink").c_str()), 0);
  Start();
  auto pw = client_->Walk(root_handle_, {"passwd"});
  ASSERT_TRUE(pw.ok());
  EXPECT_EQ(pw->stop, WalkResponse::SYMLINK);
  ASSERT_EQ(pw->walked.size(), 1u);
  EXPECT_TRUE(S_ISLNK(pw->walked[0].stat.st_mode));
  auto target = client_->Readlink(pw->walked[0].handle);
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(*target, "/etc/passwd");
  EXPECT_EQ(client_->Open(pw->walked[0].handle, O_RDONLY).error(), ELOOP);

  for (const char* name : {"abs", "rel"}) {
    SCOPED_TRACE(name);
    auto w = client_->Walk(root_handle_, {name});
    ASSERT_TRUE(w.ok());
    ASSERT_EQ(w->stop, WalkResponse::SYMLINK);
    GoferHandle link = w->walked[0].handle;
    EXPECT_EQ(client_->Open(link, O_RDWR).error(), ELOOP);
    EXPECT_EQ(client_->Open(link, O_RDONLY).error(), ELOOP);
    SetStatFields size;
    size.size = 0;
    EXPECT_EQ(client_->SetStat(link, size).error(), EINVAL);
    SetStatFields mode;
    mode.mode = 0777;
    EXPECT_EQ(client_->SetStat(link, mode).error(), EOPNOTSUPP);
    // Times and owner change the link itself (AT_SYMLINK_NOFOLLOW).
    SetStatFields times;
    times.mtime = timespec{42, 0};
    auto st = client_->SetStat(link, times);
    ASSERT_TRUE(st.ok()) << st.error();
    EXPECT_TRUE(S_ISLNK(st->st_mode));
    EXPECT_EQ(client_->Fsync(link, false).error(), EINVAL);
    EXPECT_EQ(client_->Getdents(link, 0).error(), ENOTDIR);
    EXPECT_EQ(client_->Create(root_handle_, name, O_RDWR, 0600).error(), EEXIST);
  }
  // A symlink to a directory outside is not walked through.
  auto through = client_->Walk(root_handle_, {"dirlink", "secret"});
  ASSERT_TRUE(through.ok());
  EXPECT_EQ(through->stop, WalkResponse::SYMLINK);
  EXPECT_EQ(through->stop_index, 0u);
  GoferHandle dirlink = through->walked[0].handle;
  EXPECT_EQ(client_->Create(dirlink, "planted", O_RDWR, 0600).error(), ENOTDIR);
  EXPECT_EQ(client_->Mkdir(dirlink, "planted", 0700).error(), ENOTDIR);
  EXPECT_EQ(client_->Walk(dirlink, {"secret"}).ok() &&
                client_->Walk(dirlink, {"secret"})->stop == WalkResponse::DONE,
            false);

  struct stat host;
  ASSERT_EQ(stat((outside_ + "/secret").c_str(), &host), 0);
  EXPECT_EQ(host.st_mode & 0777, 0644u);
  EXPECT_NE(host.st_mtim.tv_sec, 42);
  EXPECT_EQ(ReadHostFile(outside_ + "/secret"), "SECRET");
  EXPECT_NE(lstat((outside_ + "/planted").c_str(), &host), 0);
}

TEST_F(GoferTest, DirectorySwappedForSymlinkAfterWalkStaysInside) {
  ASSERT_EQ(mkdir((root_ + "/d").c_str(), 0755), 0);
  WriteHostFile(root_ + "/d/f", "inside");
  WriteHostFile(outside_ + "/f", "OUTSIDE");
  Start();
  GoferHandle d = WalkAll({"d"});
  GoferHandle f = WalkAll({"d", "f"});
  // The sandbox (or anyone) swaps the directory for a symlink out.
  ASSERT_EQ(rename((root_ + "/d").c_str(), (root_ + "/d.old").c_str()), 0);
  ASSERT_EQ(symlink(outside_.c_str(), (root_ + "/d").c_str()), 0);

  // Held handles still mean the inodes that were walked.
  auto fd = client_->Open(f, O_RDONLY);
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(ReadFd(fd->get()), "inside");
  auto again = client_->Walk(d, {"f"});
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->stop, WalkResponse::DONE);
  auto fd2 = client_->Open(again->walked[0].handle, O_RDONLY);
  ASSERT_TRUE(fd2.ok());
  EXPECT_EQ(ReadFd(fd2->get()), "inside");
  ASSERT_TRUE(client_->Create(d, "new", O_RDWR, 0600).ok());
  EXPECT_EQ(ReadHostFile(root_ + "/d.old/new"), "");
  struct stat host;
  EXPECT_NE(lstat((outside_ + "/new").c_str(), &host), 0);
  // A new walk by name meets the symlink and stops there.
  auto fresh = client_->Walk(root_handle_, {"d", "f"});
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->stop, WalkResponse::SYMLINK);
  EXPECT_EQ(fresh->stop_index, 0u);
}

TEST_F(GoferTest, FileSwappedForSymlinkBetweenWalkAndOpen) {
  Start();
  GoferHandle f = WalkAll({"file.txt"});
  ASSERT_EQ(unlink((root_ + "/file.txt").c_str()), 0);
  ASSERT_EQ(symlink((outside_ + "/secret").c_str(), (root_ + "/file.txt").c_str()),
            0);
  auto fd = client_->Open(f, O_RDWR | O_TRUNC);
  ASSERT_TRUE(fd.ok()) << fd.error();
  ASSERT_EQ(write(fd->get(), "mine", 4), 4);
  SetStatFields size;
  size.size = 1;
  ASSERT_TRUE(client_->SetStat(f, size).ok());
  SetStatFields mode;
  mode.mode = 0600;
  ASSERT_TRUE(client_->SetStat(f, mode).ok());
  EXPECT_EQ(ReadHostFile(outside_ + "/secret"), "SECRET");
  struct stat host;
  ASSERT_EQ(stat((outside_ + "/secret").c_str(), &host), 0);
  EXPECT_EQ(host.st_mode & 0777, 0644u);
  // The writes went to the held inode, now nameless; linkat(2) will not
  // give a name back to an inode with no links (ENOENT).
  EXPECT_EQ(ReadFd(fd->get()), "m");
  EXPECT_EQ(client_->Link(f, root_handle_, "revived").error(), ENOENT);
}

// --- Hostile requests, sent raw on a channel of their own. ---

class HostileRequestTest : public GoferTest {
 protected:
  void SetUp() override {
    GoferTest::SetUp();
    Start();
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    raw_.reset(sv[0]);
    server_->AddChannel(UniqueFd(sv[1]));
  }

  // Sends raw bytes (with `fds` attached) and returns the response, or
  // nullopt when the channel closed instead.
  std::optional<Response> SendRaw(const std::string& bytes,
                                  const std::vector<int>& fds = {}) {
    iovec iov{.iov_base = const_cast<char*>(bytes.data()),
              .iov_len = bytes.size()};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 16)] = {};
    if (!fds.empty()) {
      mh.msg_control = control;
      mh.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* cm = CMSG_FIRSTHDR(&mh);
      cm->cmsg_level = SOL_SOCKET;
      cm->cmsg_type = SCM_RIGHTS;
      cm->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      memcpy(CMSG_DATA(cm), fds.data(), sizeof(int) * fds.size());
    }
    if (sendmsg(raw_.get(), &mh, MSG_NOSIGNAL) < 0) return std::nullopt;
    pollfd p{.fd = raw_.get(), .events = POLLIN, .revents = 0};
    if (poll(&p, 1, 5000) != 1) {
      ADD_FAILURE() << "no answer from the gofer";
      return std::nullopt;
    }
    auto got = ReceiveMessage(raw_.get());
    if (!got.ok() || got->eof) return std::nullopt;
    Response r;
    EXPECT_TRUE(r.ParseFromString(got->bytes));
    // An fd comes only when announced (and is closed with `got`).
    EXPECT_EQ(got->fds.size(), r.fd_attached() ? 1u : 0u);
    return r;
  }

  std::string Serialize(const Request& req) {
    std::string s;
    req.SerializeToString(&s);
    return s;
  }

  // The gofer still serves the well-behaved client.
  void ExpectStillServing() {
    auto w = client_->Walk(root_handle_, {"a", "b", "c.txt"});
    ASSERT_TRUE(w.ok()) << w.error();
    EXPECT_EQ(w->stop, WalkResponse::DONE);
    std::vector<GoferHandle> hs;
    for (const auto& h : w->walked) hs.push_back(h.handle);
    ASSERT_TRUE(client_->Close(hs).ok());
  }

  UniqueFd raw_;
};

TEST_F(HostileRequestTest, RandomBytes) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 300; ++i) {
    std::string bytes(1 + rng() % 200, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    // Random bytes may even parse as a request; any answer will do, as long
    // as there is one and the gofer lives.
    if (!SendRaw(bytes).has_value()) break;
  }
  ExpectStillServing();
}

// Valid requests of every kind with random bytes flipped, dropped or
// appended: whatever they decode to, the gofer answers and lives.
TEST_F(HostileRequestTest, MutatedValidRequests) {
  GoferHandle file = WalkAll({"a", "b", "c.txt"});
  std::vector<Request> seeds(6);
  seeds[0].mutable_walk()->set_dir(root_handle_);
  seeds[0].mutable_walk()->add_names("a");
  seeds[0].mutable_walk()->add_names("b");
  seeds[1].mutable_open()->set_handle(file);
  seeds[1].mutable_open()->set_flags(O_RDONLY);
  seeds[2].mutable_getdents()->set_dir(root_handle_);
  seeds[3].mutable_setstat()->set_handle(file);
  seeds[3].mutable_setstat()->mutable_atime()->set_nsec(UTIME_OMIT);
  seeds[4].mutable_readlink()->set_handle(file);
  seeds[5].mutable_statfs()->set_handle(root_handle_);
  std::mt19937 rng(99);
  for (int i = 0; i < 2000; ++i) {
    Request& seed = seeds[i % seeds.size()];
    seed.set_id(i);
    std::string bytes = Serialize(seed);
    switch (rng() % 3) {
      case 0:
        bytes[rng() % bytes.size()] ^= static_cast<char>(1 << (rng() % 8));
        break;
      case 1:
        bytes.erase(rng() % bytes.size(), 1);
        break;
      default:
        bytes.push_back(static_cast<char>(rng()));
    }
    if (bytes.empty()) continue;
    // Only an empty packet (a close) ends this channel early.
    if (!SendRaw(bytes).has_value()) break;
  }
  ExpectStillServing();
}

TEST_F(HostileRequestTest, TruncatedProtobuf) {
  Request req;
  req.set_id(7);
  req.mutable_walk()->set_dir(1);
  req.mutable_walk()->add_names(std::string(100, 'q'));
  std::string bytes = Serialize(req);
  auto r = SendRaw(bytes.substr(0, bytes.size() - 10));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error(), EINVAL);
  ExpectStillServing();
}

TEST_F(HostileRequestTest, UnknownHandlesAndWrongTypes) {
  Request req;
  req.set_id(1);
  req.mutable_stat()->set_handle(0xdeadbeef);
  auto r = SendRaw(Serialize(req));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id(), 1u);
  EXPECT_EQ(r->error(), EBADF);

  // A file handle where a directory is needed.
  GoferHandle file = WalkAll({"file.txt"});
  Request mk;
  mk.set_id(2);
  mk.mutable_mkdir()->set_dir(file);
  mk.mutable_mkdir()->set_name("x");
  r = SendRaw(Serialize(mk));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error(), ENOTDIR);

  Request none;  // No operation at all.
  none.set_id(3);
  r = SendRaw(Serialize(none));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error(), ENOSYS);
  ExpectStillServing();
}

TEST_F(HostileRequestTest, HugeCountsAndOversizedMessages) {
  Request many;
  many.set_id(1);
  many.mutable_walk()->set_dir(root_handle_);
  for (int i = 0; i < 12000; ++i) many.mutable_walk()->add_names("zz");
  auto r = SendRaw(Serialize(many));  // Fits; stops at the first (missing).
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error(), 0);
  EXPECT_EQ(r->walk().stop(), WalkResponse::MISSING);

  auto big = SendRaw(std::string(kMaxMessageSize + 100, 'x'));
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(big->error(), EMSGSIZE);

  Request dents;
  dents.set_id(3);
  dents.mutable_getdents()->set_dir(root_handle_);
  dents.mutable_getdents()->set_max_entries(0xffffffffu);
  dents.mutable_getdents()->set_offset(-5);
  r = SendRaw(Serialize(dents));
  ASSERT_TRUE(r.has_value());  // EINVAL from lseek, or entries: either way.

  Request close;
  close.set_id(4);
  for (uint64_t h = 1000000; h < 1005000; ++h)
    close.mutable_close()->add_handles(h);
  r = SendRaw(Serialize(close));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error(), 0);
  ExpectStillServing();
}

TEST_F(HostileRequestTest, FdsInRequestsAreRefusedAndClosed) {
  Request req;
  req.set_id(9);
  req.mutable_attach();
  for (size_t count : {1u, 3u, 12u}) {
    SCOPED_TRACE(count);
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    std::vector<int> fds(count, p[1]);
    auto r = SendRaw(Serialize(req), fds);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->error(), EINVAL);
    close(p[1]);
    // Every copy the gofer received is closed: the pipe reads EOF.
    pollfd pf{.fd = p[0], .events = POLLIN, .revents = 0};
    EXPECT_EQ(poll(&pf, 1, 2000), 1);
    char c;
    EXPECT_EQ(read(p[0], &c, 1), 0);
    close(p[0]);
  }
  ExpectStillServing();
}

TEST_F(HostileRequestTest, EmptyPacketClosesOnlyThatChannel) {
  EXPECT_FALSE(SendRaw("").has_value());
  ExpectStillServing();
}

// --- A hostile gofer: the client must drop what it did not ask for. ---

class FakeGofer {
 public:
  // Answers each request with what `answer` builds.
  template <typename F>
  explicit FakeGofer(UniqueFd sock, F answer)
      : sock_(std::move(sock)), thread_([this, answer] {
          for (;;) {
            auto got = ReceiveMessage(sock_.get());
            if (!got.ok() || got->eof) return;
            Request req;
            req.ParseFromString(got->bytes);
            answer(sock_.get(), req);
          }
        }) {}
  ~FakeGofer() {
    shutdown(sock_.get(), SHUT_RDWR);
    thread_.join();
  }

 private:
  UniqueFd sock_;
  std::thread thread_;
};

TEST(GoferClientTest, UnexpectedFdsAreClosedAndTheChannelDropped) {
  std::vector<UniqueFd> client_ends, server_ends;
  MakeChannels(2, &client_ends, &server_ends);
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  UniqueFd read_end(p[0]);
  UniqueFd write_end(p[1]);
  auto answer = [&](int sock, const Request& req) {
    Response r;
    r.set_id(req.id());
    r.mutable_stat();
    r.set_fd_attached(true);  // Stat never donates an fd.
    SendMessage(sock, r, write_end.get());
  };
  auto f0 = std::make_unique<FakeGofer>(std::move(server_ends[0]), answer);
  auto f1 = std::make_unique<FakeGofer>(std::move(server_ends[1]), answer);
  GoferClient client(std::move(client_ends), absl::Seconds(5));
  EXPECT_EQ(client.Stat(1).error(), EIO);
  EXPECT_EQ(client.live_channels(), 1u);
  EXPECT_EQ(client.Stat(1).error(), EIO);
  EXPECT_EQ(client.live_channels(), 0u);
  EXPECT_EQ(client.Stat(1).error(), EIO);  // Nothing left: EIO at once.
  f0.reset();
  f1.reset();
  write_end.reset();
  // No copy of the write end survives in the client.
  char c;
  EXPECT_EQ(read(read_end.get(), &c, 1), 0);
}

TEST(GoferClientTest, MalformedResponsesGiveEio) {
  std::vector<UniqueFd> client_ends, server_ends;
  MakeChannels(3, &client_ends, &server_ends);
  std::vector<std::unique_ptr<FakeGofer>> fakes;
  // Garbage.
  fakes.push_back(std::make_unique<FakeGofer>(
      std::move(server_ends[0]), [](int sock, const Request&) {
        send(sock, "\xff\xff\xff", 3, MSG_NOSIGNAL);
      }));
  // The wrong request id.
  fakes.push_back(std::make_unique<FakeGofer>(
      std::move(server_ends[1]), [](int sock, const Request& req) {
        Response r;
        r.set_id(req.id() + 1);
        r.mutable_stat();
        SendMessage(sock, r, -1);
      }));
  // An errno that is no errno, then the wrong result type.
  fakes.push_back(std::make_unique<FakeGofer>(
      std::move(server_ends[2]), [](int sock, const Request& req) {
        Response r;
        r.set_id(req.id());
        if (req.id() == 1) {
          r.set_error(-5);
        } else {
          r.mutable_readlink();
        }
        SendMessage(sock, r, -1);
      }));
  GoferClient client(std::move(client_ends), absl::Seconds(5));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(client.Stat(1).error(), EIO);
}

}  // namespace
}  // namespace moat::gofer::testing
