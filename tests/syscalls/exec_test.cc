// execve / execveat: a small embedded program (exec_helper.c) is written
// into /tmp and run, directly, through "#!" scripts, from vfork and from a
// second thread; the errors for things that cannot be run; close-on-exec.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "exec_helper_bytes.h"
#include "gtest/gtest.h"
#include "temp_dir.h"

namespace {

using moat_test::TempDir;

struct Outcome {
  int status = -1;     // waitpid status.
  std::string output;  // What the child wrote to stdout.
};

bool WriteFile(const std::string& path, const void* data, size_t len, mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return false;
  bool ok = write(fd, data, len) == static_cast<ssize_t>(len);
  close(fd);
  return ok && chmod(path.c_str(), mode) == 0;
}

bool WriteText(const std::string& path, const std::string& text, mode_t mode) {
  return WriteFile(path, text.data(), text.size(), mode);
}

std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Runs `exec` in a forked child with stdout on a pipe. If exec returns, the
// child prints "errno=N" and exits 127.
template <typename Fn>
Outcome RunChild(Fn exec) {
  Outcome out;
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return out;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], 1);
    exec();
    std::string msg = "errno=" + std::to_string(errno) + "\n";
    (void)!write(1, msg.data(), msg.size());
    _exit(127);
  }
  close(p[1]);
  char buf[4096];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof(buf))) > 0) out.output.append(buf, n);
  close(p[0]);
  waitpid(pid, &out.status, 0);
  return out;
}

Outcome RunExecve(const std::string& path, std::vector<std::string> argv,
                  std::vector<std::string> envp = {}) {
  return RunChild([&] {
    auto a = CStrings(argv);
    auto e = CStrings(envp);
    execve(path.c_str(), a.data(), e.data());
  });
}

int ExitCode(const Outcome& o) {
  return WIFEXITED(o.status) ? WEXITSTATUS(o.status) : -1;
}

class ExecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    helper_ = dir_ / "helper";
    ASSERT_TRUE(WriteFile(helper_, kExecHelper, kExecHelper_len, 0755));
  }

  TempDir dir_;
  std::string helper_;
};

TEST_F(ExecTest, RunsProgramWithArgvEnvpAndExitStatus) {
  Outcome o = RunExecve(helper_, {"helper", "one", "two words", "exit=7"},
                        {"A=1", "MOAT_EXEC_TEST=hello", "B=2"});
  EXPECT_EQ(ExitCode(o), 7) << o.output;
  EXPECT_EQ(o.output,
            "argv[0]=helper\nargv[1]=one\nargv[2]=two words\nargv[3]=exit=7\n"
            "env=hello\nexecfn=" + helper_ + "\n");
}

TEST_F(ExecTest, EmptyArgvGetsAnEmptyArgvZero) {
  Outcome o = RunChild([&] {
    char* envp[] = {nullptr};
    // Raw syscall: glibc declares argv non-null.
    syscall(SYS_execve, helper_.c_str(), nullptr, envp);
  });
  EXPECT_EQ(ExitCode(o), 0) << o.output;
  // Linux 5.18+ passes { "" } for an empty argv.
  EXPECT_EQ(o.output.rfind("argv[0]=\n", 0), 0u) << o.output;
}

TEST_F(ExecTest, ScriptRunsInterpreterWithRewrittenArgv) {
  std::string script = dir_ / "script";
  ASSERT_TRUE(WriteText(script, "#!" + helper_ + "  -x  \nignored\n", 0755));
  Outcome o = RunExecve(script, {"whatever", "a", "exit=3"});
  EXPECT_EQ(ExitCode(o), 3) << o.output;
  EXPECT_EQ(o.output, "argv[0]=" + helper_ + "\nargv[1]=-x\nargv[2]=" + script +
                          "\nargv[3]=a\nargv[4]=exit=3\nexecfn=" + script + "\n");
}

