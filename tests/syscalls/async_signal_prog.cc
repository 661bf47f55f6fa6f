// Waits in a blocking syscall for a signal sent from outside (the runner
// signals `moat do`, which forwards it to the program) and prints what the
// syscall returned. Used by tests/integration/test_signals.py until the
// sandbox has kill(2) and timers to raise signals from inside. argv[1]:
//   eintr      SIGUSR1 handler without SA_RESTART; nanosleep(3 s) -> EINTR
//              with the time left
//   restart    no handler; SIGCONT (default: continue) interrupts a 1.5 s
//              nanosleep, which restart_syscall resumes to the same deadline
//   sarestart  SIGUSR1 handler with SA_RESTART; read() on stdin restarts
//   suspend    SIGUSR1 blocked; sigsuspend(empty) runs the handler, returns
//              EINTR and restores the mask
//   timedwait  SIGUSR1 blocked; sigtimedwait returns it with SI_USER
// Prints "ready" just before blocking.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace {

volatile sig_atomic_t g_got;
void Handler(int sig) { g_got = sig; }

void Ready() {
  fputs("ready\n", stdout);
  fflush(stdout);
}

long Millis(const timespec& a, const timespec& b) {
  return (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const char* mode = argv[1];
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = Handler;
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  if (strcmp(mode, "eintr") == 0) {
    sigaction(SIGUSR1, &sa, nullptr);
    timespec req = {3, 0}, rem = {0, 0};
    Ready();
    long r = syscall(SYS_nanosleep, &req, &rem);
    printf("ret=%ld errno=%d got=%d rem_ok=%d\n", r, r ? errno : 0, g_got,
           rem.tv_sec < 3 && (rem.tv_sec > 0 || rem.tv_nsec > 0));
  } else if (strcmp(mode, "restart") == 0) {
    timespec t0, t1, req = {1, 500000000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    Ready();
    long r = syscall(SYS_nanosleep, &req, nullptr);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = Millis(t0, t1);
    printf("ret=%ld full_sleep=%d\n", r, ms >= 1490 && ms < 2500);
  } else if (strcmp(mode, "sarestart") == 0) {
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, nullptr);
    char c = 0;
    Ready();
    long r = read(0, &c, 1);
    printf("ret=%ld got=%d byte=%d\n", r, g_got, c);
  } else if (strcmp(mode, "suspend") == 0) {
    sigaction(SIGUSR1, &sa, nullptr);
    sigprocmask(SIG_BLOCK, &usr1, nullptr);
    sigset_t none;
    sigemptyset(&none);
    Ready();
    int r = sigsuspend(&none);
    int err = errno;
    sigset_t now;
    sigprocmask(SIG_BLOCK, nullptr, &now);
    printf("ret=%d errno=%d got=%d blocked_after=%d\n", r, err, g_got,
           sigismember(&now, SIGUSR1));
  } else if (strcmp(mode, "timedwait") == 0) {
    sigprocmask(SIG_BLOCK, &usr1, nullptr);
    timespec ts = {5, 0};
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    Ready();
    int r = sigtimedwait(&usr1, &si, &ts);
    printf("ret=%d code=%d\n", r, si.si_code);
  } else {
    return 2;
  }
  return 0;
}