TEST_F(ExecTest, ScriptArgumentKeepsInnerSpaces) {
  std::string script = dir_ / "script";
  ASSERT_TRUE(WriteText(script, "#! " + helper_ + " exit=4 more\n", 0755));
  Outcome o = RunExecve(script, {"s"});
  EXPECT_EQ(ExitCode(o), 4) << o.output;  // "exit=4 more" is one argument.
  EXPECT_NE(o.output.find("argv[1]=exit=4 more\n"), std::string::npos) << o.output;
}

TEST_F(ExecTest, NestedScriptsUpToTheLimit) {
  // Five scripts, each run by the next, then the helper: allowed.
  std::string prev = helper_;
  for (int i = 0; i < 5; ++i) {
    std::string s = dir_ / ("s" + std::to_string(i));
    ASSERT_TRUE(WriteText(s, "#!" + prev + "\n", 0755));
    prev = s;
  }
  Outcome o = RunExecve(prev, {"top", "exit=9"});
  EXPECT_EQ(ExitCode(o), 9) << o.output;
  // One more level is ELOOP.
  std::string too_deep = dir_ / "s5";
  ASSERT_TRUE(WriteText(too_deep, "#!" + prev + "\n", 0755));
  o = RunExecve(too_deep, {"top"});
  EXPECT_EQ(o.output, "errno=" + std::to_string(ELOOP) + "\n");
}

TEST_F(ExecTest, ScriptWithMissingInterpreterIsEnoent) {
  std::string script = dir_ / "script";
  ASSERT_TRUE(WriteText(script, "#!" + dir_.path() + "/nope\n", 0755));
  Outcome o = RunExecve(script, {"s"});
  EXPECT_EQ(o.output, "errno=" + std::to_string(ENOENT) + "\n");
}

TEST_F(ExecTest, GarbageAndEmptyFilesAreEnoexec) {
  std::string garbage = dir_ / "garbage";
  ASSERT_TRUE(WriteText(garbage, "this is not a program\n", 0755));
  errno = 0;
  char* argv[] = {const_cast<char*>("x"), nullptr};
  EXPECT_EQ(execve(garbage.c_str(), argv, nullptr), -1);
  EXPECT_EQ(errno, ENOEXEC);
  std::string empty = dir_ / "empty";
  ASSERT_TRUE(WriteText(empty, "", 0755));
  EXPECT_EQ(execve(empty.c_str(), argv, nullptr), -1);
  EXPECT_EQ(errno, ENOEXEC);
  // A truncated ELF header.
  std::string truncated = dir_ / "truncated";
  ASSERT_TRUE(WriteFile(truncated, kExecHelper, 40, 0755));
  EXPECT_EQ(execve(truncated.c_str(), argv, nullptr), -1);
  EXPECT_EQ(errno, ENOEXEC);
}

TEST_F(ExecTest, UnrunnableFilesFailAndLeaveTheCallerIntact) {
  char* argv[] = {const_cast<char*>("x"), nullptr};
  std::string plain = dir_ / "plain";
  ASSERT_TRUE(WriteFile(plain, kExecHelper, kExecHelper_len, 0644));
  EXPECT_EQ(execve(plain.c_str(), argv, nullptr), -1);
  EXPECT_EQ(errno, EACCES);
  EXPECT_EQ(execve(dir_.path().c_str(), argv, nullptr), -1);
  EXPECT_EQ(errno, EACCES);
  EXPECT_EQ(execve((dir_ / "missing").c_str(), argv, nullptr), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(execve((helper_ + "/x").c_str(), argv, nullptr), -1);
  EXPECT_EQ(errno, ENOTDIR);
  EXPECT_EQ(execve(helper_.c_str(), reinterpret_cast<char**>(8), nullptr), -1);
  EXPECT_EQ(errno, EFAULT);
  char* bad_env[] = {reinterpret_cast<char*>(8), nullptr};
  EXPECT_EQ(execve(helper_.c_str(), argv, bad_env), -1);
  EXPECT_EQ(errno, EFAULT);
  EXPECT_EQ(syscall(SYS_execve, reinterpret_cast<char*>(8), argv, nullptr), -1);
  EXPECT_EQ(errno, EFAULT);
  std::string huge(33 * 4096, 'x');  // Longer than MAX_ARG_STRLEN.
  char* big_argv[] = {huge.data(), nullptr};
  EXPECT_EQ(execve(helper_.c_str(), big_argv, nullptr), -1);
  EXPECT_EQ(errno, E2BIG);
  // Still here, memory and all.
  EXPECT_EQ(huge.size(), 33u * 4096);
}

TEST_F(ExecTest, CloseOnExecFdsAreClosed) {
  int keep = open(helper_.c_str(), O_RDONLY);
  int drop = open(helper_.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(keep, 0);
  ASSERT_GE(drop, 0);
  Outcome o = RunExecve(helper_, {"h", "fd=" + std::to_string(keep),
                                  "fd=" + std::to_string(drop)});
  close(keep);
  close(drop);
  EXPECT_EQ(ExitCode(o), 0) << o.output;
  EXPECT_NE(o.output.find("fd " + std::to_string(keep) + " open\n"), std::string::npos)
      << o.output;
  EXPECT_NE(o.output.find("fd " + std::to_string(drop) + " closed\n"), std::string::npos)
      << o.output;
}

TEST_F(ExecTest, ExecveatWithEmptyPathRunsTheFd) {
  Outcome o = RunChild([&] {
    int fd = open(helper_.c_str(), O_RDONLY);
    char* argv[] = {const_cast<char*>("at"), const_cast<char*>("exit=11"), nullptr};
    char* envp[] = {nullptr};
    syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
  });
  EXPECT_EQ(ExitCode(o), 11) << o.output;
}

TEST_F(ExecTest, ExecveatRelativeToDirfd) {
  Outcome o = RunChild([&] {
    int dfd = open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY);
    char* argv[] = {const_cast<char*>("at"), const_cast<char*>("exit=12"), nullptr};
    char* envp[] = {nullptr};
    syscall(SYS_execveat, dfd, "helper", argv, envp, 0);
  });
  EXPECT_EQ(ExitCode(o), 12) << o.output;
  std::string link = dir_ / "link";
  ASSERT_EQ(symlink(helper_.c_str(), link.c_str()), 0);
  char* argv[] = {const_cast<char*>("x"), nullptr};
  EXPECT_EQ(syscall(SYS_execveat, AT_FDCWD, link.c_str(), argv, nullptr,
                    AT_SYMLINK_NOFOLLOW),
            -1);
  EXPECT_EQ(errno, ELOOP);
  EXPECT_EQ(syscall(SYS_execveat, AT_FDCWD, link.c_str(), argv, nullptr, 0x4), -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST_F(ExecTest, VforkParentResumesWhenTheChildExecs) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  std::string arg = "exit=21";
  char* argv[] = {const_cast<char*>("v"), arg.data(), nullptr};
  char* envp[] = {nullptr};
  const char* path = helper_.c_str();
  pid_t pid = vfork();
  if (pid == 0) {
    dup2(p[1], 1);
    execve(path, argv, envp);
    _exit(127);
  }
  ASSERT_GT(pid, 0);
  close(p[1]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 21);
  close(p[0]);
}

struct ThreadExecArgs {
  const char* path;
};

void* ExecFromThread(void* arg) {
  auto* a = static_cast<ThreadExecArgs*>(arg);
  char* argv[] = {const_cast<char*>("t"), const_cast<char*>("exit=33"), nullptr};
  char* envp[] = {nullptr};
  execve(a->path, argv, envp);
  _exit(127);
}

TEST_F(ExecTest, ExecFromASecondThreadReplacesTheWholeProcess) {
  pid_t pid = fork();
  if (pid == 0) {
    ThreadExecArgs args{helper_.c_str()};
    pthread_t th;
    if (pthread_create(&th, nullptr, ExecFromThread, &args) != 0) _exit(126);
    // The main thread blocks; the exec kills it (de_thread).
    while (true) pause();
  }
  ASSERT_GT(pid, 0);
  int status = 0;
  // The process keeps its pid across the exec of a non-leader thread.
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 33);
}

}  // namespace
